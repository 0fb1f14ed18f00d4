"""Figures of the research-question notebooks and the report (plain plotly, no streamlit).

Inputs are the frames of :mod:`optical.analysis` (seed statistics with ``mean``,
``ci_low``, ``ci_high`` columns, curves, alignment tables). Error bars are t-intervals
over seeds; a cell with one seed has none.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from optical.viz.palette import series_color

__all__ = [
    "score_bars",
    "budget_figure",
    "embedding_scatter",
    "pr_curves_figure",
    "shift_figure",
    "ci_figure",
    "scaling_figure",
]

def _where(frame: pd.DataFrame, **values: object) -> pd.DataFrame:
    """The rows of ``frame`` whose columns hold all of ``values`` (``column=value``)."""
    return frame[functools.reduce(operator.and_, (frame[c] == v for c, v in values.items()))]


def _series(
    fig: go.Figure, name: str, k: int, first: bool, row: int, col: int, **trace: object
) -> None:
    """Add line series ``k`` (colour ``k``) to panel (``row``, ``col``); the legend shows it
    once (``first``) for all panels, grouped by ``name``."""
    fig.add_trace(
        go.Scatter(
            name=name,
            legendgroup=name,
            showlegend=first,
            line={"color": series_color(k)},
            **trace,
        ),
        row=row,
        col=col,
    )


def _by_group(stats: pd.DataFrame, x: str, color: str) -> tuple[list, list[tuple]]:
    """The ``x`` values in first-seen order, and ``(name, rows)`` per ``color`` group with
    its rows put in that order (NaN where the group has no row for an ``x``)."""
    order = list(dict.fromkeys(stats[x]))
    groups = [
        (name, part.set_index(x).reindex(order).reset_index())
        for name, part in stats.groupby(color, sort=False)
    ]
    return order, groups


def _errors(part: pd.DataFrame) -> dict | None:
    if "ci_low" not in part or part["ci_low"].isna().all():
        return None
    return {
        "type": "data",
        "symmetric": False,
        "array": (part["ci_high"] - part["mean"]).fillna(0).tolist(),
        "arrayminus": (part["mean"] - part["ci_low"]).fillna(0).tolist(),
    }


def score_bars(
    stats: pd.DataFrame,
    label: str,
    x: str = "language",
    color: str = "system",
    title: str | None = None,
) -> go.Figure:
    """Grouped bars of ``mean`` (with CI error bars when present), one group per ``x``."""
    fig = go.Figure()
    order, groups = _by_group(stats, x, color)
    for k, (name, part) in enumerate(groups):
        fig.add_trace(
            go.Bar(
                x=part[x],
                y=part["mean"],
                name=str(name),
                marker_color=series_color(k),
                error_y=_errors(part),
                hovertemplate=f"{name}<br>%{{x}}: %{{y:.3f}}<extra></extra>",
            )
        )
    fig.update_layout(
        barmode="group",
        title={"text": title or f"{label} per {x}"},
        yaxis_title=label,
        xaxis_title=x,
        legend={"orientation": "h", "y": -0.25},
        height=420,
        margin={"t": 50},
    )
    return fig


def budget_figure(
    curve: pd.DataFrame, label: str, language: str | None = None, title: str | None = None
) -> go.Figure:
    """Score vs number of training pairs, one line per method, one panel per model;
    the model's zero-shot score (``pairs == 0``) is a dashed line."""
    part = curve if language is None else curve[curve["language"] == language]
    models = list(dict.fromkeys(part["model"])) or [""]
    fig = make_subplots(
        rows=1, cols=len(models), subplot_titles=[m or "model" for m in models], shared_yaxes=True
    )
    methods = [m for m in dict.fromkeys(part["method"]) if m != "zero-shot"]
    for col, model in enumerate(models, start=1):
        mpart = _where(part, model=model)
        zero = _where(mpart, method="zero-shot")
        for k, method in enumerate(methods):
            line = (
                _where(mpart, method=method)
                .groupby("pairs", as_index=False)
                .agg(mean=("mean", "mean"), ci_low=("ci_low", "mean"), ci_high=("ci_high", "mean"))
            )
            if line.empty:
                continue
            _series(fig, method, k, col == 1, 1, col, x=line["pairs"], y=line["mean"],
                    mode="lines+markers", error_y=_errors(line))  # fmt: skip
        if not zero.empty:
            fig.add_hline(
                y=float(zero["mean"].mean()),
                line_dash="dash",
                line_color="grey",
                annotation_text="zero-shot",
                row=1,
                col=col,
            )
        fig.update_xaxes(type="log", title_text="training pairs", row=1, col=col)
    fig.update_yaxes(title_text=label, row=1, col=1)
    fig.update_layout(
        title={
            "text": title or f"{label} vs training pairs" + (f" ({language})" if language else "")
        },
        height=420,
        legend={"orientation": "h", "y": -0.25},
        margin={"t": 60},
    )
    return fig


def embedding_scatter(table: pd.DataFrame, title: str = "alignment vs uniformity") -> go.Figure:
    """Wang & Isola's plane: uniformity (x) vs alignment (y), one marker per (system,
    language); lower-left is better on both."""
    fig = go.Figure()
    for k, (system, part) in enumerate(table.groupby("system", sort=False)):
        fig.add_trace(
            go.Scatter(
                x=part["uniformity"],
                y=part["alignment"],
                mode="markers+text",
                name=str(system),
                text=part["language"],
                textposition="top center",
                marker={"color": series_color(k), "size": 10},
            )
        )
    fig.update_layout(
        title={"text": title},
        xaxis_title="uniformity (lower = more spread)",
        yaxis_title="alignment (lower = translations closer)",
        height=460,
        legend={"orientation": "h", "y": -0.2},
    )
    return fig


def pr_curves_figure(
    curves: pd.DataFrame,
    best: pd.DataFrame | None = None,
    title: str = "precision-recall of a global score threshold",
) -> go.Figure:
    """Precision vs recall, one panel per (language, domain), one line per system; the
    best-F1 point of each curve is marked when ``best`` is given."""
    panels = list(dict.fromkeys(zip(curves["language"], curves["domain"], strict=True)))
    cols = min(len(panels), 3) or 1
    rows = int(np.ceil(len(panels) / cols)) or 1
    fig = make_subplots(
        rows=rows, cols=cols, subplot_titles=[f"{lang} · {dom}" for lang, dom in panels]
    )
    systems = list(dict.fromkeys(curves["system"]))
    for p, (lang, dom) in enumerate(panels):
        r, c = p // cols + 1, p % cols + 1
        for k, system in enumerate(systems):
            part = _where(curves, language=lang, domain=dom, system=system)
            _series(fig, system, k, p == 0, r, c, x=part["recall"], y=part["precision"],
                    mode="lines")  # fmt: skip
            if best is not None:
                b = _where(best, language=lang, domain=dom, system=system)
                fig.add_trace(
                    go.Scatter(
                        x=b["recall"],
                        y=b["precision"],
                        mode="markers",
                        legendgroup=system,
                        showlegend=False,
                        marker={"color": series_color(k), "size": 9, "symbol": "x"},
                        hovertemplate=f"{system}: best F1 %{{customdata:.3f}}<extra></extra>",
                        customdata=b["f1"],
                    ),
                    row=r,
                    col=c,
                )
        fig.update_xaxes(title_text="recall", range=[0, 1], row=r, col=c)
        fig.update_yaxes(title_text="precision", range=[0, 1.02], row=r, col=c)
    fig.update_layout(
        title={"text": title}, height=320 * rows + 80, legend={"orientation": "h", "y": -0.1}
    )
    return fig


def shift_figure(shift: pd.DataFrame, label: str, title: str | None = None) -> go.Figure:
    """In-domain vs shifted score per system (bars side by side), one panel per language."""
    languages = list(dict.fromkeys(shift["language"]))
    fig = make_subplots(
        rows=1, cols=len(languages) or 1, subplot_titles=languages, shared_yaxes=True
    )
    for col, lang in enumerate(languages, start=1):
        part = _where(shift, language=lang)
        for k, (column, name) in enumerate((("in_domain", "in domain"), ("shifted", "shifted"))):
            fig.add_trace(
                go.Bar(
                    x=part["system"] + (" · " + part["domain"] if column == "shifted" else ""),
                    y=part[column],
                    name=name,
                    marker_color=series_color(k),
                    showlegend=col == 1,
                    legendgroup=name,
                ),
                row=1,
                col=col,
            )
    fig.update_yaxes(title_text=label, row=1, col=1)
    fig.update_layout(
        barmode="group",
        title={"text": title or f"{label}: in domain vs shifted"},
        height=440,
        legend={"orientation": "h", "y": -0.35},
    )
    return fig


def ci_figure(
    stats: pd.DataFrame,
    label: str,
    x: str = "language",
    color: str = "system",
    title: str | None = None,
) -> go.Figure:
    """Means with t-interval error bars (over seeds), markers offset per ``color`` group."""
    fig = go.Figure()
    order, groups = _by_group(stats, x, color)
    for k, (name, part) in enumerate(groups):
        offset = (k - (len(groups) - 1) / 2) * 0.12
        xs = [i + offset for i in range(len(order))]
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=part["mean"],
                mode="markers",
                name=str(name),
                error_y=_errors(part),
                marker={"color": series_color(k), "size": 9},
                text=part[x],
                hovertemplate=f"{name}<br>%{{text}}: %{{y:.3f}}<extra></extra>",
            )
        )
    fig.update_layout(
        title={"text": title or f"{label} (mean and 95% CI over seeds)"},
        yaxis_title=label,
        xaxis={
            "tickmode": "array",
            "tickvals": list(range(len(order))),
            "ticktext": order,
            "title": {"text": x},
        },
        height=420,
        legend={"orientation": "h", "y": -0.25},
    )
    return fig


def scaling_figure(
    table: pd.DataFrame,
    label: str,
    stats: Sequence[str] = ("gap", "low", "high"),
    title: str | None = None,
) -> go.Figure:
    """One panel per statistic (gap, low- and high-resource means) vs non-embedding
    parameters (log axis), one line per method, CI error bars over seeds."""
    fig = make_subplots(rows=1, cols=len(stats), subplot_titles=[f"{label}: {s}" for s in stats])
    methods = list(dict.fromkeys(table["method"]))
    for col, stat in enumerate(stats, start=1):
        for k, method in enumerate(methods):
            part = _where(table, stat=stat, method=method).sort_values("non_embedding")
            _series(fig, method, k, col == 1, 1, col, x=part["non_embedding"], y=part["mean"],
                    mode="lines+markers+text", text=part["model"], textposition="top center",
                    error_y=_errors(part))  # fmt: skip
        fig.update_xaxes(type="log", title_text="non-embedding parameters", row=1, col=col)
    fig.update_layout(
        title={"text": title or f"{label} gap between high- and low-resource languages vs size"},
        height=440,
        legend={"orientation": "h", "y": -0.3},
    )
    return fig
