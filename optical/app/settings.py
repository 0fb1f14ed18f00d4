"""App settings from environment variables (so tests and demos can point the app anywhere).

=============================  ===========================================  ==============================
variable                       meaning                                      default
=============================  ===========================================  ==============================
``OPTICAL_RESULTS``            results store read by the results view       ``runs/results.jsonl``
``OPTICAL_RUNS``               run folders scanned for finished runs        ``runs``
                               (``os.pathsep``-separated)
``OPTICAL_APP_MODEL``          the zero-shot model (both sides)             ``bundled:multilingual-e5-small``
``OPTICAL_APP_BITEXT``         bitext offered by the alignment explorer     ``bible:sw``
``OPTICAL_APP_CORPUS``         dataset whose corpus the search view uses    ``bible:sw`` (English NT)
``OPTICAL_APP_DEVICE``         torch device for the models                  ``cpu``
``OPTICAL_APP_MAX_UPLOAD_MB``  largest uploaded corpus file                 ``5``
``OPTICAL_APP_MAX_UPLOAD_DOCS``  most documents in an uploaded corpus       ``5000``
``OPTICAL_APP_MAX_QUERY_CHARS``  longer queries are cut to this many chars  ``2000``
=============================  ===========================================  ==============================
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

from optical.results import default_store_path
from optical.systems import ZERO_SHOT

__all__ = ["AppSettings"]


def _number(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"${name}={raw!r} is not a number") from None
    if not (0 < value < math.inf):  # also refuses nan
        raise ValueError(f"${name} must be a positive finite number, got {raw!r}")
    return value


@dataclass(frozen=True)
class AppSettings:
    """Where the app finds its data and how large inputs may be (see the module docstring)."""

    results: Path
    runs: tuple[Path, ...]
    zero_shot_model: str = ZERO_SHOT
    bitext: str = "bible:sw"
    corpus: str = "bible:sw"
    device: str = "cpu"
    max_upload_bytes: int = 5 * 1024 * 1024
    max_upload_docs: int = 5000
    max_query_chars: int = 2000

    @classmethod
    def from_env(cls) -> AppSettings:
        """Read the settings from the environment (defaults for unset variables)."""
        runs = os.environ.get("OPTICAL_RUNS", "").strip() or "runs"
        return cls(
            results=default_store_path(),
            runs=tuple(Path(p) for p in runs.split(os.pathsep) if p.strip()),
            zero_shot_model=os.environ.get("OPTICAL_APP_MODEL", "").strip() or ZERO_SHOT,
            bitext=os.environ.get("OPTICAL_APP_BITEXT", "").strip() or "bible:sw",
            corpus=os.environ.get("OPTICAL_APP_CORPUS", "").strip() or "bible:sw",
            device=os.environ.get("OPTICAL_APP_DEVICE", "").strip() or "cpu",
            max_upload_bytes=int(_number("OPTICAL_APP_MAX_UPLOAD_MB", 5) * 1024 * 1024),
            max_upload_docs=int(_number("OPTICAL_APP_MAX_UPLOAD_DOCS", 5000)),
            max_query_chars=int(_number("OPTICAL_APP_MAX_QUERY_CHARS", 2000)),
        )
