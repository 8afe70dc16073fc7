"""Gymnasium environments (closed-loop episodes over the twin), registered as ``AirTwin/...-v0``."""
