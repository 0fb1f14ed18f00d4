"""Token-level figures: heatmaps with the real sub-word tokens on both axes, and links.

Axes are token *positions* labelled with the tokens (a sentence may repeat a token).
Sentences longer than ``max_tokens`` pieces are cut for display (the title says so);
figure heights grow with the number of rows, so a long sentence scrolls instead of
shrinking into an unreadable block.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

__all__ = [
    "MAX_TOKENS",
    "alignment_links",
    "cost_heatmap",
    "explanation_heatmap",
    "plan_heatmap",
    "token_heatmap",
]

MAX_TOKENS = 120


def _label(token: str) -> str:
    """A token as an axis label: HTML-escaped (``<s>`` must not become a tag)."""
    return html.escape(token if token.strip() else repr(token), quote=False)


def _cut(tokens: Sequence[str], limit: int) -> tuple[list[str], str]:
    shown = list(tokens[:limit])
    note = f"first {limit} of {len(tokens)}" if len(tokens) > limit else ""
    return shown, note


def token_heatmap(
    matrix: np.ndarray,
    row_tokens: Sequence[str],
    col_tokens: Sequence[str],
    *,
    title: str = "",
    value_name: str = "value",
    colorscale: str = "Viridis",
    zmin: float | None = None,
    zmax: float | None = None,
    hover: Mapping[str, np.ndarray] | None = None,
    row_title: str = "source",
    col_title: str = "target",
    max_tokens: int = MAX_TOKENS,
    marks: Sequence[tuple[int, int]] = (),
) -> go.Figure:
    """Heatmap of an ``[n, m]`` matrix with tokens on the axes.

    Parameters
    ----------
    matrix : numpy.ndarray, shape (n, m)
    row_tokens, col_tokens : sequence of str
        ``n`` and ``m`` token strings.
    value_name : str
        Name of the plotted value in the hover box.
    hover : mapping name -> array (n, m), optional
        More values shown on hover (e.g. the cost beside the plan's mass).
    max_tokens : int
        Rows and columns beyond this are not drawn (the title says how many are shown).
    marks : sequence of (i, j)
        Cells to mark with a dot (e.g. each row's best match).
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.ndim != 2:
        raise ValueError(f"matrix must be 2-d (n, m), got shape {matrix.shape}")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise ValueError(f"max_tokens must be an integer >= 1, got {max_tokens!r}")
    n, m = matrix.shape
    if (n, m) != (len(row_tokens), len(col_tokens)):
        raise ValueError(
            f"matrix is {n}x{m} but there are {len(row_tokens)} row and {len(col_tokens)} column tokens"
        )
    rows, row_note = _cut(row_tokens, max_tokens)
    cols, col_note = _cut(col_tokens, max_tokens)
    r, c = len(rows), len(cols)
    z = matrix[:r, :c]
    extra = {k: np.asarray(v, dtype=np.float64)[:r, :c] for k, v in (hover or {}).items()}
    custom = np.empty((r, c, 2 + len(extra)), dtype=object)
    custom[..., 0] = np.array([_label(t) for t in rows], dtype=object)[:, None]
    custom[..., 1] = np.array([_label(t) for t in cols], dtype=object)[None, :]
    lines = [
        f"{row_title}: %{{customdata[0]}}",
        f"{col_title}: %{{customdata[1]}}",
        f"{value_name}: %{{z:.4g}}",
    ]
    for k, (name, values) in enumerate(extra.items(), start=2):
        custom[..., k] = values
        lines.append(f"{name}: %{{customdata[{k}]:.4g}}")
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=list(range(c)),
            y=list(range(r)),
            customdata=custom,
            colorscale=colorscale,
            zmin=zmin,
            zmax=zmax,
            hovertemplate="<br>".join(lines) + "<extra></extra>",
            colorbar={"title": {"text": value_name}},
        )
    )
    pairs = [(i, j) for i, j in marks if i < r and j < c]
    if pairs:
        fig.add_trace(
            go.Scatter(
                x=[j for _, j in pairs],
                y=[i for i, _ in pairs],
                mode="markers",
                marker={"symbol": "circle-open", "size": 9, "color": "white", "line": {"width": 2}},
                hoverinfo="skip",
                showlegend=False,
                name="best match",
            )
        )
    notes = ", ".join(
        x
        for x in (row_note and f"{row_title}: {row_note}", col_note and f"{col_title}: {col_note}")
        if x
    )
    full_title = title + (f"<br><sup>showing {notes} tokens</sup>" if notes else "")
    font = 11 if max(r, c) <= 40 else 9
    label_px = int(font * 0.62 * max([len(t) for t in cols] + [1])) + 12  # vertical column labels
    top = (50 if notes else 34) + label_px
    fig.update_layout(
        title={
            "text": full_title,
            "y": 0.995,
            "yref": "container",
            "yanchor": "top",
            "x": 0.0,
            "xanchor": "left",
            "font": {"size": 14},
        },
        height=top + 60 + max(220, (font + 6) * r),
        margin={"l": 10, "r": 10, "t": top, "b": 50},
        xaxis={
            "tickmode": "array",
            "tickvals": list(range(c)),
            "ticktext": [_label(t) for t in cols],
            "tickangle": -90,
            "side": "top",
            "showgrid": False,
            "tickfont": {"size": font},
        },
        yaxis={
            "tickmode": "array",
            "tickvals": list(range(r)),
            "ticktext": [_label(t) for t in rows],
            "autorange": "reversed",
            "showgrid": False,
            "tickfont": {"size": font},
        },
    )
    # a thin horizontal colour bar below: the matrix keeps the figure's width
    fig.update_traces(
        colorbar={
            "orientation": "h",
            "thickness": 8,
            "len": 0.6,
            "x": 0.5,
            "xanchor": "center",
            "y": 0.0,
            "yref": "container",
            "yanchor": "bottom",
            "title": {"text": value_name, "side": "right"},
        },
        selector={"type": "heatmap"},
    )
    return fig


def cost_heatmap(
    cost: np.ndarray,
    src_tokens: Sequence[str],
    tgt_tokens: Sequence[str],
    *,
    title: str = "cost",
    max_tokens: int = MAX_TOKENS,
) -> go.Figure:
    """The cost matrix ``1 - cos`` (low = similar tokens)."""
    return token_heatmap(
        cost,
        src_tokens,
        tgt_tokens,
        title=title,
        value_name="cost",
        colorscale="Blues_r",
        zmin=0.0,
        zmax=float(max(1.0, np.nanmax(cost))) if np.size(cost) else 1.0,
        max_tokens=max_tokens,
    )


def plan_heatmap(
    plan: np.ndarray,
    src_tokens: Sequence[str],
    tgt_tokens: Sequence[str],
    *,
    cost: np.ndarray | None = None,
    title: str = "transport plan",
    max_tokens: int = MAX_TOKENS,
) -> go.Figure:
    """The transport plan (mass moved from each source to each target token)."""
    hover = {"cost": cost} if cost is not None else None
    return token_heatmap(
        plan,
        src_tokens,
        tgt_tokens,
        title=title,
        value_name="mass",
        colorscale="Blues",
        zmin=0.0,
        hover=hover,
        max_tokens=max_tokens,
    )


def explanation_heatmap(
    explanation, kind: str = "ot", *, max_tokens: int = MAX_TOKENS
) -> go.Figure:
    """Query x document tokens of a :class:`~optical.retrieval.Explanation`.

    ``kind="ot"``: the transport plan (hover: cosine); ``"similarity"``: cosines with
    each query token's MaxSim match circled.
    """
    q, d = explanation.query_tokens, explanation.doc_tokens
    if kind == "ot":
        return token_heatmap(
            explanation.ot_plan,
            q,
            d,
            title=f"OT plan (cost {explanation.ot_cost:.3f})",
            value_name="mass",
            colorscale="Blues",
            zmin=0.0,
            hover={"cosine": explanation.similarity},
            row_title="query",
            col_title="document",
            max_tokens=max_tokens,
        )
    if kind == "similarity":
        marks = [(i, int(j)) for i, j in enumerate(explanation.maxsim_index) if j >= 0]
        return token_heatmap(
            explanation.similarity,
            q,
            d,
            title=f"cosine, MaxSim {explanation.maxsim_score:.3f}",
            value_name="cosine",
            colorscale="Viridis",
            row_title="query",
            col_title="document",
            max_tokens=max_tokens,
            marks=marks,
        )
    raise ValueError(f"kind must be 'ot' or 'similarity', got {kind!r}")


def alignment_links(
    src_tokens: Sequence[str],
    tgt_tokens: Sequence[str],
    links: Sequence[tuple[int, int, float]],
    *,
    title: str = "alignment",
    src_title: str = "source",
    tgt_title: str = "target",
    max_tokens: int = MAX_TOKENS,
) -> go.Figure:
    """Two token columns (source left, target right) joined by the plan's links.

    ``links`` are ``(i, j, share)`` with ``share`` in [0, 1] (the link's share of source
    token ``i``'s mass): thicker, darker lines carry more.
    """
    for i, j, share in links:
        if not (0 <= i < len(src_tokens) and 0 <= j < len(tgt_tokens)):
            raise ValueError(
                f"link ({i}, {j}) is outside the {len(src_tokens)} x {len(tgt_tokens)} tokens"
            )
        if not 0 <= share <= 1 + 1e-9:
            raise ValueError(f"link ({i}, {j}) has share {share!r}; shares are in [0, 1]")
    src, src_note = _cut(src_tokens, max_tokens)
    tgt, tgt_note = _cut(tgt_tokens, max_tokens)
    n, m = len(src), len(tgt)
    span = max(n, m, 2) - 1

    def ys(k: int) -> np.ndarray:
        return np.linspace(0, span, k) if k > 1 else np.array([span / 2])

    y_src, y_tgt = ys(n), ys(m)
    fig = go.Figure()
    shown = [(i, j, s) for i, j, s in links if i < n and j < m]
    buckets = [
        (0.0, 0.25, 1.0, 0.25),
        (0.25, 0.5, 1.6, 0.45),
        (0.5, 0.75, 2.4, 0.7),
        (0.75, 1.01, 3.2, 0.95),
    ]
    for low, high, width, alpha in buckets:
        xs: list[float | None] = []
        yv: list[float | None] = []
        for i, j, s in shown:
            if low <= s < high:
                xs += [0.0, 1.0, None]
                yv += [float(y_src[i]), float(y_tgt[j]), None]
        if xs:
            fig.add_trace(
                go.Scatter(
                    x=xs,
                    y=yv,
                    mode="lines",
                    hoverinfo="skip",
                    showlegend=False,
                    line={"width": width, "color": f"rgba(31, 119, 180, {alpha})"},
                )
            )
    if shown:
        fig.add_trace(
            go.Scatter(
                x=[0.5] * len(shown),
                y=[(y_src[i] + y_tgt[j]) / 2 for i, j, _ in shown],
                mode="markers",
                marker={"size": 10, "opacity": 0},
                showlegend=False,
                hovertext=[
                    f"{_label(src[i])} → {_label(tgt[j])}: {s:.0%} of the source token's mass"
                    for i, j, s in shown
                ],
                hoverinfo="text",
            )
        )
    # the two token columns (x, heights, tokens, title, side of the labels, title anchor):
    # source at x = 0 labelled on its left, target at x = 1 labelled on its right
    columns = (
        (0.0, y_src, src, src_title, "left", "right"),
        (1.0, y_tgt, tgt, tgt_title, "right", "left"),
    )
    for x, y, tokens, name, side, _ in columns:
        fig.add_trace(
            go.Scatter(
                x=[x] * len(tokens),
                y=y,
                mode="markers+text",
                text=[_label(t) for t in tokens],
                textposition=f"middle {side}",
                marker={"size": 6, "color": "#444"},
                hoverinfo="text",
                hovertext=[f"{name} {k}: {_label(t)}" for k, t in enumerate(tokens)],
                showlegend=False,
            )
        )
    notes = ", ".join(
        x
        for x in (src_note and f"{src_title}: {src_note}", tgt_note and f"{tgt_title}: {tgt_note}")
        if x
    )
    fig.update_layout(
        title={"text": title + (f"<br><sup>showing {notes} tokens</sup>" if notes else "")},
        height=max(260, 80 + 20 * (span + 1)),
        margin={"l": 10, "r": 10, "t": 60, "b": 10},
        xaxis={"range": [-0.9, 1.9], "visible": False, "fixedrange": True},
        yaxis={"autorange": "reversed", "visible": False},
        annotations=[
            {
                "x": x,
                "y": 1.0,
                "xref": "x",
                "yref": "paper",
                "text": f"<b>{name}</b>",
                "showarrow": False,
                "xanchor": anchor,
                "yanchor": "bottom",
            }
            for x, _, _, name, _, anchor in columns
        ],
    )
    return fig
