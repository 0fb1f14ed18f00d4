"""Every notebook runs top to bottom on its smoke parameters: a random 2-layer model and tiny
data in every input format the notebooks take (bitext TSV, BEIR with train qrels, MIRACL
folders, Multi30k caption files), in a kernel whose $OPTICAL_HOME is this test's."""

from __future__ import annotations

import json
import random
from pathlib import Path

import nbformat
import pytest

from optical.analysis.notebook import execute_notebook, inject_parameters, strip_outputs
from optical.results import ResultsStore
from tests.helpers import WORDS
from tests.train_fixtures import write_tiny_beir, write_tiny_bitext

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
NAMES = [
    "01_quickstart",
    "02_ot_vs_ce_low_resource",
    "03_alignment_metrics",
    "04_domain_shift",
    "05_language_variance",
    "06_scaling",
]


def _sentences(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 8))) for _ in range(n)]


def write_labelled_beir(path: Path, n: int = 24) -> Path:
    """A tiny BEIR folder with ``qrels/train.tsv`` (every query judged)."""
    from optical.data.beir import write_beir
    from optical.data.types import Document, RetrievalCollection

    write_tiny_beir(path, n=n, seed=5)
    docs = [json.loads(line) for line in (path / "corpus.jsonl").read_text().splitlines()]
    queries = [json.loads(line) for line in (path / "queries.jsonl").read_text().splitlines()]
    col = RetrievalCollection(
        {d["_id"]: Document(d["_id"], d["text"]) for d in docs},
        {q["_id"]: q["text"] for q in queries},
        {f"q{i}": {f"d{i}": 1} for i in range(n)},
    )
    write_beir(col, path, split="train")
    return path


def write_miracl(root: Path, n: int = 12, seed: int = 0) -> Path:
    """A MIRACL-layout language folder (topics/qrels of ``dev``, one corpus shard)."""
    root.mkdir(parents=True)
    docs = _sentences(n, seed)
    (root / "docs-0.jsonl").write_text(
        "".join(
            json.dumps({"docid": f"{i}#0", "title": "", "text": t}) + "\n"
            for i, t in enumerate(docs)
        ),
        "utf-8",
    )
    (root / "topics.dev.tsv").write_text(
        "".join(f"{i}\t{' '.join(reversed(t.split()))}\n" for i, t in enumerate(docs)), "utf-8"
    )
    (root / "qrels.dev.tsv").write_text("".join(f"{i}\tQ0\t{i}#0\t1\n" for i in range(n)), "utf-8")
    return root


@pytest.fixture
def world(tmp_path, tiny_model_dir) -> dict:
    """Tiny inputs of every kind, under ``tmp_path`` (which is also the kernels' project root)."""
    data = tmp_path / "data"
    captions = data / "captions"
    captions.mkdir(parents=True)
    en = _sentences(16, 3)
    (captions / "test.en").write_text("\n".join(en) + "\n", "utf-8")
    (captions / "test.sw").write_text(
        "\n".join(" ".join(reversed(s.split())) for s in en) + "\n", "utf-8"
    )
    (captions / "test.de").write_text("\n".join(s.upper() for s in en) + "\n", "utf-8")
    return {
        "root": tmp_path,
        "model": str(tiny_model_dir),
        "bitext": str(write_tiny_bitext(data / "sw.tsv")),
        "bitext_de": str(write_tiny_bitext(data / "de.tsv", seed=2)),
        "eval": [
            str(write_tiny_beir(data / "beir" / "sw")),
            str(write_tiny_beir(data / "beir" / "de", seed=4)),
        ],
        "labelled": str(write_labelled_beir(data / "labelled")),
        "indomain": str(write_tiny_beir(data / "indomain" / "sw", seed=6)),
        "shifted": str(write_tiny_beir(data / "shifted" / "sw", seed=7)),
        "miracl": [
            str(write_miracl(data / "miracl" / "miracl-v1.0-sw")),
            str(write_miracl(data / "miracl" / "miracl-v1.0-de", seed=1)),
        ],
        "captions": {lang: str(captions / f"test.{lang}") for lang in ("en", "sw", "de")},
    }


def _parameters(name: str, w: dict) -> dict:
    common = {"SMOKE": True, "ROOT": str(w["root"]), "STORE": str(w["root"] / "results.jsonl")}
    spec = {
        n: str(REPO / "configs" / "sweeps" / f"{n}.toml")
        for n in (
            "rq1_ot_vs_ce",
            "rq2_alignment",
            "rq3_domain_shift",
            "rq4_variance",
            "rq5_scaling",
        )
    }
    return (
        common
        | {
            "01_quickstart": {
                "CONFIG": str(REPO / "configs" / "optical_sw.toml"),
                "EVAL": w["eval"],
                "BASELINE": w["model"],
                "RUN_DIR": "runs/nb01/optical-sw",
                "OVERRIDES": {"model.teacher": w["model"], "data.train": w["bitext"]},
            },
            "02_ot_vs_ce_low_resource": {
                "SPEC": spec["rq1_ot_vs_ce"],
                "TEACHER": w["model"],
                "BITEXT": w["bitext"],
                "LABELLED": w["labelled"],
                "EVAL": w["eval"][:1],
            },
            "03_alignment_metrics": {
                "SPEC": spec["rq2_alignment"],
                "TEACHER": w["model"],
                "TRAIN": w["bitext"],
                "EVAL": w["eval"][:1],
                "PARALLEL": {"sw": w["bitext"], "de": w["bitext_de"]},
                "PLAN_LANGUAGE": "sw",
            },
            "04_domain_shift": {
                "SPEC": spec["rq3_domain_shift"],
                "TEACHER": w["model"],
                "TRAIN": w["bitext"],
                "LABELLED": w["labelled"],
                "EVAL": [w["indomain"], w["shifted"]],
                "IN_DOMAIN": "indomain",
            },
            "05_language_variance": {
                "SPEC": spec["rq4_variance"],
                "TEACHER": w["model"],
                "TRAIN": w["bitext"],
                "EXTRA_TRAIN": [w["bitext_de"]],
                "MIRACL_DIRS": w["miracl"],
            },
            "06_scaling": {
                "SPEC": spec["rq5_scaling"],
                "TEACHER": w["model"],
                "TRAIN": w["bitext"],
                "CAPTION_FILES": w["captions"],
            },
        }[name]
    )


def _outputs(nb) -> tuple[str, list[dict]]:
    """All text output of an executed notebook, and its plotly figures."""
    texts, figures = [], []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            texts.append(out.get("text", ""))
            data = out.get("data", {})
            texts += [data.get("text/plain", ""), data.get("text/markdown", "")]
            if "application/vnd.plotly.v1+json" in data:
                figures.append(data["application/vnd.plotly.v1+json"])
    return "\n".join(t if isinstance(t, str) else "".join(t) for t in texts), figures


def _traces(figures: list[dict]) -> set[str]:
    return {t.get("type", "scatter") for f in figures for t in f.get("data", [])}


def test_committed_notebooks_are_clean_and_parameterised():
    for name in NAMES:
        path = NOTEBOOKS / f"{name}.ipynb"
        nb = nbformat.read(str(path), as_version=4)
        nbformat.validate(nb)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert "parameters" in code[0].metadata.get("tags", []), name
        assert "SMOKE = False" in code[0].source, name
        assert all(not c.get("outputs") and c.get("execution_count") is None for c in code), (
            f"{name} has outputs"
        )
        assert path.stat().st_size < 20_000, name


def test_inject_parameters_adds_or_replaces_one_cell():
    nb = nbformat.read(str(NOTEBOOKS / "01_quickstart.ipynb"), as_version=4)
    n = len(nb.cells)
    inject_parameters(nb, {"SMOKE": True, "EVAL": ["a"]})
    inject_parameters(nb, {"SMOKE": True, "EXAMPLE": 3})
    assert len(nb.cells) == n + 1
    injected = nb.cells[
        [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])][0] + 1
    ]
    assert injected.source.splitlines()[1:] == ["SMOKE = True", "EXAMPLE = 3"]
    namespace: dict = {}
    exec(injected.source, namespace)  # values are valid Python literals
    assert namespace["EXAMPLE"] == 3
    strip_outputs(nb)
    with pytest.raises(ValueError, match="no cell tagged 'parameters'"):
        inject_parameters(
            nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")]), {"x": 2}
        )


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs_on_smoke_parameters(name, world):
    nb = execute_notebook(
        NOTEBOOKS / f"{name}.ipynb", _parameters(name, world), cwd=world["root"], timeout=600
    )
    text, figures = _outputs(nb)
    rows = [r.to_dict() for r in ResultsStore(world["root"] / "results.jsonl").rows()]  # stored objects
    groups = {r["group"] for r in rows}
    systems = {r["system"] for r in rows}
    if name == "01_quickstart":
        assert groups == {"nb01-quickstart"} and systems == {"zero-shot", "optical-sw-s0"}
        assert len(rows) == 4 and (world["root"] / "runs/nb01/optical-sw/summary.json").is_file()
        assert "| zero-shot |" in text and "heatmap" in _traces(figures)
    elif name == "02_ot_vs_ce_low_resource":
        # (2 methods x 2 budgets + 1 baseline x 1 budget) x 2 models + 2 zero-shot systems
        assert len(rows) == 12 and "zero-shot@L1" in systems
        assert "ce@L1-labelled-max_pairs16" in systems and "infonce@L1-sw-max_pairs16" in systems
        assert "infonce@L1-sw-max_pairs8" not in systems
        # the L1 model is its own teacher (a truncated folder), not a truncated student
        l1 = [r["config"]["model"] for r in rows if r["system"].startswith("optical@L1")]
        assert l1 and all(m["teacher"].endswith("runs/models/model-L1") for m in l1)
        assert all(m["truncate_layers"] is None for m in l1)
        assert {r["config"]["data"]["max_pairs"] for r in rows if r["config"]} == {8, 16}
        assert {r.get("model") for r in rows if r["system"].startswith("zero-shot")} == {
            "full",
            "L1",
        }
        assert "OPTICAL significantly better than cross-entropy in" in text
    elif name == "03_alignment_metrics":
        emb = [r for r in rows if r.get("task") == "embedding"]
        assert len(emb) == 4 * 2 and {r["language"] for r in emb} == {"sw", "de"}
        assert all(
            0 <= r["metrics"]["mining_acc"] <= 1 and len(r["per_query"]["mining_acc"]) == 20
            for r in emb
        )
        assert "heatmap" in _traces(figures) and "alignment change vs zero-shot" in text
    elif name == "04_domain_shift":
        f1 = [r for r in rows if r.get("task") == "threshold"]
        assert len(f1) == 4 * 2 and all(0 <= r["metrics"]["F1"] <= 1 for r in f1)
        assert "best F1 in domain" in text and "shifted" in text
    elif name == "05_language_variance":
        assert {r["dataset"].split("/")[-1] for r in rows} == {"sw", "de"} and {
            r["split"] for r in rows
        } == {"dev"}
        assert len(rows) == (1 + 2 * 2) * 2 and "(2 seeds)" in text
    elif name == "06_scaling":
        assert systems == {"zero-shot", "zero-shot@L1", "optical@L1-sw", "optical@full-sw"}
        assert len(rows) == 4 * 2 and "high−low R@1 (rel=2) gap" in text, text[-2000:]
