"""Plotly figures of optical's results and token alignments (no streamlit: usable in notebooks).

- :mod:`.token_figures` — token heatmaps (cost, plan, similarity) and alignment links.
- :mod:`.language_figures` — per-language bars, resource gap, spread, learning curves, bitext size;
- :mod:`.question_figures` — figures of the research-question notebooks and the report.
"""

from __future__ import annotations

from optical.viz.language_figures import (
    gap_bars,
    language_bars,
    learning_curves_figure,
    size_figure,
    spread_box,
)
from optical.viz.token_figures import (
    alignment_links,
    cost_heatmap,
    explanation_heatmap,
    plan_heatmap,
    token_heatmap,
)

__all__ = [
    "alignment_links",
    "cost_heatmap",
    "explanation_heatmap",
    "gap_bars",
    "language_bars",
    "learning_curves_figure",
    "plan_heatmap",
    "size_figure",
    "spread_box",
    "token_heatmap",
]
