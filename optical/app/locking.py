"""One lock around model calls shared by every app session.

Hugging Face fast tokenizers are not safe to call from several threads at once
("Already borrowed") when their truncation settings change between calls, and two
sessions running the same model at once on a 2-core machine gain nothing. The app
runs each model call (a query, an explanation, one alignment, one index batch) under
this re-entrant lock: sessions interleave call by call, none waits for a long job.
"""

from __future__ import annotations

import threading

__all__ = ["MODEL_LOCK"]

MODEL_LOCK = threading.RLock()
