"""Per-language results: the results store as bars, tables, gaps, spread and learning curves."""

from __future__ import annotations

import streamlit as st

from app_pages import _shared as sh
from optical.app.results_view import (
    EMPTY_HINT,
    csv_frame,
    display_table,
    gap_table,
    language_means,
    learning_curves,
    size_curve,
    spread_table,
)
from optical.evaluation.measure_sets import LABEL_NOTE, measure_label
from optical.viz.language_figures import (
    gap_bars,
    language_bars,
    learning_curves_figure,
    size_figure,
    spread_box,
)

ALL_GROUPS = "(all experiments)"
S = sh.settings()
st.title("Per-language results")

with sh.guard(f"Could not read the results store {S.results}"):
    data = sh.results(S.results)

if data.empty:
    st.info(
        f"The results store `{S.results}` is empty (or absent). Fill it by evaluating the zero-shot model "
        "(and any trained runs) on the benchmark languages:"
    )
    st.code(
        f"{EMPTY_HINT}\n# with trained runs too:\n{EMPTY_HINT} runs/<run folder>", language="bash"
    )
else:
    groups = data.groups()
    if len(groups) > 1:
        group = st.selectbox(
            "Experiment",
            [*groups, ALL_GROUPS],
            key="group",
            format_func=lambda g: g or "(no group)",
            help="A sweep or bench group. The same system name can mean different trainings "
            "in different experiments, so one experiment is shown at a time by default.",
        )
        data = data.in_group(None if group == ALL_GROUPS else group)
    else:
        group = ALL_GROUPS
    modes = data.modes()
    if len(modes) > 1:  # one scoring mode at a time: rows of two modes are two results
        mode = st.selectbox("Scoring", modes, key="mode",
                            help="pooled vectors, MaxSim (late interaction) or OT rerank, as `optical bench --mode`")
        data = data.in_mode(mode)
    else:
        mode = modes[0] if modes else None
    c1, c2, c3, c4 = st.columns([1, 1, 3, 1])
    split = c1.selectbox("Split", data.splits(), key="split")
    fam = c2.selectbox("Benchmark", data.families(), key="family")
    present = data.systems()
    # one selection per experiment: system names differ between experiments
    systems_key = "systems" if group == ALL_GROUPS else f"systems:{group}"
    chosen = c3.multiselect("Systems", present, default=present, key=systems_key)
    baseline = c4.selectbox(
        "Baseline",
        present,
        index=0,
        key="baseline",
        help="† / ‡: significantly better / worse than the baseline (paired randomisation "
        "test, Holm-corrected over languages and systems, α = 0.05), as in `optical bench` "
        "and `optical report` tables.",
    )
    if not chosen:
        st.warning("Pick at least one system.")
        st.stop()
    measures = data.table_measures(split, fam)  # graded (Bible) or binary, as bench chose
    measure = st.radio(
        "Measure",
        list(measures),
        format_func=measure_label,
        horizontal=True,
        key="measure",
    )
    with sh.guard("Could not summarise the results"):
        means = language_means(data, split, fam, systems=chosen)
        marks = sh.marks(
            S.results,
            split,
            fam,
            tuple(dict.fromkeys([baseline, *chosen])),
            baseline,
            None if group == ALL_GROUPS else group,
            mode if len(modes) > 1 else None,
        )
        marks = marks[marks["system"].isin(chosen)]
    if means.empty:
        st.warning(f"No {fam} results on the {split} split for these systems.")
        st.stop()

    st.plotly_chart(language_bars(means, measure, marks), key="bars")
    st.subheader("Table")
    st.caption(
        f"Mean over queries (and over runs of a system); † / ‡: significantly better / worse "
        f"than **{baseline}**. {LABEL_NOTE}"
    )
    tabs = st.tabs([measure_label(m) for m in measures])
    for tab, m in zip(tabs, measures, strict=True):
        table = display_table(means, marks, m)
        if table.empty:
            tab.info(f"No {measure_label(m)} values.")
        else:
            tab.dataframe(
                table.reset_index(),
                hide_index=True,
                key=f"table-{m}",
                column_config={"system": st.column_config.TextColumn(width="medium")},
            )
    st.download_button(
        "Download CSV",
        csv_frame(means, marks, split, fam).to_csv(index=False).encode(),
        file_name=f"optical-results-{fam}-{split}.csv",
        mime="text/csv",
        key="csv",
    )

    st.subheader("High- vs low-resource gap, and spread across languages")
    g1, g2 = st.columns(2)
    with g1, sh.guard("Could not compute the gap", stop=False):
        gap, note = gap_table(data, split, fam, systems=chosen)
        if gap is None:
            st.info(f"No gap: {note}.")
        else:
            st.plotly_chart(gap_bars(gap), key="gap")
            st.caption(note)
    with g2, sh.guard("Could not compute the spread", stop=False):
        st.plotly_chart(spread_box(means, measure), key="spread")
        spread = spread_table(data, split, fam, measure, systems=chosen)
        if not spread.empty:
            st.dataframe(
                spread.reset_index().style.format(precision=3, na_rep="–"),
                hide_index=True,
                key="spread-table",
                column_config={"system": st.column_config.TextColumn(width="medium")},
            )

    curve = size_curve(data, split, fam, measure)
    if not curve.empty:
        st.subheader("Over bitext size")
        st.plotly_chart(size_figure(curve, measure_label(measure)), key="size")

st.subheader("Learning curves")
folders = sh.runs(tuple(str(p) for p in S.runs))
curves = learning_curves(folders)
if curves.empty:
    st.info(
        "No training run with a `metrics.jsonl` under "
        + ", ".join(f"`{p}`" for p in S.runs)
        + " (set `OPTICAL_RUNS` to scan other folders)."
    )
else:
    names = list(dict.fromkeys(curves["path"]))
    picked = st.multiselect(
        "Runs",
        names,
        default=names[:8],
        key="runs",
        format_func=lambda p: curves.loc[curves["path"] == p, "run"].iloc[0] + f" ({p})",
    )
    st.plotly_chart(learning_curves_figure(curves[curves["path"].isin(picked)]), key="curves")
