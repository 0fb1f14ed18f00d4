"""Figures of per-language results: bars with significance marks, resource gap, spread
across languages, learning curves, and scores over bitext size.

Inputs are the long frames of :mod:`optical.app.results_view` (plain pandas, so notebooks can
build them from any results store).
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from optical.evaluation.measure_sets import TRAINING_LABELS
from optical.viz.palette import series_color as _color

__all__ = ["gap_bars", "language_bars", "learning_curves_figure", "size_figure", "spread_box"]


def language_bars(
    means: pd.DataFrame,
    measure: str,
    marks: pd.DataFrame | None = None,
    *,
    title: str | None = None,
) -> go.Figure:
    """Grouped bars: one group per language, one bar per system, for one measure.

    ``means``: columns system, language, measure, label, value (see
    :func:`optical.app.results_view.language_means`); ``marks``: measure, language, system,
    mark (``†`` / ``‡`` = significantly better / worse than the baseline, as in the tables).
    """
    part = means[means["measure"] == measure]
    mark = (
        {}
        if marks is None
        else {
            (r.language, r.system): r.mark for r in marks[marks["measure"] == measure].itertuples()
        }
    )
    label = part["label"].iloc[0] if len(part) else measure
    languages = list(dict.fromkeys(part["language"]))
    fig = go.Figure()
    crowded = part["system"].nunique() > 4  # then the bars carry only the marks
    for k, (system, group) in enumerate(part.groupby("system", sort=False)):
        values = dict(zip(group["language"], group["value"], strict=True))
        ys = [values.get(lang) for lang in languages]
        sig = [mark.get((lang, system), "") for lang in languages]
        text = [
            "" if v is None else (m.strip() if crowded else f"{v:.2f}{m}")
            for v, m in zip(ys, sig, strict=True)
        ]
        fig.add_trace(
            go.Bar(
                x=languages,
                y=ys,
                name=system,
                text=text,
                textposition="outside",
                marker_color=_color(k),
                hovertemplate=f"{system}<br>%{{x}}: %{{y:.3f}}<extra></extra>",
            )
        )
    fig.update_layout(
        barmode="group",
        title={"text": title or f"{label} per language"},
        yaxis={"title": {"text": label}, "range": [0, 1.08]},
        xaxis={"title": {"text": "language"}},
        legend={"orientation": "h", "y": -0.2},
        margin={"t": 50, "b": 10},
        height=420,
    )
    return fig


def gap_bars(gap: pd.DataFrame, *, title: str = "high- minus low-resource gap") -> go.Figure:
    """Bars of the gap per system (index) and measure (columns); lower = more even."""
    fig = go.Figure()
    few = len(gap.index) <= 3  # values written on the bars only when they fit
    for k, system in enumerate(gap.index):
        fig.add_trace(
            go.Bar(
                x=list(gap.columns),
                y=gap.loc[system].tolist(),
                name=str(system),
                marker_color=_color(k),
                text=[f"{v:+.3f}" for v in gap.loc[system]] if few else None,
                textposition="outside",
            )
        )
    fig.update_layout(
        barmode="group",
        title={"text": title},
        yaxis={"title": {"text": "high − low"}},
        legend={"orientation": "h", "y": -0.2},
        margin={"t": 50, "b": 10},
        height=360,
    )
    return fig


def spread_box(means: pd.DataFrame, measure: str, *, title: str | None = None) -> go.Figure:
    """Per-language scores of each system as a box with the languages as points."""
    part = means[means["measure"] == measure]
    label = part["label"].iloc[0] if len(part) else measure
    fig = go.Figure()
    for k, (system, group) in enumerate(part.groupby("system", sort=False)):
        fig.add_trace(
            go.Box(
                y=group["value"],
                name=system,
                boxpoints="all",
                pointpos=0,
                jitter=0.2,
                text=group["language"],
                marker_color=_color(k),
                boxmean="sd",
                hovertemplate="%{text}: %{y:.3f}<extra>" + system + "</extra>",
            )
        )
    fig.update_layout(
        title={"text": title or f"{label} across languages (box: spread, dashed: mean ± sd)"},
        yaxis={"title": {"text": label}},
        showlegend=False,
        margin={"t": 50, "b": 10},
        height=360,
    )
    return fig


def learning_curves_figure(curves: pd.DataFrame, *, smooth: int = 5) -> go.Figure:
    """Training loss (rolling mean over ``smooth`` steps) and dev MRR@10 against the step, per run."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=(TRAINING_LABELS["loss"], TRAINING_LABELS["dev_rr10"]))
    for k, (run, group) in enumerate(curves.groupby("path", sort=False)):
        name = group["run"].iloc[0] + ("" if group["finished"].iloc[0] else " (running)")
        loss = group[group["metric"] == "loss"].sort_values("step")
        dev = group[group["metric"] == "dev_rr10"].sort_values("step")
        if len(loss):
            fig.add_trace(
                go.Scatter(
                    x=loss["step"],
                    y=loss["value"].rolling(smooth, min_periods=1).mean(),
                    mode="lines",
                    name=name,
                    legendgroup=run,
                    line={"color": _color(k)},
                ),
                row=1,
                col=1,
            )
        if len(dev):
            fig.add_trace(
                go.Scatter(
                    x=dev["step"],
                    y=dev["value"],
                    mode="lines+markers",
                    name=name,
                    legendgroup=run,
                    showlegend=not len(loss),
                    line={"color": _color(k)},
                ),
                row=1,
                col=2,
            )
    fig.update_xaxes(title_text="step")
    fig.update_layout(
        height=380, legend={"orientation": "h", "y": -0.25}, margin={"t": 40, "b": 10}
    )
    return fig


def size_figure(curve: pd.DataFrame, label: str) -> go.Figure:
    """A measure against the number of bitext pairs (log axis), per objective and language."""
    fig = go.Figure()
    for k, ((objective, language), group) in enumerate(
        curve.groupby(["objective", "language"], sort=False)
    ):
        fig.add_trace(
            go.Scatter(
                x=group["pairs"],
                y=group["value"],
                mode="lines+markers",
                name=f"{objective} · {language}",
                line={"color": _color(k)},
                hovertemplate="%{x:,} pairs: %{y:.3f}<extra></extra>",
            )
        )
    fig.update_layout(
        title={"text": f"{label} over bitext size"},
        xaxis={"type": "log", "title": {"text": "pairs"}},
        yaxis={"title": {"text": label}},
        height=360,
        margin={"t": 50, "b": 10},
    )
    return fig
