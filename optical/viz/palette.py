"""The colour of the k-th series in every optical figure (plotly's qualitative palette, cycled)."""

from __future__ import annotations

from plotly.colors import qualitative

__all__ = ["series_color"]

_PALETTE = qualitative.Plotly


def series_color(k: int) -> str:
    """Colour of series ``k`` (0-based); the palette repeats after its last colour."""
    return _PALETTE[k % len(_PALETTE)]
