"""AirTwin: a ray-traced digital twin for AI-native 6G air interfaces.

The project's layers live in top-level packages: ``scenes`` (what the world is),
``twin`` (ray tracing to channels), ``envs`` (Gymnasium), ``model`` (the universal
model) and ``evaluation``. This package holds the command line and shared helpers.
"""

__version__ = "0.1.0"
