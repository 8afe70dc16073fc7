"""Scenario-suite evaluation of policies and baselines: closed-loop episodes, offline test sets, reports.

- :mod:`evaluation.suites`: suite TOML files (built-in: default, mobility, snr, tiny).
- :mod:`evaluation.runner`: runs the policies, returns metrics.
- :mod:`evaluation.plots`, :mod:`evaluation.report`: figures and ``report.md``.
- :mod:`evaluation.demo`: ``airtwin demo``.
"""
