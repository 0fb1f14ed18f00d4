"""Sweeps: a declarative spec expands to runs, each trained, evaluated and stored (resumable).

- :mod:`.runner` — the spec (TOML), its plan, and :func:`~.runner.run_sweep`;
- :mod:`.questions` — research-question sweeps: a spec adapted by notebook parameters,
  methods x models, zero-shot systems per model.
"""
