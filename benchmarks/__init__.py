"""Benchmarks of the executor's *Ensure external networking resources* step.

``python benchmarks/run.py`` measures, for racks of growing size, the executor's converging
and no-op runs against a per-row baseline (one lookup and one write per row, the way the
upstream datastore does it) and against the floor of the work (one read of every row the step
needs, one bulk write of every row it creates). ``python benchmarks/profile_executor.py``
shows where an executor run spends its time. The shared code lives in
:mod:`benchmarks.harness` and :mod:`benchmarks.baseline`; ``tests/benchmarks`` runs a small,
fast version in CI.
"""
