"""Analyses behind the research-question notebooks and ``optical report``.

- :mod:`.frames` — results-store rows as tidy frames; seed statistics; a filtered store view.
- :mod:`.sweeps` — sweep specs adapted by parameters, methods x models, zero-shot systems.
- :mod:`.inputs` — MIRACL, caption and verse-caption data as BEIR folders.
- :mod:`.low_resource` — RQ1: OT vs cross-entropy (and contrastive, MSE) with 10-100 pairs.
- :mod:`.alignment` — RQ2: alignment, uniformity, bitext mining before vs after distillation.
- :mod:`.domain_shift` — RQ3: in-domain vs shifted, precision-recall curves and F1.
- :mod:`.variance` — RQ4: spread and high-low gap across languages, CIs over seeds.
- :mod:`.scaling` — RQ5: the high-low gap as model size grows.
- :mod:`.notebook` — parameter injection and execution of the notebooks.
"""

from __future__ import annotations

__all__ = [
    "alignment",
    "domain_shift",
    "frames",
    "inputs",
    "low_resource",
    "notebook",
    "scaling",
    "sweeps",
    "variance",
]
