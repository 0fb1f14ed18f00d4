"""Alignment explorer: how a student and its teacher align tokens, before vs after distillation."""

from __future__ import annotations

import streamlit as st

from app_pages import _shared as sh
from optical.app.datasets import bitext_choices, build_command, dataset_problem
from optical.app.transport_view import DEFAULT_GEOMETRY, GEOMETRIES, AlignOptions
from optical.viz.token_figures import MAX_TOKENS, alignment_links, cost_heatmap, plan_heatmap

S = sh.settings()
st.title("Alignment explorer")
st.caption(
    "The student reads the foreign sentence, the frozen teacher the English one. Cost = 1 − cosine between "
    "their token vectors; the entropic OT plan is a soft token alignment and ⟨P, C⟩ the OPTICAL loss of the pair."
)

# ------------------------------------------------------------------ controls
with st.sidebar:
    st.subheader("Transport")
    eps = st.select_slider(
        "eps (entropy)",
        options=[0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0],
        value=0.05,
        key="eps",
        help="Smaller: sharper plans (closer to a hard alignment).",
    )
    unbalanced = st.toggle(
        "Unbalanced (relax the marginals)",
        key="unbalanced",
        help="Tokens may leave mass behind: reg_m penalises the marginal mismatch.",
    )
    reg_m = st.select_slider(
        "reg_m",
        options=[0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0],
        value=1.0,
        key="reg_m",
        disabled=not unbalanced,
    )
    geometry = st.radio(
        "Geometry",
        list(GEOMETRIES),
        index=list(GEOMETRIES).index(DEFAULT_GEOMETRY),
        horizontal=True,
        key="geometry",
        help="center: cosines after subtracting the teacher's mean token vector; whiten: "
        "centred, then whitened with the teacher's token covariance (the recipe of the main "
        "configs); raw: plain cosines (nearly uniform costs on e5). Pick the one the student "
        "was trained with (its run config, objective.geometry).",
    )
    st.subheader("Tokens that take part")
    special = st.checkbox("Special tokens (<s>, </s>)", key="special")
    prefix = st.checkbox("The instruction prefix (query: )", key="prefix")
    as_query = st.radio(
        "English read as",
        ["query (as in training)", "passage (as in the index)"],
        key="target_side",
    ).startswith("query")
    st.subheader("Links")
    rule = st.radio(
        "Rule",
        ["argmax", "mutual", "threshold"],
        horizontal=True,
        key="rule",
        help="argmax: each source token to its heaviest target; mutual: both ways; "
        "threshold: every link with at least this share of its source token's mass.",
    )
    threshold = st.slider(
        "Threshold", 0.05, 1.0, 0.3, 0.05, key="threshold", disabled=rule != "threshold"
    )

with sh.guard("Bad alignment settings"):
    options = AlignOptions(
        eps=float(eps),
        reg_m=float(reg_m) if unbalanced else None,
        geometry=geometry,
        special_tokens=special,
        prefix_tokens=prefix,
        target_as_query=as_query,
        link_rule=rule,
        threshold=float(threshold),
    )

# --------------------------------------------------------------------- input
systems = sh.systems(S)
labels = [s.label for s in systems]
by_label = {s.label: s for s in systems}
trained = [s.label for s in systems if s.trained and not s.problem]
c1, c2 = st.columns(2)
left = c1.selectbox("Before (left)", labels, index=0, key="left")
right = c2.selectbox(
    "After (right)", labels, index=labels.index(trained[0]) if trained else 0, key="right"
)
if not trained:
    st.info(
        "No trained student found under "
        + ", ".join(f"`{p}`" for p in S.runs)
        + ". Train one with `optical distill data.train=bible:sw run.out_dir=runs/optical-sw` "
        "(or set `OPTICAL_RUNS`) to compare before and after distillation."
    )

source_kind = st.radio(
    "Sentence pair", ["From the benchmark", "Type your own"], horizontal=True, key="source_kind"
)
if source_kind == "From the benchmark":
    choices = bitext_choices(S)
    b1, b2 = st.columns([1, 3])
    spec = b1.selectbox("Bitext", choices, key="bitext")
    problem = dataset_problem(spec)
    if problem:
        st.warning(f"{spec} is not available: {problem}")
        st.code(build_command(spec), language="bash")
        st.stop()
    with sh.guard(f"Could not read the bitext {spec}"):
        src_all, tgt_all, ids, src_lang, tgt_lang = sh.pairs(spec)
    if not src_all:
        st.warning(f"{spec} has no sentence pairs.")
        st.stop()
    number = b2.number_input(
        f"Pair (1–{len(src_all)})", min_value=1, max_value=len(src_all), value=1, step=1, key="pair"
    )
    source, target = src_all[int(number) - 1], tgt_all[int(number) - 1]
    st.markdown(
        f"**{sh.md(src_lang)}** · {sh.md(source)}  \n**{sh.md(tgt_lang)}** · {sh.md(target)}"
    )
    st.caption(f"pair id {sh.md(ids[int(number) - 1])}")
else:
    t1, t2 = st.columns(2)
    source = t1.text_area(
        "Source sentence (foreign, read by the student)",
        key="src_text",
        value="Mungu aliupenda ulimwengu sana",
    )
    target = t2.text_area(
        "Target sentence (English, read by the teacher)",
        key="tgt_text",
        value="God loved the world so much",
    )
    if not source.strip() or not target.strip():
        st.warning("Type both a source and a target sentence.")
        st.stop()

# ------------------------------------------------------------------- compute
results = {}
for side, label in (("left", left), ("right", right)):
    system = by_label[label]
    if system.problem:
        st.error(system.problem)
        st.stop()
    with sh.guard(f"Could not align with {label}"):
        results[side] = sh.alignment(
            system.student, system.teacher, source, target, options, S.bitext, S.device
        )
a_left, a_right = results["left"], results["right"]

m1, m2, m3, m4 = st.columns(4)
m1.metric(f"OT cost ⟨P, C⟩ · {sh.md(left)}", f"{a_left.ot_cost:.4f}")
m2.metric(
    f"OT cost ⟨P, C⟩ · {sh.md(right)}",
    f"{a_right.ot_cost:.4f}",
    delta=f"{a_right.ot_cost - a_left.ot_cost:+.4f}",
    delta_color="inverse",
)
m3.metric("Tokens (source × target)", f"{len(a_left.src_tokens)} × {len(a_left.tgt_tokens)}")
m4.metric("Transported mass", f"{a_left.mass:.3f} | {a_right.mass:.3f}")
notes = sorted(set(a_left.notes + a_right.notes))
big = max(
    len(a_left.src_tokens), len(a_left.tgt_tokens), len(a_right.src_tokens), len(a_right.tgt_tokens)
)
if big > MAX_TOKENS:
    notes.append(
        f"long sentence ({big} tokens): the figures show the first {MAX_TOKENS} tokens of each side"
    )
for note in notes:
    st.info(note)

st.caption(
    "Rows: the foreign sentence's tokens (student); columns: the English tokens (teacher). Hover a cell "
    "for both tokens, the cost and the mass; the links read the plan as an alignment."
)
layout = st.radio(
    "Layout",
    ["side by side", "stacked"],
    horizontal=True,
    key="layout",
    label_visibility="collapsed",
    help="Stacked gives long sentences the full width.",
)
tab_plan, tab_cost, tab_links = st.tabs(["Transport plan", "Cost matrix", "Alignment links"])
figures = {
    "plan": lambda a, t: plan_heatmap(a.plan, a.src_tokens, a.tgt_tokens, cost=a.cost, title=t),
    "cost": lambda a, t: cost_heatmap(a.cost, a.src_tokens, a.tgt_tokens, title=t),
    "links": lambda a, t: alignment_links(a.src_tokens, a.tgt_tokens, a.links, title=t),
}
for tab, (name, draw) in zip((tab_plan, tab_cost, tab_links), figures.items(), strict=True):
    with tab:
        columns = st.columns(2) if layout == "side by side" else [st.container(), st.container()]
        for col, side, label, al in (
            (columns[0], "left", left, a_left),
            (columns[1], "right", right, a_right),
        ):
            with col, sh.guard(f"Could not draw the {name} figure", stop=False):
                st.plotly_chart(draw(al, f"{label} · cost {al.ot_cost:.3f}"), key=f"{name}-{side}")
