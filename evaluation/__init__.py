"""Scenario-suite evaluation of policies and baselines: metrics, plots, reports."""
