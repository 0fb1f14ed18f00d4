"""What the retrieval commands read: corpora, queries, qrels and runs named on the command line.

``--corpus`` / ``--dataset`` take ``bible:<lang>``, ``cldr:<lang>``, a BEIR folder or a
``corpus.jsonl`` file; ``--qrels`` a TREC qrels file, a BEIR qrels TSV, a BEIR folder or a
dataset spec; ``--run`` a TREC run file. Empty inputs are refused here, with the path.
"""

from __future__ import annotations

from pathlib import Path

from optical.dataset_spec import DatasetSpec

__all__ = ["load_corpus_spec", "load_qrels_spec", "load_queries_spec", "read_run_file"]


def load_corpus_spec(spec: str | DatasetSpec) -> dict:
    """Documents of ``bible:<lang>``/``cldr:<lang>``, a BEIR folder or a ``corpus.jsonl`` file."""
    from optical.data import read_jsonl_corpus
    from optical.dataset_loading import dataset_dir

    ds = DatasetSpec.parse(spec)
    path = ds.folder if ds.is_path else dataset_dir(ds)
    if path.is_dir():
        for name in ("corpus.jsonl", "corpus.jsonl.gz"):
            if (path / name).is_file():
                return _non_empty(read_jsonl_corpus(path / name), path / name)
        raise FileNotFoundError(f"{path}: no corpus.jsonl (expected a BEIR folder)")
    if path.is_file():
        return _non_empty(read_jsonl_corpus(path), path)
    raise FileNotFoundError(
        f"{spec}: no such corpus (use bible:<lang>, cldr:<lang>, a BEIR folder or a .jsonl file)"
    )


def _non_empty(corpus: dict, path: Path) -> dict:
    if not corpus:
        raise ValueError(f"{path}: empty corpus (no documents; expected JSON lines with _id and text)")
    return corpus


def _looks_like_beir_tsv(path: Path) -> bool:
    with open(path, encoding="utf-8-sig", errors="replace") as fh:
        for line in fh:
            if line.strip():
                fields = line.rstrip("\r\n").split("\t")
                header = [f.strip().lower() for f in fields] == ["query-id", "corpus-id", "score"]
                return header or (len(fields) == 3 and len(line.split()) == 3)
    return False


def load_excluded_spec(spec: str | DatasetSpec, split: str = "test") -> dict[str, set[str]]:
    """The documents each query's ranking must not count (``excluded/<split>.tsv`` of a BEIR
    folder or a dataset spec such as ``bible-xref:sw``); {} for a qrels file."""
    from optical.data.beir import read_beir_excluded
    from optical.dataset_loading import load_collection

    ds = DatasetSpec.parse(spec)
    if not ds.is_path:
        return load_collection(ds, split).excluded
    path = ds.folder / "excluded" / f"{split}.tsv"
    return read_beir_excluded(path) if ds.folder.is_dir() and path.is_file() else {}


def load_qrels_spec(spec: str | DatasetSpec, split: str = "test"):
    """Qrels from a TREC qrels file, a BEIR qrels TSV (header detected), a BEIR folder
    (``qrels/<split>.tsv``) or a dataset spec such as ``bible:sw`` (its ``split`` qrels)."""
    from optical.data import read_qrels
    from optical.data.beir import read_beir_qrels
    from optical.dataset_loading import load_collection

    ds = DatasetSpec.parse(spec)
    if not ds.is_path:
        return load_collection(ds, split).qrels
    path = ds.folder
    if path.is_dir():
        tsv = path / "qrels" / f"{split}.tsv"
        if not tsv.is_file():
            raise FileNotFoundError(f"{tsv}: no BEIR qrels for split {split!r}")
        return read_beir_qrels(tsv)
    if not path.is_file():
        raise FileNotFoundError(f"{spec}: no such qrels file, BEIR folder or dataset spec")
    qrels = read_beir_qrels(path) if _looks_like_beir_tsv(path) else read_qrels(path)
    if not qrels:
        raise ValueError(f"{spec}: no judgements found")
    return qrels


def load_queries_spec(spec: str | DatasetSpec, split: str) -> dict[str, str]:
    """The ``split`` queries of a dataset spec or BEIR folder."""
    from optical.dataset_loading import load_collection

    return load_collection(spec, split).queries


def read_run_file(path: str):
    """A TREC run file (``qid Q0 docid rank score tag``) with at least one ranked document."""
    from optical.data import read_run

    if Path(path).is_dir():
        raise ValueError(f"{path}: a folder; --run expects a TREC run file (qid Q0 docid rank score tag)")
    run = read_run(path)
    if not any(run.values()):
        raise ValueError(f"{path}: empty run (no ranked documents)")
    return run
