"""The main comparison at a glance: one task's systems x scoring modes on its primary measure.

One row per (system, scoring mode), one column per query language (mean over seeds of the
per-language means), then each low-resource language's gap to the teacher ceiling in the
same mode and the high−low gap.  The report puts it at the head of every (group, task)
whose rows were scored in more than one mode; the per-mode tables below it carry the
significance marks and the other measures.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from optical.assets.languages import XREF_WEB, resource_level
from optical.evaluation.comparison import Cell, Table, signed
from optical.evaluation.measure_sets import measure_label, primary_measure
from optical.report.paper_table import CEILINGS, MODE_NAMES, QUERY_NAMES, task_label
from optical.results.frames import results_frame
from optical.results.row import ResultRow

__all__ = ["OVERVIEW_CEILINGS", "mode_overview"]

#: The (system, query language) each task's overview measures its gaps against: the paper
#: tables' :data:`~optical.report.paper_table.CEILINGS`, and on aligned-verse retrieval the
#: teacher with English (KJV) queries, whose target is the WEB rendering of the same verse.
OVERVIEW_CEILINGS: dict[str, tuple[str, str]] = {
    "bible": ("zero-shot", "en"),
    **{task: entry[0] for task, entry in CEILINGS.items()},
}
_MODE_ORDER = tuple(MODE_NAMES)


def _fmt(value: float | None) -> str:
    return "–" if value is None or not np.isfinite(value) else f"{value:.3f}"


def _means(frame: pd.DataFrame) -> dict[tuple[str, str, str], float]:
    """(system, mode, language) -> mean over seeds (and repeats) of the stored means."""
    grouped = frame.groupby(["system", "mode", "language"], sort=False)["value"].mean()
    return {key: float(v) for key, v in grouped.items()}


def _seeds(frame: pd.DataFrame) -> dict[tuple[str, str], str]:
    """(system, mode) -> how many seeds its cells average ('–' for untrained systems)."""
    out = {}
    for (system, mode), part in frame.groupby(["system", "mode"], sort=False):
        seeds = part["seed"].dropna().unique()
        out[system, mode] = str(len(seeds)) if len(seeds) else "–"
    return out


def mode_overview(
    rows: Iterable[ResultRow | Mapping[str, Any]],
    family: str,
    split: str = "test",
    group: str | None = None,
    measure: str | None = None,
) -> Table | None:
    """Systems x scoring modes x languages of one task (``family``) on ``measure``.

    Parameters
    ----------
    rows : results rows (or a store's rows)
        Rows of any tasks; those of ``family`` in ``split`` (and ``group``) are used.
    family : str
        The dataset family, e.g. ``"bible-xref"``.
    measure : str, optional
        Default: the task's primary measure (R@1 (rel=2) on aligned verses, AP on
        cross-references).

    Returns
    -------
    Table or None
        None when the rows hold fewer than two scoring modes of the task (the per-mode
        table says it all) or none of ``measure``.
    """
    frame = results_frame(rows, group=group, split=split, family=family, task="retrieval")
    frame = frame[frame["mode"] != ""]
    modes = [m for m in _MODE_ORDER if m in set(frame["mode"])]
    if len(modes) < 2:
        return None
    measure = measure or primary_measure(frame["measure"].unique())
    if measure is None:
        return None
    frame = frame[frame["measure"] == measure]
    if frame.empty:
        return None
    languages = list(dict.fromkeys(frame["language"]))
    low = [lang for lang in languages if resource_level(lang) == "low"]
    high = [lang for lang in languages if resource_level(lang) == "high"]
    means, seeds = _means(frame), _seeds(frame)
    ceiling_system, ceiling_language = OVERVIEW_CEILINGS.get(family, (None, None))
    systems = list(dict.fromkeys(frame["system"]))
    header = ["system", "mode", *languages, *(f"{lang} gap" for lang in low), "high−low", "seeds"]
    table_rows: list[list[Cell | str]] = []
    for mode in modes:
        present = [s for s in systems if any((s, mode, lang) in means for lang in languages)]
        best = {lang: max((means[s, mode, lang] for s in present if (s, mode, lang) in means), default=None)
                for lang in languages}
        ceiling = means.get((ceiling_system, mode, ceiling_language)) if ceiling_system else None
        for system in present:
            values = {lang: means.get((system, mode, lang)) for lang in languages}
            cells: list[Cell | str] = [system, MODE_NAMES[mode]]
            cells += [Cell(_fmt(v), bold=v is not None and len(present) > 1 and v == best[lang])
                      for lang, v in values.items()]
            cells += [signed(None if ceiling is None or values[lang] is None else values[lang] - ceiling)
                      for lang in low]
            lows = [values[lang] for lang in low if values[lang] is not None]
            highs = [values[lang] for lang in high if values[lang] is not None]
            gap = float(np.mean(highs) - np.mean(lows)) if lows and highs else None
            cells += [signed(gap), seeds[system, mode]]
            table_rows.append(cells)
    label = measure_label(measure)
    notes = [f"{task_label([family])}, {label} (mean over queries, then over seeds), by scoring mode. "
             "Bold: best system per language within a mode."]
    if ceiling_system and low:
        queries = QUERY_NAMES.get(ceiling_language, f"{ceiling_language} queries")
        notes.append(f"Gap: the language's {label} minus the teacher ceiling's ({ceiling_system} with "
                     f"{queries}, {ceiling_language}) in the same mode; negative = below the ceiling.")
    if low and high:
        notes.append(f"High−low: mean over {', '.join(high)} minus mean over {', '.join(low)}"
                     + (f" ({XREF_WEB} left out)." if XREF_WEB in languages else "."))
    notes.append("Significance marks are in the per-mode tables below.")
    return Table(header, table_rows, align="ll" + "r" * (len(header) - 2), notes=notes)

