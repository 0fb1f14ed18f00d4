"""optical: cross-lingual IR for low-resource languages through optimal-transport distillation."""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
