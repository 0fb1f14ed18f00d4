"""Results: the store of evaluation rows, how rows are made and read back as frames.

- :mod:`.row` — the row schema: :class:`ResultRow`, :func:`make_row`, :func:`row_key`;
- :mod:`.store` — the append-only JSONL store (:class:`ResultsStore`);
- :mod:`.collect` — evaluate systems on datasets into the store (``optical bench``);
- :mod:`.frames` — stored rows as tidy frames, seed statistics.
"""

from __future__ import annotations

from optical.results.row import ResultRow, make_row, row_key, row_problem
from optical.results.store import ResultsStore, default_store_path, versions

__all__ = ["ResultRow", "ResultsStore", "default_store_path", "make_row", "row_key", "row_problem", "versions"]
