"""The bad-input battery of issue 11: every surface (CLI, library, app) refuses bad input with
one clear message, or behaves as documented; never a traceback, never a silent wrong result.

Each case is one row of a table: ``(owner, surface, name, call, expectation)``.

- ``cli`` cases run ``optical.cli.main(argv)`` in-process. A refusal must return a
  non-zero status (argparse's own ``SystemExit(2)`` counts), print no traceback, and
  print one or two lines besides argparse's usage block; one of them is the
  ``error:`` line, it matches the case's pattern and names the bad input. A refusal
  writes nothing first: an ``--out``/``--html`` target that did not exist still does
  not, and ``builds_nothing`` cases leave the private cache empty.
- ``lib`` cases call a library function: a refusal is a ``ValueError`` (or the listed
  exception, e.g. ``FileNotFoundError`` for a missing file) whose message matches.
- ``app`` cases drive the Streamlit pages through ``AppTest``: the page shows the
  message (``st.error``/``st.warning``) and raises nothing.
- ``Doc`` expectations are documented behaviours (``Doc.what`` says which); the check
  asserts that behaviour (for the CLI it gets ``(rc, stdout, stderr)``).
- Every case runs under a 40 s alarm: a refusal that first does long work fails.

Expectations are the contract of the issue, not a description of today's code. Owners
(the slice of issue 11 that fixes a failing row) are the first field: A retrieval/search,
B cache and index integrity, C config/overrides/sweeps, D measures/evaluate/compare/models/
devices/CLI, E sinkhorn/losses/alignment/app services, L data loaders, results store and
anything else (the lead). Everything runs in-process on tiny random models and tiny files
in a private cache: no bundled model is ever loaded.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

# ------------------------------------------------------------------ expectations


@dataclass(frozen=True)
class Err:
    """A clear refusal: ``types`` raised (library) / a non-zero exit (CLI), message ~ ``pattern``.

    ``names``: text the message must contain (the bad input), for CLI cases; ``{key}``
    placeholders are filled from the world (``a|b``: either).
    """

    pattern: str
    names: str | None = None
    types: tuple[type[BaseException], ...] = (ValueError,)
    builds_nothing: bool = False  # CLI: refused before any work (the private cache stays empty)


@dataclass(frozen=True)
class Doc:
    """A documented behaviour: ``check(result, world)`` asserts it (``what`` says which)."""

    what: str
    check: Callable[[Any, dict], None] = field(compare=False)


@dataclass(frozen=True)
class Case:
    owner: str
    surface: str  # "cli", "lib" or "app"
    name: str
    call: Any  # argv (tuple of str, with {placeholders}) or a callable(world)
    expect: Err | Doc
    around: Callable[[dict], Any] | None = None  # world -> context manager the call runs in


CASE_SECONDS = 40  # a case that takes longer is a failure (it did work it should refuse)


# ------------------------------------------------------------------------ the world


def _write(path: Path, data: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data, encoding="utf-8")
    return path


def _beir_variant(src: Path, dst: Path, edit: Callable[[Path], None]) -> Path:
    shutil.copytree(src, dst)
    edit(dst)
    return dst


def _replace_line(path: Path, index: int, line: str) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[index] = line
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _echo_beir(path: Path) -> Path:
    """A BEIR folder whose queries are the exact texts of their one relevant document,
    judged with grade 1 (binary relevance, as BEIR's own qrels)."""
    from optical.data.beir import write_beir
    from optical.data.types import Document, RetrievalCollection
    from tests.helpers import WORDS

    docs = {f"d{i}": " ".join(WORDS[(i * 7 + j) % len(WORDS)] for j in range(3 + i % 5))
            for i in range(16)}  # fmt: skip
    assert len(set(docs.values())) == len(docs)
    corpus = {k: Document(k, v) for k, v in docs.items()}
    queries = {f"q{i}": docs[f"d{i}"] for i in range(16)}
    for split in ("test", "dev"):
        qrels = {f"q{i}": {f"d{i}": 1} for i in range(16)}
        write_beir(RetrievalCollection(corpus, queries, qrels, name="echo"), path, split=split)
    return path


def _spec(runs: Path, body: str) -> str:
    return f'[sweep]\nruns_dir = "{runs}"\n' + body


@pytest.fixture(scope="module")
def world(tmp_path_factory, tiny_model_dir) -> dict:
    """Tiny files and folders every case may refer to as ``{name}``."""
    from tests.train_fixtures import write_tiny_beir, write_tiny_bitext

    root = tmp_path_factory.mktemp("battery")
    w: dict[str, Any] = {"tmp": root, "model": tiny_model_dir}
    beir = write_tiny_beir(root / "beir")
    w["beir"] = beir
    w["qrels"] = beir / "qrels" / "test.tsv"
    w["bitext"] = write_tiny_bitext(root / "bitext.tsv")
    w["missing"] = root / "does-not-exist.tsv"
    w["adir"] = root / "a-folder"
    w["adir"].mkdir()
    w["empty"] = _write(root / "empty.tsv", "")
    w["binary"] = _write(root / "binary.bin", bytes(range(256)) * 8)
    w["latin1"] = _write(root / "latin1.tsv", "q0\tQ0\td0\t1\t1.0\tcaf\xe9\n".encode("latin-1"))
    # TREC runs and qrels
    run_lines = [f"q{i} Q0 d{i} 1 {1.0 - i / 100:.3f} tiny" for i in range(0, 24, 2)]
    w["run"] = _write(root / "good.run", "\n".join(run_lines) + "\n")
    w["run2"] = _write(root / "other.run", "\n".join(reversed(run_lines)) + "\n")
    w["run_cols"] = _write(root / "cols.run", "q0 Q0 d0 1 0.5\n")
    w["run_score"] = _write(root / "score.run", "q0 Q0 d0 1 high tiny\n")
    w["run_nan"] = _write(root / "nan.run", "q0 Q0 d0 1 nan tiny\nq2 Q0 d2 1 0.5 tiny\n")
    w["run_dup"] = _write(root / "dup.run", "q0 Q0 d0 1 0.5 tiny\nq0 Q0 d0 2 0.4 tiny\n")
    w["qrels_cols"] = _write(root / "cols.qrels", "q0 0 d0\n")
    w["qrels_grade"] = _write(root / "grade.qrels", "q0 0 d0 x\n")
    # BEIR folders, each broken in one way
    w["beir_json"] = _beir_variant(
        beir, root / "beir_json", lambda d: _replace_line(d / "corpus.jsonl", 1, "{not json")
    )
    w["beir_noid"] = _beir_variant(
        beir, root / "beir_noid", lambda d: _replace_line(d / "corpus.jsonl", 1, '{"text": "x"}')
    )
    w["beir_grade"] = _beir_variant(
        beir, root / "beir_grade", lambda d: _replace_line(d / "qrels" / "test.tsv", 1, "q0\td0\tx")
    )
    w["beir_noqrels"] = _beir_variant(
        beir, root / "beir_noqrels", lambda d: (d / "qrels" / "test.tsv").unlink()
    )
    w["beir_noqueries"] = _beir_variant(
        beir, root / "beir_noqueries", lambda d: (d / "queries.jsonl").unlink()
    )
    w["beir_echo"] = _echo_beir(root / "beir_echo")
    # bitext
    w["bitext_cols"] = _write(root / "cols_bitext.tsv", "id\tsrc\ttgt\np0\tonly one column\n")
    # sweep specs and distill configs
    runs = root / "sweep-runs"
    specs = {
        "spec_eval_str": 'eval = "bible:sw"\n',
        "spec_zero_str": 'eval = ["bible:sw"]\nzero_shot = "zero-shot"\n',
        "spec_typo": 'eval = ["bible:sw"]\neval_spilt = "dev"\n',
        "spec_section": 'eval = ["bible:sw"]\n[grdi]\n"run.seed" = [0, 1]\n',
        "spec_axis_str": 'eval = ["bible:sw"]\n[grid]\n"data.train" = "bible:sw"\n',
        "spec_axis_int": 'eval = ["bible:sw"]\n[grid]\n"run.seed" = 3\n',
        "spec_axis_empty": 'eval = ["bible:sw"]\n[grid]\n"run.seed" = []\n',
        "spec_base_key": 'eval = ["bible:sw"]\n[base]\n"optim.lrr" = 0.1\n',
        "spec_base_lr": 'eval = ["bible:sw"]\n[base]\n"optim.lr" = "abc"\n',
        "spec_base_geo": 'eval = ["bible:sw"]\n[base]\n"objective.geometry" = "whitened"\n',
        "spec_grid_steps": 'eval = ["bible:sw"]\n[grid]\n"optim.max_steps" = [10, -3]\n',
        "spec_eval_empty": "eval = []\n",
        "spec_eval_bad": 'eval = ["bible:xx"]\n',
        "spec_ok": 'eval = ["bible:sw"]\n[grid]\n"run.seed" = [0, 1]\n',
    }
    for key, body in specs.items():
        w[key] = _write(root / f"{key}.toml", _spec(runs, body))
    w["spec_toml"] = _write(root / "broken.toml", "[sweep\nname = \n")
    w["cfg_section"] = _write(root / "cfg_section.toml", '[optimm]\nlr = 0.1\n')
    w["cfg_value"] = _write(root / "cfg_value.toml", '[optim]\nlr = "fast"\n')
    w["cfg_toml"] = w["spec_toml"]
    w["run_dir"] = root / "run-out"
    w["store"] = root / "store.jsonl"
    w["good_store"] = _write(root / "good-store.jsonl", GOOD_ROW + "\n")
    return w


def _fill(text: str, w: dict) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: str(w[m.group(1)]), text)


# a distill command line that, were a bad value let through, trains the tiny model only
def _distill(*extra: str) -> tuple[str, ...]:
    return (
        "distill",
        "model.teacher={model}",
        "data.train={bitext}",
        "data.dev=none",
        "run.out_dir={run_dir}",
        "run.progress=false",
        *extra,
    )


def _search(*extra: str) -> tuple[str, ...]:
    return ("search", "--query-model", "{model}", "--dataset", "{beir}", "--device", "cpu",
            "--quiet", "--out", "{tmp}/{case}.run", *extra)  # fmt: skip


def _encode(*extra: str) -> tuple[str, ...]:
    return ("encode", "--model", "{model}", "--corpus", "{beir}", "--device", "cpu", "--quiet",
            "--out", "{tmp}/{case}-index", *extra)  # fmt: skip


def _evaluate(*extra: str) -> tuple[str, ...]:
    return ("evaluate", "--qrels", "{qrels}", "--run", "{run}", *extra)


def _compare(*extra: str) -> tuple[str, ...]:
    return ("compare", "--qrels", "{qrels}", "{run}", "{run2}", "--n-resamples", "50", *extra)


def _bench(*extra: str) -> tuple[str, ...]:
    return ("bench", "--store", "{store}", "--device", "cpu", *extra)


def _assets(*extra: str) -> tuple[str, ...]:
    return ("assets", "build", "--skip-models", *extra)


def _locked(name: str) -> Callable[[dict], Any]:
    """Hold the run lock of ``{tmp}/name`` as a live writer would."""

    def around(w: dict) -> Any:
        from optical.train.lock import run_lock

        return run_lock(w["tmp"] / name)

    return around


def _index_fault(name: str, fault: str) -> Callable[[dict], Any]:
    """Build an index of the tiny corpus (or of another corpus) into ``{tmp}/name``, then
    damage it: ``flip`` bytes inside the FAISS file, ``truncate`` it, or ``other``: leave
    it whole (it indexes a corpus that is not the dataset's)."""
    from contextlib import nullcontext

    def around(w: dict) -> Any:
        from optical.cli import main

        out = w["tmp"] / name
        if not out.exists():
            corpus = w["beir"]
            if fault == "other":
                corpus = _beir_variant(w["beir"], w["tmp"] / f"{name}-corpus", _rewrite_docs)
            rc = main(["encode", "--model", str(w["model"]), "--corpus", str(corpus), "--device",
                       "cpu", "--quiet", "--out", str(out)])  # fmt: skip
            assert rc == 0
            faiss_file = out / "vectors.faiss"
            data = bytearray(faiss_file.read_bytes())
            if fault == "flip":
                for i in range(len(data) - 400, len(data) - 300):
                    data[i] ^= 0xFF
                faiss_file.write_bytes(bytes(data))
            elif fault == "truncate":
                faiss_file.write_bytes(bytes(data[: len(data) // 2]))
        return nullcontext()

    return around


def _rewrite_docs(folder: Path) -> None:
    lines = (folder / "corpus.jsonl").read_text(encoding="utf-8").splitlines()
    docs = [json.loads(line) for line in lines]
    for doc in docs:
        doc["_id"] = "x" + doc["_id"]
        doc["text"] = "water and light " + doc["text"]
    (folder / "corpus.jsonl").write_text("\n".join(json.dumps(d) for d in docs) + "\n")


def _echo_recall(result: Any, w: dict) -> None:
    """Every query of ``beir_echo`` is the exact text of its one relevant (grade-1) document,
    so any encoder ranks that document first: every recall@1 / RR measure is 1."""
    rc, out, err = result
    assert rc == 0, err[-2000:]
    rows = [json.loads(line) for line in w["store"].read_text().splitlines() if line.strip()]
    rows = [r for r in rows if str(w["beir_echo"]) in str(r.get("dataset"))]
    assert rows, "bench stored no row for the dataset"
    metrics = rows[-1]["metrics"]
    at_1 = {k: v for k, v in metrics.items() if re.fullmatch(r"(R|Recall|RR|MRR)\b.*@1", k)}
    assert at_1, metrics
    assert all(v == pytest.approx(1.0) for v in at_1.values()), at_1


def _says_fresh(result: Any, w: dict) -> None:
    rc, out, err = result
    text = out + err
    assert "Traceback" not in text
    if rc == 0:  # it trained: it must say that there was nothing to resume
        assert re.search(r"no checkpoint|nothing to resume|start(s|ing)? (from scratch|fresh)",
                         text, re.IGNORECASE), text[-1000:]  # fmt: skip
    else:
        assert re.search("checkpoint", err, re.IGNORECASE) and len(err.splitlines()) <= 2, err


# ----------------------------------------------------------------------- CLI cases

CLI: list[Case] = [
    # evaluate
    Case("D", "cli", "evaluate-cutoff-0", _evaluate("--measures", "nDCG@0"), Err("cutoff|@k|>= 1", "nDCG@0")),
    Case("D", "cli", "evaluate-cutoff-negative", _evaluate("--measures", "P@-1"), Err("measure", "P@-1")),
    Case("D", "cli", "evaluate-unknown-measure", _evaluate("--measures", "Foo@10"), Err("measure", "Foo@10")),
    Case("D", "cli", "evaluate-empty-measures", _evaluate("--measures", ""), Err("measure")),
    Case("D", "cli", "evaluate-duplicate-measures", _evaluate("--measures", "MAP,AP"), Err("duplicate")),
    Case("D", "cli", "evaluate-relevance-0", _evaluate("--relevance-level", "0"), Err("relevance", "0")),
    Case("D", "cli", "evaluate-relevance-negative", _evaluate("--relevance-level", "-5"), Err("relevance", "-5")),
    Case("D", "cli", "evaluate-relevance-text", _evaluate("--relevance-level", "two"), Err("relevance", "two")),
    Case("D", "cli", "evaluate-run-is-dir", ("evaluate", "--qrels", "{qrels}", "--run", "{adir}"), Err("run|file|folder|director", "{adir}")),
    Case("D", "cli", "evaluate-run-missing", ("evaluate", "--qrels", "{qrels}", "--run", "{missing}"), Err("not found|no such|missing|exist", "{missing}")),
    Case("D", "cli", "evaluate-run-empty", ("evaluate", "--qrels", "{qrels}", "--run", "{empty}"), Err("empty|no (lines|queries|results)", "{empty}")),
    Case("D", "cli", "evaluate-run-binary", ("evaluate", "--qrels", "{qrels}", "--run", "{binary}"), Err("UTF-8|binary|text|line", "{binary}")),
    Case("D", "cli", "evaluate-run-latin1", ("evaluate", "--qrels", "{qrels}", "--run", "{latin1}"), Err("UTF-8|decode|encoding", "{latin1}")),
    Case("L", "cli", "evaluate-run-5-columns", ("evaluate", "--qrels", "{qrels}", "--run", "{run_cols}"), Err("column|field|line 1", "{run_cols}")),
    Case("L", "cli", "evaluate-run-bad-score", ("evaluate", "--qrels", "{qrels}", "--run", "{run_score}"), Err("score|number|line 1", "{run_score}")),
    Case("L", "cli", "evaluate-run-nan-score", ("evaluate", "--qrels", "{qrels}", "--run", "{run_nan}"), Err("finite|nan|score", "{run_nan}")),
    Case("L", "cli", "evaluate-run-duplicate-doc", ("evaluate", "--qrels", "{qrels}", "--run", "{run_dup}"), Err("twice|duplicate|more than once", "{run_dup}")),
    Case("L", "cli", "evaluate-qrels-3-columns", ("evaluate", "--qrels", "{qrels_cols}", "--run", "{run}"), Err("column|field|line 1", "{qrels_cols}")),
    Case("L", "cli", "evaluate-qrels-bad-grade", ("evaluate", "--qrels", "{qrels_grade}", "--run", "{run}"), Err("grade|relevance|integer|line 1", "{qrels_grade}")),
    Case("L", "cli", "evaluate-qrels-empty", ("evaluate", "--qrels", "{empty}", "--run", "{run}"), Err("empty|no (judg|qrels|lines)", "{empty}")),
    Case("L", "cli", "evaluate-qrels-unknown-language", ("evaluate", "--qrels", "bible:xx", "--run", "{run}"), Err("language|unknown|not", "xx")),
    Case("L", "cli", "evaluate-qrels-spec-extra-part", ("evaluate", "--qrels", "bible:sw:nosplit", "--run", "{run}"), Err("spec|language|unknown|split", "sw:nosplit")),
    Case("L", "cli", "evaluate-split-unknown", ("evaluate", "--qrels", "{beir}", "--run", "{run}", "--split", "nosplit"), Err("split|qrels", "nosplit")),
    Case("L", "cli", "evaluate-qrels-broken-beir", ("evaluate", "--qrels", "{beir_grade}", "--run", "{run}"), Err("grade|score|integer|line", "test.tsv")),
    # compare
    Case("D", "cli", "compare-alpha-2", _compare("--alpha", "2"), Err("alpha", "2")),
    Case("D", "cli", "compare-alpha-0", _compare("--alpha", "0"), Err("alpha", "0")),
    Case("D", "cli", "compare-alpha-negative", _compare("--alpha", "-0.1"), Err("alpha", "-0.1")),
    Case("D", "cli", "compare-alpha-nan", _compare("--alpha", "nan"), Err("alpha", "nan")),
    Case("D", "cli", "compare-alpha-text", _compare("--alpha", "small"), Err("alpha", "small")),
    Case("D", "cli", "compare-resamples-0", _compare("--n-resamples", "0"), Err("resamples", "0")),
    Case("D", "cli", "compare-cutoff-0", _compare("--measures", "nDCG@0"), Err("cutoff|@k|>= 1", "nDCG@0")),
    Case("D", "cli", "compare-unknown-baseline", _compare("--baseline", "nosuchrun"), Err("baseline", "nosuchrun")),
    Case("D", "cli", "compare-one-run", ("compare", "--qrels", "{qrels}", "{run}"), Err("two|2|more than one|at least", None)),
    Case("D", "cli", "compare-run-missing", ("compare", "--qrels", "{qrels}", "{run}", "{missing}"), Err("not found|no such|exist", "{missing}")),
    # search
    Case("A", "cli", "search-k-0", _search("--k", "0"), Err(r"\bk\b", "0")),
    Case("A", "cli", "search-k-negative", _search("--k", "-1"), Err(r"\bk\b", "-1")),
    Case("A", "cli", "search-k-text", _search("--k", "abc"), Err(r"\bk\b", "abc")),
    Case("A", "cli", "search-rerank-depth-0", _search("--mode", "maxsim", "--rerank-depth", "0"), Err("rerank", "0")),
    Case("A", "cli", "search-batch-size-0", _search("--batch-size", "0"), Err("batch", "0")),
    Case("L", "cli", "search-split-unknown", _search("--split", "nosplit"), Err("split", "nosplit")),
    Case("L", "cli", "search-dataset-unknown-language", ("search", "--query-model", "{model}", "--dataset", "bible:xx", "--out", "{tmp}/{case}.run", "--device", "cpu"), Err("language|unknown", "xx")),
    Case("L", "cli", "search-dataset-extra-part", ("search", "--query-model", "{model}", "--dataset", "bible:sw:nosplit", "--out", "{tmp}/{case}.run", "--device", "cpu"), Err("spec|language|split|unknown", "sw:nosplit")),
    Case("L", "cli", "search-dataset-is-empty-folder", ("search", "--query-model", "{model}", "--dataset", "{adir}", "--out", "{tmp}/{case}.run", "--device", "cpu"), Err("corpus|BEIR|not", "{adir}")),
    Case("L", "cli", "search-dataset-missing", ("search", "--query-model", "{model}", "--dataset", "{missing}", "--out", "{tmp}/{case}.run", "--device", "cpu"), Err("no such|not found", "{missing}")),
    Case("L", "cli", "search-dataset-broken-json", ("search", "--query-model", "{model}", "--dataset", "{beir_json}", "--out", "{tmp}/{case}.run", "--device", "cpu", "--quiet"), Err("JSON|line 2", "corpus.jsonl")),
    Case("D", "cli", "search-model-missing", ("search", "--query-model", "/nonexistent/model", "--dataset", "{beir}", "--out", "{tmp}/{case}.run", "--device", "cpu"), Err("model|not found|no such", "/nonexistent/model")),
    Case("D", "cli", "search-device-cuda-on-cpu-torch", _search("--device", "cuda:7"), Err("cuda|device", "cuda")),
    Case("D", "cli", "search-device-unknown", _search("--device", "banana"), Err("device", "banana")),
    Case("B", "cli", "search-index-not-an-index", _search("--index", "{adir}"), Err("index", "{adir}")),
    Case("D", "cli", "search-out-is-a-folder", ("search", "--query-model", "{model}", "--dataset", "{beir}", "--device", "cpu", "--quiet", "--out", "{adir}"), Err("out|folder|director|file", "{adir}")),
    # encode
    Case("D", "cli", "encode-model-missing", ("encode", "--model", "/nonexistent/model", "--corpus", "{beir}", "--device", "cpu"), Err("model|not found|no such", "/nonexistent/model")),
    Case("D", "cli", "encode-batch-size-0", _encode("--batch-size", "0"), Err("batch", "0")),
    Case("B", "cli", "encode-ivf-nlist-0", _encode("--kind", "ivf", "--nlist", "0"), Err("nlist", "0")),
    Case("B", "cli", "encode-ivf-nprobe-negative", _encode("--kind", "ivf", "--nprobe", "-1"), Err("nprobe", "-1")),
    Case("L", "cli", "encode-corpus-unknown-language", ("encode", "--model", "{model}", "--corpus", "cldr:zz", "--device", "cpu"), Err("language|unknown", "zz")),
    Case("L", "cli", "encode-corpus-binary-file", ("encode", "--model", "{model}", "--corpus", "{binary}", "--device", "cpu", "--quiet"), Err("UTF-8|binary|corpus|JSON|format", "{binary}")),
    Case("L", "cli", "encode-corpus-empty-file", ("encode", "--model", "{model}", "--corpus", "{empty}", "--device", "cpu", "--quiet"), Err("empty|no documents|corpus", "{empty}")),
    Case("D", "cli", "encode-device-unknown", _encode("--device", "banana"), Err("device", "banana")),
    # bench
    Case("D", "cli", "bench-system-missing", _bench("--systems", "/nonexistent/run", "--datasets", "{beir}"), Err("system|run|model|not found|no such", "/nonexistent/run")),
    Case("D", "cli", "bench-k-0", _bench("--systems", "{model}", "--datasets", "{beir}", "--k", "0"), Err(r"\bk\b", "0")),
    Case("D", "cli", "bench-language-unknown", _bench("--systems", "{model}", "--languages", "xx"), Err("language|unknown", "xx")),
    Case("D", "cli", "bench-dataset-unknown-language", _bench("--systems", "{model}", "--datasets", "bible:xx"), Err("language|unknown", "xx")),
    Case("D", "cli", "bench-dataset-extra-part", _bench("--systems", "{model}", "--datasets", "bible:sw:nosplit"), Err("spec|language|split|unknown", "sw:nosplit")),
    Case("D", "cli", "bench-dataset-missing", _bench("--systems", "{model}", "--datasets", "{missing}"), Err("no such|not found", "{missing}")),
    Case("D", "cli", "bench-store-is-a-folder", ("bench", "--table-only", "--store", "{adir}"), Err("store|folder|director|file", "{adir}")),
    # distill and its overrides
    Case("C", "cli", "distill-lr-text", _distill("optim.lr=abc"), Err("optim.lr", "abc")),
    Case("C", "cli", "distill-lr-negative", _distill("optim.lr=-1e-3"), Err("optim.lr", "-0.001|-1e-3")),
    Case("C", "cli", "distill-seed-float", _distill("run.seed=1.5"), Err("run.seed", "1.5")),
    Case("C", "cli", "distill-geometry-unknown", _distill("objective.geometry=whitened"), Err("geometry", "whitened")),
    Case("C", "cli", "distill-max-steps-negative", _distill("optim.max_steps=-3"), Err("max_steps", "-3")),
    Case("C", "cli", "distill-max-steps-0", _distill("optim.max_steps=0"), Err("max_steps", "0")),
    Case("C", "cli", "distill-batch-size-0", _distill("optim.batch_size=0"), Err("batch_size", "0")),
    Case("C", "cli", "distill-eps-0", _distill("objective.eps=0"), Err("eps", "0")),
    Case("C", "cli", "distill-reg-m-negative", _distill("objective.reg_m=-1"), Err("reg_m", "-1")),
    Case("C", "cli", "distill-objective-unknown", _distill("objective.name=magic"), Err("objective", "magic")),
    Case("C", "cli", "distill-unknown-key", _distill("optim.lrr=0.1"), Err("unknown|optim.lrr", "optim.lrr")),
    Case("C", "cli", "distill-unknown-section", _distill("optimm.lr=0.1"), Err("unknown|optimm", "optimm")),
    Case("C", "cli", "distill-override-without-equals", _distill("optim.lr"), Err("key=value|=", "optim.lr")),
    Case("C", "cli", "distill-print-config-bad-geometry", ("distill", "--print-config", "objective.geometry=whitened"), Err("geometry", "whitened")),
    Case("C", "cli", "distill-print-config-bad-lr", ("distill", "--print-config", "optim.lr=abc"), Err("optim.lr", "abc")),
    Case("C", "cli", "distill-config-missing", ("distill", "--config", "{missing}", "--print-config"), Err("not found|no such|config", "{missing}")),
    Case("C", "cli", "distill-config-is-dir", ("distill", "--config", "{adir}", "--print-config"), Err("config|file|folder|director", "{adir}")),
    Case("C", "cli", "distill-config-binary", ("distill", "--config", "{binary}", "--print-config"), Err("TOML|UTF-8", "{binary}")),
    Case("C", "cli", "distill-config-latin1", ("distill", "--config", "{latin1}", "--print-config"), Err("TOML|UTF-8", "{latin1}")),
    Case("C", "cli", "distill-config-broken-toml", ("distill", "--config", "{cfg_toml}", "--print-config"), Err("TOML", "{cfg_toml}")),
    Case("C", "cli", "distill-config-unknown-section", ("distill", "--config", "{cfg_section}", "--print-config"), Err("unknown|optimm", "optimm")),
    Case("C", "cli", "distill-config-bad-value", ("distill", "--config", "{cfg_value}", "--print-config"), Err("optim.lr|lr", "fast")),
    Case("C", "cli", "distill-teacher-missing", ("distill", "model.teacher=/nonexistent/teacher", "data.train={bitext}", "run.out_dir={run_dir}"), Err("teacher|model|not found|no such", "/nonexistent/teacher")),
    Case("C", "cli", "distill-train-unknown-language", _distill("data.train=bible:xx"), Err("language|unknown", "xx")),
    Case("C", "cli", "distill-device-unknown", _distill("run.device=banana"), Err("device", "banana")),
    # sweep
    Case("C", "cli", "sweep-spec-missing", ("sweep", "--spec", "{missing}", "--dry-run"), Err("not found|no such", "{missing}")),
    Case("C", "cli", "sweep-spec-is-dir", ("sweep", "--spec", "{adir}", "--dry-run"), Err("spec|file|folder|director|not found", "{adir}")),
    Case("C", "cli", "sweep-spec-empty", ("sweep", "--spec", "{empty}", "--dry-run"), Err("eval|sweep|empty", "{empty}")),
    Case("C", "cli", "sweep-spec-binary", ("sweep", "--spec", "{binary}", "--dry-run"), Err("TOML|UTF-8", "{binary}")),
    Case("C", "cli", "sweep-spec-broken-toml", ("sweep", "--spec", "{spec_toml}", "--dry-run"), Err("TOML", "{spec_toml}")),
    Case("C", "cli", "sweep-eval-string", ("sweep", "--spec", "{spec_eval_str}", "--dry-run"), Err("eval.*list|list", "eval")),
    Case("C", "cli", "sweep-zero-shot-string", ("sweep", "--spec", "{spec_zero_str}", "--dry-run"), Err("zero_shot.*list|list", "zero_shot")),
    Case("C", "cli", "sweep-typo-key", ("sweep", "--spec", "{spec_typo}", "--dry-run"), Err("unknown|eval_spilt", "eval_spilt")),
    Case("C", "cli", "sweep-unknown-section", ("sweep", "--spec", "{spec_section}", "--dry-run"), Err("unknown section|grdi", "grdi")),
    Case("C", "cli", "sweep-axis-string", ("sweep", "--spec", "{spec_axis_str}", "--dry-run"), Err("list", "data.train")),
    Case("C", "cli", "sweep-axis-int", ("sweep", "--spec", "{spec_axis_int}", "--dry-run"), Err("list", "run.seed")),
    Case("C", "cli", "sweep-axis-empty", ("sweep", "--spec", "{spec_axis_empty}", "--dry-run"), Err("empty|0 runs", "run.seed")),
    Case("C", "cli", "sweep-base-unknown-key", ("sweep", "--spec", "{spec_base_key}", "--dry-run"), Err("unknown|optim.lrr", "optim.lrr")),
    Case("C", "cli", "sweep-base-lr-text", ("sweep", "--spec", "{spec_base_lr}", "--dry-run"), Err("optim.lr", "abc")),
    Case("C", "cli", "sweep-base-geometry-unknown", ("sweep", "--spec", "{spec_base_geo}", "--dry-run"), Err("geometry", "whitened")),
    Case("C", "cli", "sweep-grid-max-steps-negative", ("sweep", "--spec", "{spec_grid_steps}", "--dry-run"), Err("max_steps", "-3")),
    Case("C", "cli", "sweep-eval-empty", ("sweep", "--spec", "{spec_eval_empty}", "--dry-run"), Err("eval.*empty|empty", "eval")),
    Case("C", "cli", "sweep-eval-unknown-language", ("sweep", "--spec", "{spec_eval_bad}", "--dry-run"), Err("language|unknown", "xx")),
    Case("C", "cli", "sweep-override-lr-text", ("sweep", "--spec", "{spec_ok}", "--dry-run", "optim.lr=abc"), Err("optim.lr", "abc")),
    Case("C", "cli", "sweep-override-seed-float", ("sweep", "--spec", "{spec_ok}", "--dry-run", "run.seed=1.5"), Err("run.seed", "1.5")),
    Case("C", "cli", "sweep-override-unknown-key", ("sweep", "--spec", "{spec_ok}", "--dry-run", "optim.lrr=1"), Err("unknown|optim.lrr", "optim.lrr")),
    # assets
    Case("B", "cli", "assets-build-unknown-language", _assets("--languages", "xx"), Err("language|unknown", "xx", builds_nothing=True)),
    Case("B", "cli", "assets-build-unknown-cldr-language", _assets("--cldr-languages", "zz"), Err("language|unknown", "zz", builds_nothing=True)),
    Case("B", "cli", "assets-build-unknown-model", ("assets", "build", "--skip-benchmarks", "--models", "nosuchmodel"), Err("model|unknown", "nosuchmodel", builds_nothing=True)),
    Case("B", "cli", "assets-build-n-test-0", _assets("--languages", "sw", "--n-test", "0"), Err("n.test|>= 1|positive", "0", builds_nothing=True)),
    Case("B", "cli", "assets-build-n-dev-negative", _assets("--languages", "sw", "--n-dev", "-5"), Err("n.dev|>= 0|positive|negative", "-5", builds_nothing=True)),
    Case("B", "cli", "assets-build-seed-text", _assets("--languages", "sw", "--seed", "abc"), Err("seed", "abc", builds_nothing=True)),
    Case("B", "cli", "assets-path-unknown-model", ("assets", "path", "nosuchmodel"), Err("model|unknown", "nosuchmodel")),
    # report
    Case("L", "cli", "report-store-binary", ("report", "--store", "{binary}", "--out", "{tmp}/r.md", "--no-html"), Err("store|JSON|UTF-8|line", "{binary}")),
    Case("L", "cli", "report-store-is-a-folder", ("report", "--store", "{adir}", "--out", "{tmp}/r.md", "--no-html"), Err("store|folder|director|file", "{adir}")),
    Case("L", "cli", "report-out-is-a-folder", ("report", "--store", "{good_store}", "--out", "{adir}", "--no-html"), Err("out|folder|director", "{adir}")),
    # faults: a folder in use, a damaged or foreign index, a resume without checkpoint
    Case("C", "cli", "distill-run-folder-in-use", _distill("optim.max_steps=1", "run.out_dir={tmp}/locked-run"), Err("in use|lock", "locked-run"), around=_locked("locked-run")),
    Case("B", "cli", "search-index-flipped-bytes", _search("--index", "{tmp}/idx-flipped"), Err("corrupt|checksum|damaged|integrity|changed", "idx-flipped"), around=_index_fault("idx-flipped", "flip")),
    Case("B", "cli", "search-index-other-corpus", _search("--index", "{tmp}/idx-other"), Err("corpus", "idx-other"), around=_index_fault("idx-other", "other")),
    Case("B", "cli", "search-index-truncated-vectors", _search("--index", "{tmp}/idx-cut"), Err("corrupt|checksum|damaged|integrity|size|changed", "idx-cut"), around=_index_fault("idx-cut", "truncate")),
    Case("C", "cli", "distill-resume-without-checkpoint", _distill("--resume", "optim.max_steps=1", "optim.batch_size=8", "run.out_dir={tmp}/fresh-run"), Doc("refused, or says it starts fresh", _says_fresh)),
    # silent wrong results: binary (grade-1) qrels must be counted as relevant by bench
    Case("D", "cli", "bench-grade-1-qrels-count", _bench("--systems", "{model}", "--datasets", "{beir_echo}", "--baseline", "{model}"), Doc("R@1 = 1 when every query is its document's text", _echo_recall)),
    Case("L", "cli", "report-split-unknown", ("report", "--store", "{good_store}", "--out", "{tmp}/rs.md", "--no-html", "--split", "nosplit"), Err("split", "nosplit")),
    Case("L", "cli", "report-group-unknown", ("report", "--store", "{good_store}", "--out", "{tmp}/rg.md", "--no-html", "--groups", "nosuchgroup"), Err("group", "nosuchgroup")),
    Case("L", "cli", "report-plotlyjs-unknown", ("report", "--store", "{good_store}", "--out", "{tmp}/rp.md", "--plotlyjs", "web"), Err("plotlyjs|choice", "web")),
    Case("C", "cli", "sweep-only-matches-nothing", ("sweep", "--spec", "{spec_ok}", "--dry-run", "--only", "nosuchrun*"), Err("nosuchrun|match", "nosuchrun")),
    Case("C", "cli", "sweep-store-is-a-folder", ("sweep", "--spec", "{spec_ok}", "--dry-run", "--store", "{adir}"), Err("store|folder|director", "{adir}")),
    Case("A", "cli", "search-tag-with-space", _search("--tag", "my tag"), Err("tag", "my tag")),
    Case("L", "cli", "unknown-command", ("index", "--model", "x"), Err("invalid choice|command", "index")),
    # demo: only what argparse refuses (anything else would start the pipeline)
    Case("L", "cli", "demo-port-text", ("demo", "--port", "http"), Err("port", "http")),
]


# -------------------------------------------------------------------- library cases


def _cost(*shape: int) -> torch.Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(0))


def _with(tensor: torch.Tensor, index: tuple[int, ...], value: float) -> torch.Tensor:
    tensor = tensor.clone()
    tensor[index] = value
    return tensor


def _sinkhorn(*args: Any, **kwargs: Any) -> Callable[[dict], Any]:
    def call(w: dict) -> Any:
        from optical.ot import sinkhorn

        return sinkhorn(*args, **kwargs)

    return call


def _mass_one(result: Any, w: dict) -> None:
    assert torch.isfinite(result).all()
    assert float(result.sum()) == pytest.approx(1.0, abs=1e-5)


def _lib(module: str, name: str, *args: Any, **kwargs: Any) -> Callable[[dict], Any]:
    """``module.name(*args, **kwargs)`` with ``{placeholders}`` in str args filled."""

    def call(w: dict) -> Any:
        import importlib

        fn = getattr(importlib.import_module(module), name)
        fill = lambda v: _fill(v, w) if isinstance(v, str) else v  # noqa: E731
        return fn(*[fill(a) for a in args], **{k: fill(v) for k, v in kwargs.items()})

    return call


def _evaluate_lib(**kwargs: Any) -> Callable[[dict], Any]:
    def call(w: dict) -> Any:
        from optical.evaluation.metrics import evaluate

        run = {"q0": {"d0": 1.0, "d1": 0.5}, "q2": {"d2": 0.9}}
        qrels = {"q0": {"d0": 2}, "q2": {"d2": 1}}
        return evaluate(run, qrels, **kwargs)

    return call


def _compare_lib(**kwargs: Any) -> Callable[[dict], Any]:
    def call(w: dict) -> Any:
        from optical.evaluation.significance import compare_systems

        scores = {"base": {f"q{i}": i / 10 for i in range(10)},
                  "new": {f"q{i}": (i + 1) / 10 for i in range(10)}}  # fmt: skip
        return compare_systems(scores, "base", **{"n_resamples": 50, **kwargs})

    return call


def _retrieve(text: Any, **kwargs: Any) -> Callable[[dict], Any]:
    def call(w: dict) -> Any:
        return w["retriever"]().search_one(text, **kwargs)

    return call


def _app_search(text: Any, **kwargs: Any) -> Callable[[dict], Any]:
    def call(w: dict) -> Any:
        from optical.app.live_query import search

        return search(w["retriever"](), text, **kwargs)

    return call


def _config(*overrides: str) -> Callable[[dict], Any]:
    def call(w: dict) -> Any:
        from optical.train.config import DistillConfig, apply_overrides

        return apply_overrides(DistillConfig(), list(overrides))

    return call


def _spec_lib(key: str) -> Callable[[dict], Any]:
    def call(w: dict) -> Any:
        from optical.sweeps.runner import load_spec, plan

        return plan(load_spec(w[key]))

    return call


def _align(options: dict | None = None, other_tokenizer: bool = False, **kw: Any):
    def call(w: dict) -> Any:
        from optical.app.transport_view import AlignOptions, align

        enc = w["encoder"]()
        teacher = w["other_encoder"]() if other_tokenizer else enc
        opts = AlignOptions(**(options or {"geometry": "raw"}))
        return align(enc, teacher, "mungu aliupenda ulimwengu", "god loved the world", opts, **kw)

    return call


def _align_options(**kwargs: Any) -> Callable[[dict], Any]:
    def call(w: dict) -> Any:
        from optical.app.transport_view import AlignOptions

        return AlignOptions(**kwargs)

    return call


def _results_store(rows: list[str]) -> Callable[[dict], Any]:
    """Read a store of ``rows`` as the app does; return (data, the warnings it gave)."""

    def call(w: dict) -> Any:
        import warnings

        from optical.app.results_view import load_results

        path = _write(w["tmp"] / f"store-{len(rows)}-{abs(hash(tuple(rows)))}.jsonl",
                      "\n".join(rows) + "\n")  # fmt: skip
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            data = load_results(path)
        return data, [str(c.message) for c in caught]

    return call



def _settings_env(name: str, value: str) -> Callable[[dict], Any]:
    def call(w: dict) -> Any:
        from optical.app.settings import AppSettings

        with pytest.MonkeyPatch.context() as mp:
            mp.setenv(name, value)
            return AppSettings.from_env()

    return call


def _cut_query(outcome: Any, w: dict) -> None:
    assert outcome.result.hits and any("characters" in n for n in outcome.notes)


def _all_docs(outcome: Any, w: dict) -> None:
    assert len(outcome.result.hits) == 24  # k beyond the corpus: the whole corpus, ranked


def _ranked(result: Any, w: dict) -> None:
    assert len(result.hits) == 3 and result.hits[0].rank == 1


def _list_value(cfg: Any, w: dict) -> None:
    assert cfg.data.extra_train == ["bible:de"]


def _two_runs(runs: Any, w: dict) -> None:
    assert len(runs) == 2


def _padded_nan_ignored(plan: Any, w: dict) -> None:
    assert torch.isfinite(plan).all() and float(plan.sum()) == pytest.approx(1.0, abs=1e-5)


MASK_LAST_ROW = torch.tensor([True, True, False])
ROW = (
    "{{\"key\": \"k{i}\", \"system\": \"s\", \"dataset\": \"bible:sw\", \"language\": \"sw\", "
    "\"split\": \"test\"{extra}}}"
)
GOOD_ROW = ROW.format(i=1, extra=', "metrics": {"AP": 0.5}, "per_query": {"AP": {"q1": 0.5}}')

LIB: list[Case] = [
    # sinkhorn
    Case("E", "lib", "sinkhorn-1d-cost", _sinkhorn(torch.ones(3)), Err("shape")),
    Case("E", "lib", "sinkhorn-4d-cost", _sinkhorn(torch.ones(1, 1, 2, 2)), Err("shape")),
    Case("E", "lib", "sinkhorn-empty-cost", _sinkhorn(torch.ones(0, 3)), Err("non-empty")),
    Case("E", "lib", "sinkhorn-int-cost", _sinkhorn(torch.ones(2, 2, dtype=torch.int64)), Err("floating")),
    Case("E", "lib", "sinkhorn-list-cost", _sinkhorn([[0.0, 1.0], [1.0, 0.0]]), Err("tensor")),
    Case("E", "lib", "sinkhorn-nan-cost", _sinkhorn(_with(_cost(3, 4), (1, 2), math.nan)), Err(r"non-finite.*\[0, 1, 2\]")),
    Case("E", "lib", "sinkhorn-minus-inf-cost", _sinkhorn(_with(_cost(3, 4), (0, 0), -math.inf)), Err("non-finite")),
    Case("E", "lib", "sinkhorn-plus-inf-cost", _sinkhorn(_with(_cost(3, 4), (2, 3), math.inf)), Err("non-finite")),
    Case("E", "lib", "sinkhorn-nan-cost-on-padding", _sinkhorn(_with(_cost(3, 4), (2, 1), math.nan), mask_a=MASK_LAST_ROW), Doc("a padded entry may hold anything", _padded_nan_ignored)),
    Case("E", "lib", "sinkhorn-eps-0", _sinkhorn(_cost(3, 4), eps=0.0), Err("eps")),
    Case("E", "lib", "sinkhorn-eps-negative", _sinkhorn(_cost(3, 4), eps=-0.1), Err("eps")),
    Case("E", "lib", "sinkhorn-eps-nan", _sinkhorn(_cost(3, 4), eps=math.nan), Err("eps")),
    Case("E", "lib", "sinkhorn-eps-overflow", _sinkhorn(_cost(3, 4) * 1e30, eps=1e-10), Err("overflow")),
    Case("E", "lib", "sinkhorn-max-iter-0", _sinkhorn(_cost(3, 4), max_iter=0), Err("max_iter")),
    Case("E", "lib", "sinkhorn-tol-negative", _sinkhorn(_cost(3, 4), tol=-1.0), Err("tol")),
    Case("E", "lib", "sinkhorn-reg-m-negative", _sinkhorn(_cost(3, 4), reg_m=-1.0), Err("reg_m")),
    Case("E", "lib", "sinkhorn-reg-m-text", _sinkhorn(_cost(3, 4), reg_m="abc"), Err("reg_m")),
    Case("E", "lib", "sinkhorn-negative-weight", _sinkhorn(_cost(3, 4), torch.tensor([0.5, 0.7, -0.2]), torch.full((4,), 0.25)), Err(">= 0")),
    Case("E", "lib", "sinkhorn-weight-shape", _sinkhorn(_cost(3, 4), torch.full((4,), 0.25)), Err("shape")),
    Case("E", "lib", "sinkhorn-unequal-mass", _sinkhorn(_cost(3, 4), torch.full((3,), 1.0), torch.full((4,), 0.25)), Err("a.sum.*b.sum|normalise")),
    Case("E", "lib", "sinkhorn-mask-not-bool", _sinkhorn(_cost(3, 4), mask_a=torch.ones(3)), Err("bool")),
    Case("E", "lib", "sinkhorn-all-padding", _sinkhorn(_cost(3, 4), mask_a=torch.zeros(3, dtype=torch.bool)), Err("real token")),
    Case("E", "lib", "sinkhorn-cost-scale-1e10", _sinkhorn(_cost(3, 4) * 1e10), Doc("mass 1 at any cost scale", _mass_one)),
    # losses
    Case("E", "lib", "geometry-unknown", _lib("optical.losses", "TokenGeometry", "whitened"), Err("geometry")),
    Case("E", "lib", "marginals-unknown", lambda w: __import__("optical.losses", fromlist=["x"]).token_marginals(torch.ones(1, 2, 3), torch.ones(1, 2), "weird"), Err("marginals")),
    Case("E", "lib", "optical-loss-nan-student", lambda w: __import__("optical.losses", fromlist=["x"]).optical_loss(_with(torch.ones(1, 2, 3), (0, 1, 0), math.nan), torch.ones(1, 2, dtype=torch.bool), torch.rand(1, 2, 3), torch.ones(1, 2, dtype=torch.bool)), Err("non-finite")),
    # measures and significance
    Case("D", "lib", "measure-cutoff-0", _lib("optical.evaluation.metrics", "parse_measure", "nDCG@0"), Err("cutoff")),
    Case("D", "lib", "measure-rel-0", _lib("optical.evaluation.metrics", "parse_measure", "P(rel=0)@5"), Err("rel")),
    Case("D", "lib", "measure-unknown", _lib("optical.evaluation.metrics", "parse_measure", "Foo@3"), Err("measure")),
    Case("D", "lib", "measures-empty", _lib("optical.evaluation.metrics", "parse_measures", []), Err("no measures")),
    Case("D", "lib", "evaluate-relevance-0", _evaluate_lib(relevance_level=0), Err("relevance_level")),
    Case("D", "lib", "evaluate-relevance-negative", _evaluate_lib(relevance_level=-5), Err("relevance_level")),
    Case("D", "lib", "evaluate-relevance-float", _evaluate_lib(relevance_level=1.5), Err("relevance_level", types=(ValueError, TypeError))),
    Case("D", "lib", "evaluate-nan-score", lambda w: __import__("optical.evaluation.metrics", fromlist=["x"]).evaluate({"q0": {"d0": math.nan}}, {"q0": {"d0": 1}}), Err("non-finite")),
    Case("D", "lib", "alpha-2", _lib("optical.evaluation.significance", "check_alpha", 2), Err("alpha")),
    Case("D", "lib", "compare-alpha-2", _compare_lib(alpha=2.0), Err("alpha")),
    Case("D", "lib", "compare-alpha-0", _compare_lib(alpha=0.0), Err("alpha")),
    Case("D", "lib", "compare-resamples-0", _compare_lib(n_resamples=0), Err("n_resamples")),
    Case("D", "lib", "compare-correction-unknown", _compare_lib(correction="sidak"), Err("correction")),
    Case("D", "lib", "compare-test-unknown", _compare_lib(test="wilcoxon"), Err("test")),
    Case("D", "lib", "compare-baseline-unknown", lambda w: __import__("optical.evaluation.significance", fromlist=["x"]).compare_systems({"a": {"q": 1.0}, "b": {"q": 0.0}}, "zzz"), Err("baseline|zzz")),
    # retrieval
    Case("A", "lib", "search-k-0", _retrieve("god", k=0), Err(r"\bk\b")),
    Case("A", "lib", "search-k-negative", _retrieve("god", k=-3), Err(r"\bk\b")),
    Case("A", "lib", "search-k-text", _retrieve("god", k="abc"), Err(r"\bk\b")),
    Case("A", "lib", "search-k-float", _retrieve("god", k=2.5), Err(r"\bk\b")),
    Case("A", "lib", "search-mode-unknown", _retrieve("god", mode="bm25"), Err("mode")),
    Case("A", "lib", "search-empty-query", _retrieve(""), Err("empty")),
    Case("A", "lib", "search-whitespace-query", _retrieve(" \t\n"), Err("empty")),
    Case("A", "lib", "search-zero-width-query", _retrieve("\u200b\u200c\u200d\ufeff"), Err("empty|visible|zero-width")),
    Case("A", "lib", "search-nul-query", _retrieve("\x00\x00"), Err("empty|visible|control|NUL")),
    Case("A", "lib", "search-query-not-text", _retrieve(42), Err("string|text|str", types=(ValueError, TypeError))),
    Case("A", "lib", "search-k-3", _retrieve("god loved the world", k=3), Doc("k hits, ranked from 1", _ranked)),
    # the app's search service
    Case("E", "lib", "app-search-zero-width", _app_search("\u200b\u2060"), Err("visible|empty")),
    Case("E", "lib", "app-search-nul", _app_search("\x00"), Err("visible|empty")),
    Case("E", "lib", "app-search-k-text", _app_search("god", k="abc"), Err(r"\bk\b")),
    Case("E", "lib", "app-search-k-0", _app_search("god", k=0), Err(r"\bk\b")),
    Case("E", "lib", "app-search-mode-unknown", _app_search("god", mode="bm25"), Err("mode")),
    Case("E", "lib", "app-search-none", _app_search(None), Err("empty")),
    Case("E", "lib", "app-search-10000-chars", _app_search("maji " * 2000, k=3), Doc("cut to max_chars, with a note", _cut_query)),
    Case("E", "lib", "app-search-k-beyond-corpus", _app_search("god", k=500), Doc("k > corpus: all documents", _all_docs)),
    # alignment service
    Case("E", "lib", "align-other-tokenizer", _align(other_tokenizer=True), Err("different tokenizers")),
    Case("E", "lib", "align-max-length-negative", _align(max_length=-1), Err("max_length")),
    Case("E", "lib", "align-unknown-option", _align(max_lenght=64), Err("unknown alignment option")),
    Case("E", "lib", "align-options-max-iter-0", _align_options(max_iter=0), Err("max_iter")),
    Case("E", "lib", "align-options-eps-0", _align_options(eps=0), Err("eps")),
    Case("E", "lib", "align-options-threshold-2", _align_options(threshold=2.0), Err("threshold")),
    Case("E", "lib", "align-options-reg-m-text", _align_options(reg_m="x"), Err("reg_m")),
    # app settings from the environment
    Case("E", "lib", "app-setting-nan", _settings_env("OPTICAL_APP_MAX_QUERY_CHARS", "nan"), Err("OPTICAL_APP_MAX_QUERY_CHARS.*positive finite")),
    Case("E", "lib", "app-setting-inf", _settings_env("OPTICAL_APP_MAX_UPLOAD_MB", "inf"), Err("OPTICAL_APP_MAX_UPLOAD_MB.*positive finite")),
    Case("E", "lib", "app-setting-text", _settings_env("OPTICAL_APP_MAX_UPLOAD_DOCS", "many"), Err("OPTICAL_APP_MAX_UPLOAD_DOCS.*not a number")),
    # figures of the alignment service
    Case("E", "lib", "heatmap-1d-matrix", _lib("optical.viz.token_figures", "token_heatmap", np.ones(3), ["a", "b", "c"], ["x"]), Err("2-d")),
    Case("E", "lib", "heatmap-token-count", _lib("optical.viz.token_figures", "token_heatmap", np.ones((2, 2)), ["a"], ["x", "y"]), Err("row and")),
    Case("E", "lib", "heatmap-max-tokens-0", _lib("optical.viz.token_figures", "token_heatmap", np.ones((1, 1)), ["a"], ["x"], max_tokens=0), Err("max_tokens")),
    Case("E", "lib", "links-negative-index", _lib("optical.viz.token_figures", "alignment_links", ["a", "b"], ["x"], [(-1, 0, 0.5)]), Err("outside")),
    Case("E", "lib", "links-share-above-1", _lib("optical.viz.token_figures", "alignment_links", ["a"], ["x"], [(0, 0, 3.0)]), Err("share")),
    # data loaders
    Case("L", "lib", "beir-broken-json-line", _lib("optical.data.beir", "load_beir", "{beir_json}"), Err("line 2")),
    Case("L", "lib", "beir-doc-without-id", _lib("optical.data.beir", "load_beir", "{beir_noid}"), Err("_id|id")),
    Case("L", "lib", "beir-bad-grade", _lib("optical.data.beir", "load_beir", "{beir_grade}"), Err("grade|score|integer")),
    Case("L", "lib", "beir-no-qrels", _lib("optical.data.beir", "load_beir", "{beir_noqrels}"), Err("qrels|test", types=(FileNotFoundError,))),
    Case("L", "lib", "beir-no-queries", _lib("optical.data.beir", "load_beir", "{beir_noqueries}"), Err("queries", types=(FileNotFoundError,))),
    Case("L", "lib", "beir-split-unknown", _lib("optical.data.beir", "load_beir", "{beir}", split="nosplit"), Err("nosplit", types=(FileNotFoundError, ValueError))),
    Case("L", "lib", "beir-path-is-file", _lib("optical.data.beir", "load_beir", "{run}"), Err("folder|director|BEIR", types=(FileNotFoundError, ValueError, NotADirectoryError))),
    Case("L", "lib", "trec-run-5-columns", _lib("optical.data.trec", "read_run", "{run_cols}"), Err("line 1")),
    Case("L", "lib", "trec-run-bad-score", _lib("optical.data.trec", "read_run", "{run_score}"), Err("score|line 1")),
    Case("L", "lib", "trec-run-nan-score", _lib("optical.data.trec", "read_run", "{run_nan}"), Err("finite|nan")),
    Case("L", "lib", "trec-run-binary", _lib("optical.data.trec", "read_run", "{binary}"), Err("UTF-8|binary|line")),
    Case("L", "lib", "trec-run-missing", _lib("optical.data.trec", "read_run", "{missing}"), Err("", types=(FileNotFoundError,))),
    Case("L", "lib", "trec-run-is-dir", _lib("optical.data.trec", "read_run", "{adir}"), Err("folder|director|file", types=(FileNotFoundError, ValueError, IsADirectoryError))),
    Case("L", "lib", "trec-qrels-3-columns", _lib("optical.data.trec", "read_qrels", "{qrels_cols}"), Err("line 1")),
    Case("L", "lib", "trec-qrels-bad-grade", _lib("optical.data.trec", "read_qrels", "{qrels_grade}"), Err("grade|relevance|integer")),
    Case("L", "lib", "trec-qrels-latin1", _lib("optical.data.trec", "read_qrels", "{latin1}"), Err("UTF-8|decode")),
    Case("L", "lib", "bitext-one-column", _lib("optical.data.bitext", "read_bitext_tsv", "{bitext_cols}"), Err("column|line 2|tab")),
    Case("L", "lib", "bitext-empty-file", _lib("optical.data.bitext", "read_bitext_tsv", "{empty}"), Err("empty|header|no pairs")),
    Case("L", "lib", "bitext-binary", _lib("optical.data.bitext", "read_bitext_tsv", "{binary}"), Err("UTF-8|binary|header")),
    Case("L", "lib", "spec-unknown-benchmark", _lib("optical.dataset_loading", "load_collection", "bibel:sw"), Err("bibel:sw.*bible:<lang>", types=(FileNotFoundError,))),
    Case("L", "lib", "spec-no-language", _lib("optical.dataset_loading", "load_collection", "bible:"), Err("bible:")),
    Case("L", "lib", "spec-unknown-language", _lib("optical.dataset_loading", "dataset_dir", "bible:xx"), Err("xx")),
    Case("L", "lib", "spec-extra-part", _lib("optical.dataset_loading", "dataset_dir", "bible:sw:nosplit"), Err("bible:sw:nosplit|nosplit")),
    # config overrides and sweep specs
    Case("C", "lib", "override-lr-text", _config("optim.lr=abc"), Err("optim.lr")),
    Case("C", "lib", "override-seed-float", _config("run.seed=1.5"), Err("run.seed")),
    Case("C", "lib", "override-geometry", _config("objective.geometry=whitened"), Err("geometry")),
    Case("C", "lib", "override-max-steps-negative", _config("optim.max_steps=-3"), Err("max_steps")),
    Case("C", "lib", "override-unknown-key", _config("optim.lrr=1"), Err("optim.lrr")),
    Case("C", "lib", "override-bool-text", _config("run.keep_best=maybe"), Err("keep_best")),
    Case("C", "lib", "override-list-value", _config('data.extra_train=["bible:de"]'), Doc("a TOML list is a list", _list_value)),
    Case("C", "lib", "spec-eval-string", _spec_lib("spec_eval_str"), Err("eval")),
    Case("C", "lib", "spec-axis-int", _spec_lib("spec_axis_int"), Err("run.seed")),
    Case("C", "lib", "spec-axis-empty", _spec_lib("spec_axis_empty"), Err("empty|0 runs")),
    Case("C", "lib", "spec-typo-key", _spec_lib("spec_typo"), Err("eval_spilt")),
    Case("C", "lib", "spec-grid-2-seeds", _spec_lib("spec_ok"), Doc("a 2-value axis gives 2 runs", _two_runs)),
    # the results store the app reads
    # a row that does not fit the row schema is an error naming its line
    Case("L", "lib", "store-row-without-metrics", _results_store([GOOD_ROW, ROW.format(i=2, extra="")]), Err("line 2: missing metrics")),
    Case("L", "lib", "store-row-not-an-object", _results_store([GOOD_ROW, "[1, 2, 3]"]), Err("line 2: not a JSON object")),
    Case("L", "lib", "store-row-metrics-not-numbers", _results_store([GOOD_ROW, ROW.format(i=3, extra=', "metrics": {"AP": "high"}')]), Err("line 2: metrics must map measure names to numbers")),
    Case("L", "lib", "store-row-seed-not-an-integer", _results_store([GOOD_ROW, ROW.format(i=5, extra=', "metrics": {"AP": 0.5}, "seed": "one"')]), Err("line 2: seed must be an integer")),
    Case("L", "lib", "store-broken-line-in-the-middle", _results_store([GOOD_ROW, "{not json", GOOD_ROW.replace("k1", "k4")]), Err("line 2")),
]


# ------------------------------------------------------------------------- app cases


def _page(page: str, env: dict, monkeypatch) -> Any:
    from streamlit.testing.v1 import AppTest

    for key, value in env.items():
        monkeypatch.setenv(key, str(value))
    root = Path(__file__).resolve().parents[1]
    at = AppTest.from_file(str(root / "app.py"), default_timeout=60)
    at.run()
    if page != "alignment":
        at.switch_page(f"app_pages/{page}.py")
        at.run()
    return at


def _messages(at: Any) -> str:
    return " | ".join(str(e.value) for e in [*at.error, *at.warning])


def _query(text: str) -> Callable[[Any], Any]:
    def act(at: Any) -> Any:
        return at.text_input(key="query").input(text).run()

    return act


def _pick_right(label: str) -> Callable[[Any], Any]:
    def act(at: Any) -> Any:
        return at.selectbox(key="right").set_value(label).run()

    return act


@dataclass(frozen=True)
class AppCall:
    page: str
    act: Callable[[Any], Any] | None = None
    env: dict = field(default_factory=dict)  # extra environment ({placeholders} filled)


APP: list[Case] = [
    Case("E", "app", "search-empty-query", AppCall("search", _query("   \t ")), Err("empty query")),
    Case("E", "app", "search-10000-char-query", AppCall("search", _query("maji " * 2000)), Err("10,000 characters")),
    Case("E", "app", "search-zero-width-query", AppCall("search", _query("\u200b\u200b\u200d")), Err("visible|empty")),
    Case("E", "app", "search-nul-query", AppCall("search", _query("\x00")), Err("visible|empty")),
    Case("E", "app", "alignment-mismatched-tokenizers", AppCall("alignment", _pick_right("other-tokenizer")), Err("different tokenizers")),
    Case("L", "app", "results-row-without-metrics", AppCall("results", None, {"OPTICAL_RESULTS": "{bad_store}"}), Err("metrics")),
    Case("L", "app", "results-binary-store", AppCall("results", None, {"OPTICAL_RESULTS": "{binary}"}), Err("store|UTF-8|JSON")),
    Case("E", "app", "bad-app-setting", AppCall("search", None, {"OPTICAL_APP_MAX_QUERY_CHARS": "-3"}), Err("OPTICAL_APP_MAX_QUERY_CHARS")),
]

CASES = CLI + LIB + APP


def _param(case: Case):
    return pytest.param(case, id=f"{case.owner}-{case.surface}-{case.name}")


# -------------------------------------------------------------------- shared objects


@pytest.fixture(scope="module")
def lazy(world, tiny_model_dir, tmp_path_factory) -> dict:
    """Objects built on first use: the tiny encoder, a retriever over the tiny corpus, an
    encoder with a permuted tokenizer (same width), and the app's tiny world."""
    cache: dict[str, Any] = {}

    def encoder():
        if "encoder" not in cache:
            from optical.systems import load_encoder_cached

            cache["encoder"] = load_encoder_cached(str(tiny_model_dir), "cpu")
        return cache["encoder"]

    def retriever():
        if "retriever" not in cache:
            from optical.app.live_query import build_memory_index
            from optical.data.beir import load_beir
            from optical.retrieval import Retriever

            docs = {k: d.text for k, d in load_beir(world["beir"]).corpus.items()}
            index = build_memory_index(encoder(), docs)
            cache["retriever"] = Retriever(encoder(), encoder(), index)
        return cache["retriever"]

    def other_dir():
        if "other_dir" not in cache:
            cache["other_dir"] = _other_tokenizer_model(tiny_model_dir, world["tmp"] / "other")
        return cache["other_dir"]

    def other_encoder():
        if "other_encoder" not in cache:
            from optical.encoders import Encoder

            cache["other_encoder"] = Encoder(str(other_dir())).eval()
        return cache["other_encoder"]

    def app_env():
        if "app_env" not in cache:
            from tests.test_app_service import make_app_env

            env = make_app_env(tmp_path_factory.getbasetemp() / "app_env", tiny_model_dir)
            env = dict(env)
            runs = world["tmp"] / "app-runs"
            _other_tokenizer_run(Path(env["OPTICAL_RUNS"]), runs / "other-tok", other_dir())
            env["OPTICAL_RUNS"] = f"{env['OPTICAL_RUNS']}:{runs}"
            cache["app_env"] = env
        return cache["app_env"]

    return {
        "encoder": encoder,
        "retriever": retriever,
        "other_encoder": other_encoder,
        "app_env": app_env,
    }


def _other_tokenizer_model(model_dir: Path, out: Path) -> Path:
    """A copy of the tiny model whose tokenizer maps the same ids to other pieces."""
    from tests.helpers import make_tokenizer_json, tiny_vocab

    if out.exists():
        return out
    shutil.copytree(model_dir, out)
    vocab = tiny_vocab()
    words = [p for p, _ in vocab if p.startswith("\u2581") and len(p) > 1]
    swap = dict(zip(words, reversed(words), strict=True))
    scratch = out.parent / "other-tokenizer.json"
    make_tokenizer_json(scratch, [(swap.get(p, p), s) for p, s in vocab])
    shutil.copy(scratch, out / "tokenizer.json")
    return out


def _other_tokenizer_run(runs: Path, run: Path, student: Path) -> None:
    """A finished run (copied from the app's tiny run) whose student has another tokenizer."""
    if run.exists():
        return
    source = next(p for p in runs.iterdir() if (p / "summary.json").is_file())
    run.mkdir(parents=True)
    summary = json.loads((source / "summary.json").read_text())
    summary.update(system="other-tokenizer", student=str(student), best_dev_rr10=-5)
    (run / "summary.json").write_text(json.dumps(summary))


# ------------------------------------------------------------------------- the test


class _Slow(BaseException):  # not swallowed by a broad `except Exception`
    pass


def _alarm(signum, frame):  # noqa: ARG001
    raise _Slow(f"took more than {CASE_SECONDS} s: it did work it should have refused")


@pytest.fixture
def time_box():
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(CASE_SECONDS)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


def _strip_usage(lines: list[str]) -> list[str]:
    """Drop argparse's usage block (``usage: ...`` and its indented continuation lines)."""
    out, in_usage = [], False
    for line in lines:
        if line.startswith("usage:"):
            in_usage = True
            continue
        if in_usage and line.startswith(" "):
            continue
        in_usage = False
        out.append(line)
    return out


def _run_cli(case: Case, w: dict, capsys, monkeypatch) -> None:
    from optical.cli import main

    monkeypatch.setenv("OPTICAL_RESULTS", str(w["store"]))
    monkeypatch.chdir(w["tmp"])  # nothing a default path writes lands in the repository
    argv = [_fill(a, {**w, "case": case.name}) for a in case.call]
    outs = [Path(argv[i + 1]) for i, a in enumerate(argv[:-1]) if a in ("--out", "--html")]
    fresh = [p for p in outs if not p.exists()]  # a refusal must not create these
    context = case.around(w) if case.around else None
    capsys.readouterr()  # what a setup printed is not the case's output
    try:
        if context is None:
            rc = main(argv)
        else:
            with context:
                rc = main(argv)
    except SystemExit as exit_:
        rc = exit_.code if isinstance(exit_.code, int) else 1
    out, err = capsys.readouterr()
    expect = case.expect
    if isinstance(expect, Doc):
        expect.check((rc, out, err), w)
        return
    assert "Traceback" not in err and "Traceback" not in out, err
    assert rc not in (0, None), f"exit 0 for bad input; stdout: {out[-500:]!r} stderr: {err[-500:]!r}"
    lines = _strip_usage([line for line in err.splitlines() if line.strip()])
    assert 1 <= len(lines) <= 2, f"expected one clear line, got {len(lines)}:\n{err[-2000:]}"
    text = "\n".join(lines)
    assert "error:" in text, text
    assert re.search(expect.pattern, text, re.IGNORECASE), f"{expect.pattern!r} not in {text!r}"
    if expect.names:
        names = _fill(expect.names, w)
        assert any(n in text for n in names.split("|")), f"{names!r} not named in {text!r}"
    written = [str(p) for p in fresh if p.exists()]
    assert not written, f"refused, but wrote {written} first"
    if expect.builds_nothing:
        home = Path(os.environ["OPTICAL_HOME"])
        built = sorted(str(p.relative_to(home)) for p in home.rglob("*") if p.is_file())
        assert not built, f"refused only after building {built[:5]} ({len(built)} files)"


def _run_lib(case: Case, w: dict, lazy: dict) -> None:
    env = {**w, **lazy}
    expect = case.expect
    if isinstance(expect, Doc):
        expect.check(case.call(env), w)
        return
    with pytest.raises(expect.types) as info:
        result = case.call(env)
        pytest.fail(f"no error; returned {result!r:.300}")
    message = str(info.value)
    assert "\n" not in message.strip() or len(message.splitlines()) <= 2, message
    assert re.search(expect.pattern, message, re.IGNORECASE), f"{expect.pattern!r} not in {message!r}"


def _run_app(case: Case, w: dict, lazy: dict, monkeypatch) -> None:
    env = dict(lazy["app_env"]())
    bad_store = _write(
        w["tmp"] / "no-metrics.jsonl",
        "\n".join([GOOD_ROW, ROW.format(i=2, extra=', "per_query": {}')]) + "\n",
    )
    filled = {**w, "bad_store": bad_store}
    env.update({k: _fill(v, filled) for k, v in case.call.env.items()})
    at = _page(case.call.page, env, monkeypatch)
    if case.call.act is not None and not at.exception:
        at = case.call.act(at)
    assert not at.exception, [e.value for e in at.exception]
    shown = _messages(at)
    assert isinstance(case.expect, Err)
    assert re.search(case.expect.pattern, shown, re.IGNORECASE), f"{case.expect.pattern!r} not in {shown!r}"


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_bad_input(case: Case, world, lazy, capsys, monkeypatch, time_box):
    if case.surface == "cli":
        _run_cli(case, world, capsys, monkeypatch)
    elif case.surface == "lib":
        _run_lib(case, world, lazy)
    else:
        _run_app(case, world, lazy, monkeypatch)


def test_battery_size_and_ids_are_distinct():
    ids = [f"{c.owner}-{c.surface}-{c.name}" for c in CASES]
    assert len(ids) == len(set(ids))
    assert len(CASES) >= 100
    assert {c.surface for c in CASES} == {"cli", "lib", "app"}


def test_no_case_loads_a_bundled_model():
    text = json.dumps([c.call for c in CLI])
    assert "bundled:" not in text and "e5" not in text
