"""One table model, rendered many ways: per-language comparisons of systems against a baseline.

:class:`Comparison` holds what a paper table says, independent of how it is shown: the mean of
every (system, language, measure) cell over that language's queries, the macro-average ``Avg``
columns, the significance of each cell against a baseline system (from
:func:`optical.evaluation.tables.significance_table`: paired test, correction for multiple
comparisons, alpha) and the best value of each column.  It renders as

* :meth:`Comparison.to_markdown` -- the pipe table of the README, ``optical bench`` and
  ``optical report``;
* :meth:`Comparison.to_latex` -- a booktabs table for a paper, the legend as its caption;
* :meth:`Comparison.to_frame` -- a long frame of values and marks for notebooks and the app;
* :meth:`Comparison.difference_table` -- the same cells as signed differences from a reference
  value (e.g. the gap to a ceiling system's score), as a :class:`Table`.

:class:`Table` is the plain model underneath (header, rows of :class:`Cell`, alignment, notes):
the report's other tables (seeds, gaps, other measures) are built as one and rendered by the
same two writers.

One significance convention everywhere (:data:`MARKS`): ``†`` significantly better than the
baseline, ``‡`` significantly worse.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from optical.evaluation.significance import CorrectionName, TestName
from optical.evaluation.tables import averaged_languages, mean_table, significance_table

__all__ = [
    "CORRECTION_NAMES",
    "Cell",
    "Comparison",
    "LATEX_MARKS",
    "MARKS",
    "TEST_NAMES",
    "Table",
    "latex_escape",
    "markdown_escape",
    "signed",
    "significance_mark",
]

#: Significance marks by direction (``significance_table``'s ``direction`` column).
MARKS = {"better": "†", "worse": "‡", "": ""}
#: The same marks in LaTeX (math-mode superscripts).
LATEX_MARKS = {"better": r"$^\dagger$", "worse": r"$^\ddagger$", "": ""}
#: How legends name the paired tests and corrections of :mod:`optical.evaluation.significance`.
TEST_NAMES = {
    "randomization": "paired randomisation test",
    "bootstrap": "paired bootstrap test",
    "ttest": "paired t-test",
}
CORRECTION_NAMES = {"holm": "Holm", "bonferroni": "Bonferroni", "none": "no"}
_ALIGN = {"l": ":---", "r": "---:"}

_LATEX = {  # text-mode specials, then the symbols the tables and legends write
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
    "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}",
    "†": LATEX_MARKS["better"], "‡": LATEX_MARKS["worse"], "±": r"$\pm$", "−": r"$-$", "–": "--",
    "—": "---", "×": r"$\times$", "α": r"$\alpha$", "Δ": r"$\Delta$", "≥": r"$\geq$", "≤": r"$\leq$",
}
_LATEX_TABLE = str.maketrans(_LATEX)


def significance_mark(direction: str) -> str:
    """``†`` for ``"better"``, ``‡`` for ``"worse"``, ``""`` otherwise."""
    return MARKS.get(direction or "", "")


def signed(value: float, decimals: int = 3) -> str:
    """``value`` with its sign and ``decimals`` places (``+0.125``, ``-0.040``); a value that
    rounds to zero is ``+0.000``, never ``-0.000``; ``–`` when missing."""
    if value is None or pd.isna(value):
        return "–"
    return f"{round(float(value), decimals) + 0.0:+.{decimals}f}"


def markdown_escape(text: object) -> str:
    """Text safe inside a markdown pipe-table cell (``|`` escaped)."""
    return str(text).replace("|", "\\|")


def latex_escape(text: object) -> str:
    """Text safe in LaTeX (text mode): special characters escaped, the symbols the tables use
    (``† ‡ ± − – × α Δ``) written as LaTeX."""
    return str(text).translate(_LATEX_TABLE)


@dataclass(frozen=True)
class Cell:
    """One table cell: its text and how it is shown (bold, italic, significance mark)."""

    text: str
    bold: bool = False
    italic: bool = False
    direction: str = ""  # "better" | "worse" | "": the significance mark after the text

    @property
    def mark(self) -> str:
        return significance_mark(self.direction)

    def markdown(self) -> str:
        text = markdown_escape(self.text)
        if text and self.bold:
            text = f"**{text}**"
        if text and self.italic:
            text = f"*{text}*"
        return text + self.mark

    def latex(self) -> str:
        text = latex_escape(self.text)
        if text and self.bold:
            text = rf"\textbf{{{text}}}"
        if text and self.italic:
            text = rf"\textit{{{text}}}"
        return text + LATEX_MARKS.get(self.direction or "", "")


def _cell(value: Cell | object) -> Cell:
    return value if isinstance(value, Cell) else Cell(str(value))


@dataclass(frozen=True)
class Table:
    """A table as data: header, rows of cells, column alignment and notes (legend sentences).

    ``align`` has one letter per column, ``l`` or ``r`` (default: first column left, the
    others right).  Rows may hold plain strings; they are taken as unformatted cells.
    """

    header: Sequence[str]
    rows: Sequence[Sequence[Cell | str]]
    align: str | None = None
    notes: Sequence[str] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        width = len(self.header)
        align = self.align if self.align is not None else "l" + "r" * (width - 1)
        if len(align) != width or set(align) - set(_ALIGN):
            raise ValueError(f"align needs one of 'l'/'r' per column ({width}), got {align!r}")
        bad = [i for i, row in enumerate(self.rows) if len(row) != width]
        if bad:
            raise ValueError(f"rows {bad} do not have {width} cells")
        object.__setattr__(self, "align", align)

    def cells(self) -> list[list[Cell]]:
        return [[_cell(c) for c in row] for row in self.rows]

    # ------------------------------------------------------------------ markdown
    def markdown_body(self) -> str:
        """The pipe table alone (no trailing newline, no notes)."""

        def line(cells: Sequence[str]) -> str:
            return "|" + "|".join(f" {c} " if c else " " for c in cells) + "|"

        lines = [
            line([markdown_escape(h) for h in self.header]),
            "|" + "|".join(_ALIGN[a] for a in self.align) + "|",
        ]
        lines += [line([c.markdown() for c in row]) for row in self.cells()]
        return "\n".join(lines)

    def to_markdown(self) -> str:
        """The pipe table, then the notes as one paragraph; ends with a newline."""
        notes = " ".join(markdown_escape(n) for n in self.notes)
        return self.markdown_body() + (f"\n\n{notes}" if notes else "") + "\n"

    # --------------------------------------------------------------------- latex
    def to_latex(
        self, caption: str | None = None, label: str | None = None, notes: Sequence[str] = ()
    ) -> str:
        """A booktabs ``table`` environment; ``caption``, then the table's notes and ``notes``
        make its caption (escaped).  Needs ``\\usepackage{booktabs}``."""
        sentences = [s for s in (caption, *self.notes, *notes) if s]
        if caption and len(sentences) > 1 and caption[-1] not in ".:!?":
            sentences[0] = caption + "."
        lines = [r"\begin{table}[ht]", r"\centering"]
        if sentences:
            lines.append(r"\caption{" + latex_escape(" ".join(sentences)) + "}")
        if label:
            lines.append(r"\label{" + label + "}")
        lines += [
            r"\begin{tabular}{" + self.align + "}",
            r"\toprule",
            " & ".join(latex_escape(h) for h in self.header) + r" \\",
            r"\midrule",
        ]
        lines += [" & ".join(c.latex() for c in row) + r" \\" for row in self.cells()]
        lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
        return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Comparison:
    """Systems x (language, measure) means with significance marks against a baseline.

    Build one with :meth:`from_results`.  Attributes:

    means
        :func:`~optical.evaluation.tables.mean_table`: index ``system``, columns
        ``(language, measure)``, with ``("Avg", measure)`` columns when ``average``.
    significance
        :func:`~optical.evaluation.tables.significance_table` of the shown cells against
        ``baseline`` (None without a baseline); its ``attrs`` name the test, correction and
        alpha the legend reports.
    decimals, bold_best, average
        Rounding of the shown values; bold the best value of each column (ties after
        rounding all bold); whether the ``Avg`` columns are there.
    untested
        Columns (``language``, or ``language measure`` when several measures are shown) not
        tested because the baseline has no results there.
    """

    means: pd.DataFrame
    baseline: str | None = None
    significance: pd.DataFrame | None = None
    decimals: int = 3
    bold_best: bool = True
    average: bool = False
    test: str = "randomization"
    correction: str = "holm"
    alpha: float = 0.05
    untested: tuple[str, ...] = ()

    @classmethod
    def from_results(
        cls,
        results: pd.DataFrame,
        baseline: str | None = None,
        systems: Sequence[str] | None = None,
        languages: Sequence[str] | None = None,
        measures: Sequence[str] | None = None,
        decimals: int = 3,
        significance: pd.DataFrame | None = None,
        test: TestName = "randomization",
        correction: CorrectionName = "holm",
        alpha: float = 0.05,
        n_resamples: int = 10_000,
        seed: int = 0,
        bold_best: bool = True,
        average: bool = False,
    ) -> Comparison:
        """Compare systems on long per-query ``results`` (system, language, qid, measure,
        value; see :mod:`optical.evaluation.tables`).

        ``systems``, ``languages``, ``measures`` pick and order the rows and columns (default
        all, in order of first appearance).  With a ``baseline``, every other system is tested
        against it per language and measure (``test``, ``correction`` over the shown
        (language, system) pairs of a measure, ``alpha``, ``n_resamples``, ``seed``; see
        :func:`~optical.evaluation.tables.significance_table`), unless a precomputed
        ``significance`` table is given; the languages (and measures) the baseline has no
        results for are left untested (unmarked; :attr:`untested`, named in the legend).
        ``average`` adds macro-average ``Avg`` columns (never marked).
        """
        table = mean_table(results, systems, languages, measures, average=average)
        untested: tuple[str, ...] = ()
        if baseline is not None:
            if baseline not in table.index:
                raise ValueError(f"baseline {baseline!r} not among the shown systems")
            if significance is None:
                shown_measures = list(dict.fromkeys(table.columns.get_level_values("measure")))
                subset = results[
                    results["system"].isin(table.index)
                    & results["measure"].isin(shown_measures)
                    & results["language"].isin(table.columns.get_level_values("language"))
                ]
                # a cell is tested where the baseline has results (none: that column unmarked)
                cells = pd.MultiIndex.from_frame(subset[["language", "measure"]])
                based = cells[(subset["system"] == baseline).to_numpy()].unique()
                tested = cells.isin(based)
                untested = tuple(
                    str(lang) if len(shown_measures) == 1 else f"{lang} {m}"
                    for lang, m in cells[~tested].unique()
                )
                significance = significance_table(
                    subset[tested], baseline, test, correction, alpha, n_resamples, seed
                )
            attrs = significance.attrs
            test = attrs.get("test", test)
            correction = attrs.get("correction", correction)
            alpha = attrs.get("alpha", alpha)
        else:
            significance = None
        return cls(
            table, baseline, significance, decimals, bold_best, average, test, correction, alpha,
            untested,
        )

    # ------------------------------------------------------------------ contents
    @property
    def measures(self) -> list[str]:
        return list(dict.fromkeys(self.means.columns.get_level_values("measure")))

    @property
    def systems(self) -> list[str]:
        return list(self.means.index)

    def directions(self) -> dict[tuple[str, str, str], str]:
        """``(system, language, measure) -> "better" | "worse"`` of the significant cells."""
        out: dict[tuple[str, str, str], str] = {}
        if self.significance is None:
            return out
        for rec in self.significance.itertuples(index=False):
            if rec.direction:
                out[(str(rec.system), str(rec.language), str(rec.measure))] = rec.direction
        return out

    def _rounded(self) -> tuple[pd.DataFrame, pd.Series]:
        rounded = self.means.round(self.decimals)
        return rounded, rounded.max(axis=0)

    def _header(self, language: object, measure: object) -> str:
        return str(language) if len(self.measures) == 1 else f"{language} {measure}"

    def legend(self) -> list[str]:
        """The sentences under (markdown) or in the caption of (LaTeX) the table."""
        shown = self.measures
        legend = []
        if len(shown) == 1:
            legend.append(f"Measure: {shown[0]} (mean over queries of each language).")
        if self.average:
            languages = list(dict.fromkeys(lang for lang, _ in self.means.columns if lang != "Avg"))
            left_out = [lang for lang in languages if lang not in averaged_languages(languages)]
            without = f", {', '.join(left_out)} left out (its queries are the documents' own text)" if left_out else ""
            legend.append(f"Avg: macro average over languages{without}.")
        if self.bold_best:
            legend.append("Bold: best system per column.")
        if self.baseline is not None:
            attrs = self.significance.attrs if self.significance is not None else {}
            n_comp = attrs.get("n_comparisons", {})
            n_text = ""
            if n_comp:
                counts = sorted(set(n_comp.values()))
                n_text = f" over {counts[0] if len(counts) == 1 else counts} comparisons per measure"
            correction = CORRECTION_NAMES.get(self.correction, self.correction)
            legend.append(
                f"{MARKS['better']} / {MARKS['worse']}: significantly better / worse than "
                f"{self.baseline} ({TEST_NAMES.get(self.test, str(self.test))}, {correction} "
                f"correction{n_text}, α = {self.alpha})."
            )
            if self.untested:
                legend.append(
                    f"Not tested (no {self.baseline} results): {', '.join(self.untested)}."
                )
        return legend

    def table(self) -> Table:
        """The comparison as a :class:`Table`: rounded values, bold best, marks, legend."""
        rounded, best = self._rounded()
        directions = self.directions()
        rows = []
        for system in self.means.index:
            row = [Cell(str(system))]
            for lang, measure in self.means.columns:
                value = rounded.loc[system, (lang, measure)]
                if pd.isna(value):
                    row.append(Cell("–"))
                    continue
                row.append(
                    Cell(
                        f"{value:.{self.decimals}f}",
                        bold=bool(self.bold_best and value == best[(lang, measure)]),
                        direction=directions.get((str(system), str(lang), str(measure)), ""),
                    )
                )
            rows.append(row)
        return Table(self._headers(), rows, notes=self.legend())

    def _headers(self) -> list[str]:
        return ["System"] + [self._header(lang, m) for lang, m in self.means.columns]

    def difference_table(
        self, reference: float | Mapping[str, float], notes: Sequence[str] = ()
    ) -> Table:
        """The same cells (``Avg`` included) as signed differences ``mean − reference``, with
        ``decimals`` places (``–`` where a mean is missing): e.g. each system's gap to a ceiling.

        ``reference`` is one value, or one per shown measure (``{measure: value}``; needed when
        several measures are shown).  Differences are taken from the unrounded means; no bold
        and no significance marks (nothing is tested against the reference).  ``notes`` are the
        table's notes.
        """
        if not isinstance(reference, Mapping):
            if len(self.measures) > 1:
                raise ValueError(
                    f"{len(self.measures)} measures shown: give one reference value per measure"
                )
            reference = {m: float(reference) for m in self.measures}
        missing = [m for m in self.measures if m not in reference]
        if missing:
            raise ValueError(f"no reference value for {', '.join(missing)}")
        rows = []
        for system in self.means.index:
            row: list[Cell | str] = [Cell(str(system))]
            for lang, measure in self.means.columns:
                value = self.means.loc[system, (lang, measure)]
                row.append(Cell(signed(value - reference[measure], self.decimals)))
            rows.append(row)
        return Table(self._headers(), rows, notes=tuple(notes))

    # ----------------------------------------------------------------- renderers
    def to_markdown(self) -> str:
        """Markdown pipe table (one row per system; a column per language, or per language and
        measure when several measures are shown; missing cells ``–``) and its legend."""
        return self.table().to_markdown()

    def to_latex(
        self, caption: str | None = None, label: str | None = None, notes: Sequence[str] = ()
    ) -> str:
        """Booktabs LaTeX table: best values ``\\textbf``, marks ``$^\\dagger$`` / ``$^\\ddagger$``,
        the caption ``caption`` followed by the legend (test, correction, alpha) and ``notes``."""
        return self.table().to_latex(caption, label, notes)

    def to_frame(self) -> pd.DataFrame:
        """Long frame, one row per shown cell (``Avg`` included, never marked): ``system``,
        ``language``, ``measure``, ``value`` (unrounded mean), ``best`` (bold in the table),
        ``direction`` (``"better"`` / ``"worse"`` / ``""``), ``mark`` (``†`` / ``‡`` / ``""``),
        ``p_adjusted`` (NaN when not tested)."""
        rounded, best = self._rounded()
        directions = self.directions()
        p_adj: dict[tuple[str, str, str], float] = {}
        if self.significance is not None:
            for rec in self.significance.itertuples(index=False):
                p_adj[(str(rec.system), str(rec.language), str(rec.measure))] = rec.p_adjusted
        records = []
        for system in self.means.index:
            for lang, measure in self.means.columns:
                value = self.means.loc[system, (lang, measure)]
                key = (str(system), str(lang), str(measure))
                shown = rounded.loc[system, (lang, measure)]
                direction = directions.get(key, "")
                records.append(
                    {
                        "system": system,
                        "language": lang,
                        "measure": measure,
                        "value": float(value),
                        "best": bool(
                            self.bold_best and not pd.isna(shown) and shown == best[(lang, measure)]
                        ),
                        "direction": direction,
                        "mark": significance_mark(direction),
                        "p_adjusted": float(p_adj.get(key, np.nan)),
                    }
                )
        columns = ["system", "language", "measure", "value", "best", "direction", "mark", "p_adjusted"]
        return pd.DataFrame.from_records(records, columns=columns)
