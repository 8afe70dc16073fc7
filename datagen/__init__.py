"""Synthetic dataset generation: twin outputs over scenario suites -> sharded HDF5 + manifest.

- :mod:`datagen.schema`: what a shard holds (fields, dtypes, shapes, units).
- :mod:`datagen.plan`: the generation config and its split into deterministic shard tasks.
- :mod:`datagen.shard`: tracing one shard's samples and writing it atomically.
- :mod:`datagen.generate`: running the plan (local processes or Ray), resuming, the manifest.
- :mod:`datagen.reader`: a lazy PyTorch ``Dataset`` over the shards with per-task views.
"""
