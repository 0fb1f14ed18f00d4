"""What the report is made of: the store's rows split into blocks (one sweep group and
dataset family in one split), the research question each group answers, and which measures
a block's tables show."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from optical.evaluation.measure_sets import (
    EXTRA_LABELS,
    GRADE1_NOTE,
    GRADE2_MEASURES,
    REPORT_RETRIEVAL_MEASURES,
)
from optical.results import ResultsStore
from optical.results.frames import grade2_judged, read_rows
from optical.results.row import ResultRow

__all__ = ["LOWER_IS_BETTER", "QUESTIONS", "Block", "block_measures", "question_title", "report_blocks"]

QUESTIONS = {
    "nb01": "Quickstart — OPTICAL distillation of a query encoder on the embedded benchmark",
    "rq1": "RQ1 — OT distillation vs cross-entropy fine-tuning (and contrastive, MSE) with 10–100 labelled pairs",
    "rq2": "RQ2 — embedding alignment, uniformity and bitext mining before vs after distillation",
    "rq3": "RQ3 — robustness under domain shift: train on the Bible, test in another domain",
    "rq4": "RQ4 — variance between high- and low-resource languages: OT vs contrastive",
    "rq5": "RQ5 — the high–low R@1 gap as model size grows",
}
LOWER_IS_BETTER = {"alignment", "uniformity", "uniformity_en"}


def question_title(group: str) -> str:
    """Title of a group: its research question (``rq1-...`` -> RQ1), else the group name."""
    return QUESTIONS.get(group.split("-", 1)[0], group or "(no group)")


@dataclass
class Block:
    """The rows of one (group, dataset family) in one split."""

    group: str
    family: str
    split: str
    rows: list[ResultRow]
    notes: list[str] = field(default_factory=list)
    mode: str = "pooled"  # the retrieval rows' scoring mode (one per block)

    @property
    def title(self) -> str:
        """``bible (test)``; a block scored in another mode says which."""
        suffix = "" if self.mode == "pooled" else f", {self.mode} scoring"
        return f"{self.family} ({self.split}{suffix})"


def report_blocks(
    store: ResultsStore, groups: Sequence[str] | None = None, split: str = "test"
) -> list[Block]:
    """The store's rows in ``split``, split by group, dataset family and scoring mode
    (sorted by name; the pooled block first, with the rows of the other tasks), less the
    rows of older trainings of retrained runs (:func:`optical.results.frames.older_trainings`)."""
    blocks: dict[tuple[str, str, str], list[ResultRow]] = {}
    for row in read_rows(store):
        group = row.group
        if row.split != split or (groups is not None and group not in groups):
            continue
        blocks.setdefault((group, row.family, row.mode or "pooled"), []).append(row)
    order = sorted(blocks, key=lambda key: (key[0], key[1], key[2] != "pooled", key[2]))
    return [Block(g, f, split, blocks[g, f, m], mode=m) for g, f, m in order]


def block_measures(block: Block) -> tuple[list[str], list[str]]:
    """(per-query measures for significance tables, aggregate-only measures) of a block.

    Rows of a family judged with grade 1 only that still carry grade-2 measures (stored before
    bench chose binary measures for such collections) lose those measures, with a note.
    """
    per_query = list(dict.fromkeys(m for r in block.rows for m in r.per_query))
    aggregate = list(dict.fromkeys(m for r in block.rows for m in r.metrics))
    retrieval = [r for r in block.rows if r.task == "retrieval"]
    if retrieval and not grade2_judged(retrieval) and {*per_query, *aggregate} & set(GRADE2_MEASURES):
        if GRADE1_NOTE not in block.notes:
            block.notes.append(GRADE1_NOTE)
        per_query = [m for m in per_query if m not in GRADE2_MEASURES]
    tables = [m for m in (*REPORT_RETRIEVAL_MEASURES, "mining_acc", "alignment") if m in per_query]
    shown_elsewhere = set(tables) | {m for m in aggregate if m in per_query}
    others = [m for m in aggregate if m not in shown_elsewhere and m in EXTRA_LABELS]
    return tables, others
