"""Results: the store of evaluation rows, how rows are made and read back as frames.

- :mod:`.store` — the append-only JSONL store (:class:`ResultsStore`);
- :mod:`.collect` — evaluate systems on datasets into the store (``optical bench``);
- :mod:`.frames` — stored rows as tidy frames, seed statistics.
"""

from __future__ import annotations

from optical.results.store import (
    ResultsStore,
    ResultsStoreWarning,
    default_store_path,
    result_key,
    row_problem,
    versions,
)

__all__ = ["ResultsStore", "ResultsStoreWarning", "default_store_path", "result_key", "row_problem", "versions"]
