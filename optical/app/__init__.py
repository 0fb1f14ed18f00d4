"""Non-UI logic of the Streamlit app (``app.py``, pages in ``app_pages/``).

- :mod:`.settings` — :class:`AppSettings` from environment variables.
- :mod:`.available_systems` — the systems on offer: zero-shot plus finished runs under the runs folders.
- :mod:`.transport_view` — token alignment of a sentence pair by entropic OT (cost, plan, links).
- :mod:`.live_query` — query checks, uploaded-corpus parsing, in-memory indexes, explanations.
- :mod:`.results_view` — per-language tables, significance marks, gaps, learning curves.

Nothing here imports streamlit: every function is usable from notebooks and tests.
"""

from __future__ import annotations

from optical.app.settings import AppSettings

__all__ = ["AppSettings"]
