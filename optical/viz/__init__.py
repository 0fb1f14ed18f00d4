"""Plotly figures of optical's results and token alignments (no streamlit: usable in notebooks).

- :mod:`.alignment` — token heatmaps (cost, plan, similarity) and alignment links.
- :mod:`.results` — per-language bars, resource gap, spread, learning curves, bitext size.
"""

from __future__ import annotations

from optical.viz.alignment import (
    alignment_links,
    cost_heatmap,
    explanation_heatmap,
    plan_heatmap,
    token_heatmap,
)
from optical.viz.results import (
    gap_bars,
    language_bars,
    learning_curves_figure,
    size_figure,
    spread_box,
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
