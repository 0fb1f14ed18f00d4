"""Analyses behind the research-question notebooks and ``optical report``.

- :mod:`.inputs` — MIRACL, caption and verse-caption data as BEIR folders.
- :mod:`.low_resource` — RQ1: OT vs cross-entropy (and contrastive, MSE) with 10-100 pairs.
- :mod:`.embedding_space` — RQ2: alignment, uniformity, bitext mining before vs after distillation.
- :mod:`.domain_shift` — RQ3: in-domain vs shifted, precision-recall curves and F1.
- :mod:`.variance` — RQ4: spread and high-low gap across languages, CIs over seeds.
- :mod:`.scaling` — RQ5: the high-low gap as model size grows.
- :mod:`.notebook` — parameter injection and execution of the notebooks.
"""

from __future__ import annotations

__all__ = [
    "domain_shift",
    "embedding_space",
    "inputs",
    "low_resource",
    "notebook",
    "scaling",
    "variance",
]
