"""optical's app: ``streamlit run app.py`` (settings: see :mod:`optical.app.settings`).

Three views, each a thin page over one library call:

- Alignment explorer (``app_pages/alignment.py``): OT token alignments, before vs after distillation;
- Per-language results (``app_pages/results.py``): the results store as bars, tables, gaps, curves;
- Cross-lingual search (``app_pages/search.py``): a query in any language against an English corpus.
"""

from __future__ import annotations

import streamlit as st
from streamlit import config as _config

st.set_page_config(page_title="optical", page_icon=":material/translate:", layout="wide")

# Failures are shown by the pages as messages; anything unforeseen shows its type and a generic
# message in the browser (the traceback goes to the server log) unless set otherwise
# (e.g. `streamlit run app.py --client.showErrorDetails full`).
if _config.get_where_defined("client.showErrorDetails") == _config.ConfigOption.DEFAULT_DEFINITION:
    st.set_option("client.showErrorDetails", "type")

PAGES = [
    st.Page(
        "app_pages/alignment.py",
        title="Alignment explorer",
        icon=":material/grid_on:",
        url_path="alignment",
        default=True,
    ),
    st.Page(
        "app_pages/results.py",
        title="Per-language results",
        icon=":material/bar_chart:",
        url_path="results",
    ),
    st.Page(
        "app_pages/search.py",
        title="Cross-lingual search",
        icon=":material/search:",
        url_path="search",
    ),
]

page = st.navigation(PAGES)
with st.sidebar:
    st.caption(
        "**optical** · cross-lingual IR by optimal-transport distillation (OPTICAL, WSDM 2023)"
    )
page.run()
