"""Live cross-lingual search: a query in any language against an English corpus, with evidence."""

from __future__ import annotations

import streamlit as st

from app_pages import _shared as sh
from optical.app.datasets import build_command, corpus_info, dataset_problem
from optical.app.live_query import (
    UploadError,
    explain_hit,
    index_ready,
    matches_frame,
    parse_corpus,
    search,
)
from optical.viz.token_figures import explanation_heatmap

S = sh.settings()
st.title("Cross-lingual search")
st.caption(
    "A query in any language, encoded by the system's query encoder (a distilled run's student), against "
    "English documents encoded by the frozen teacher. Open a hit for its token-level evidence."
)
AUTO_BUILD_DOCS = 1000  # smaller corpora are indexed without asking
EXAMPLES = [
    "Mungu aliupenda ulimwengu",
    "Sapagka't gayon na lamang ang pagsinta ng Dios sa sanglibutan",
    "Selig sind die Sanftmütigen",
    "Heureux les pauvres en esprit",
]

systems = sh.systems(S)
by_label = {s.label: s for s in systems}
labels = list(by_label)
info = corpus_info(S)
c1, c2, c3, c4 = st.columns([2, 2, 1, 1])
usable = [s.label for s in systems if s.trained and not s.problem]
label = c1.selectbox(
    "System",
    labels,
    index=labels.index(usable[0]) if usable else 0,
    key="system",
    help="A trained run encodes the queries with its student and the English "
    "documents with its teacher.",
)
corpus_kind = c2.radio(
    "Corpus", [info.label, "Upload a corpus file"], horizontal=True, key="corpus"
)
mode = c3.selectbox(
    "Scoring",
    ["pooled", "maxsim", "ot"],
    key="mode",
    help="pooled: one vector per text; maxsim: late interaction (rerank of the top 100); "
    "ot: transport cost (rerank of the top 100).",
)
k = c4.number_input("Hits", min_value=1, max_value=50, value=10, key="k")
system = by_label[label]
if system.problem:
    st.error(system.problem)
    st.stop()

# -------------------------------------------------------------------- corpus
if corpus_kind == info.label:
    problem = dataset_problem(info.spec)
    if problem:
        st.warning(f"The corpus {info.spec} is not available: {problem}")
        st.code(build_command(info.spec), language="bash")
        st.stop()
    with sh.guard("Could not open the corpus"):
        docs = sh.corpus(info.spec)
        ready = index_ready(sh.encoder(system.system.doc_model, S.device), docs, info.name)
    if not ready and len(docs) > AUTO_BUILD_DOCS:
        st.info(
            f"The index of the {info.label} ({len(docs):,} documents) for {system.system.doc_model} is not "
            "built yet. Build it here (a few minutes on a CPU; other users wait meanwhile) or run:"
        )
        st.code(
            f"optical encode --model {system.system.doc_model} --corpus {info.spec} --tokens",
            language="bash",
        )
        if not st.button("Build the index now", key="build-index"):
            st.stop()
    with sh.guard("Could not open the index"):
        retriever = sh.retriever(
            system.system.query_model, system.system.doc_model, info.spec, info.name, S.device
        )
    st.caption(f"{info.label}: {len(retriever.index):,} documents.")
else:
    limit_mb = S.max_upload_bytes / 1024 / 1024
    upload = st.file_uploader(
        f'Corpus file: JSONL (`{{"id": …, "text": …}}` per line) or TSV (`id<TAB>text`), '
        f"UTF-8, at most {limit_mb:g} MB and {S.max_upload_docs:,} documents",
        type=["jsonl", "tsv", "txt", "json", "ndjson"],
        key="upload",
        max_upload_size=max(1, int(limit_mb + 0.999)) + 1,
    )
    if upload is None:
        st.info("Upload a corpus file to search it.")
        st.stop()
    try:
        parsed = parse_corpus(upload.name, upload.getvalue(), S.max_upload_bytes, S.max_upload_docs)
    except UploadError as err:
        st.error(str(err))
        st.stop()
    bar = st.progress(0.0, text=f"Indexing {upload.name} …")
    with sh.guard(f"Could not index {upload.name}"):
        retriever = sh.upload_retriever(
            system.system.query_model,
            system.system.doc_model,
            parsed,
            S.device,
            progress=lambda f, msg: bar.progress(f, text=msg),
        )
    bar.empty()
    st.caption(
        f"{parsed.name}: {len(parsed):,} documents"
        + (f" ({parsed.skipped} empty lines skipped)" if parsed.skipped else "")
        + "."
    )

# --------------------------------------------------------------------- query
picked = None
if corpus_kind == info.label and info.family == "bible":
    picked = st.pills("Examples", EXAMPLES, key="example", label_visibility="collapsed")
if picked and st.session_state.get("_last_example") != picked:
    st.session_state["query"] = picked
st.session_state["_last_example"] = picked
query = st.text_input(
    "Query (any language)", key="query", placeholder="e.g. Mungu aliupenda ulimwengu"
)
if not query:
    st.info("Type a query in any language and press Enter.")
    st.stop()
with sh.guard("Search failed"):
    try:
        outcome = search(retriever, query, k=int(k), mode=mode, max_chars=S.max_query_chars)
    except ValueError as err:  # the query itself (empty, invisible): a hint, not a failure
        st.warning(str(err))
        st.stop()
for note in outcome.notes:
    st.warning(note)
result = outcome.result
t = result.timings
st.markdown(
    f"**{len(result.hits)} hits** in **{t['total']:.0f} ms** (encode {t['encode']:.0f} ms · "
    f"search {t['search']:.0f} ms · rerank {t['rerank']:.0f} ms)"
)

for hit in result.hits:
    text = hit.text or ""
    short = text if len(text) <= 110 else text[:107] + "…"
    box = st.expander(
        f"#{hit.rank} · {hit.score:.3f} · {sh.md(hit.doc_id)} — {sh.md(short)}",
        expanded=hit.rank == 1,
        on_change="rerun",
        key=f"hit-{hit.rank}-{hit.doc_id}",
    )
    if not box.open:
        continue
    with box:
        st.markdown(sh.md(text))
        with sh.guard("Could not explain this hit", stop=False):
            ex = explain_hit(retriever, result.query, hit.doc_id, S.max_query_chars)
            e1, e2, e3 = st.columns(3)
            e1.metric("Pooled cosine", f"{ex.pooled_cosine:.3f}")
            e2.metric("MaxSim", f"{ex.maxsim_score:.3f}")
            e3.metric("OT cost", f"{ex.ot_cost:.3f}")
            view = st.radio(
                "Evidence",
                ["MaxSim matches", "Transport plan", "Similarity"],
                horizontal=True,
                key=f"view-{hit.rank}-{hit.doc_id}",
            )
            if view == "MaxSim matches":
                st.dataframe(
                    matches_frame(ex), hide_index=True, key=f"matches-{hit.rank}-{hit.doc_id}"
                )
            else:
                kind = "ot" if view == "Transport plan" else "similarity"
                st.plotly_chart(explanation_heatmap(ex, kind), key=f"fig-{hit.rank}-{hit.doc_id}")
