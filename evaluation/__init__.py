"""Scenario-suite evaluation of policies and baselines: closed-loop episodes, offline test sets, reports.

Suites (which scenarios, and the ``[evaluation]`` settings) are :mod:`airtwin.scenes.suites`.

- :mod:`airtwin.evaluation.runner`: runs the policies, returns metrics.
- :mod:`airtwin.evaluation.plots`, :mod:`airtwin.evaluation.report`: figures and ``report.md``.
- :mod:`airtwin.evaluation.demo`: ``airtwin demo``.
"""
