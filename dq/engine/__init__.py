"""The rule engine: suites and rules, their compiled plans, the checks, one-pass evaluation.

A rule's way: a YAML suite (:mod:`dq.engine.suite`) becomes typed :class:`~dq.engine.suite.Rule`
plans, each compiled by its check (:mod:`dq.engine.checks`) into Polars expressions
(:mod:`dq.engine._plan`), all of a table's collected in one pass (:mod:`dq.engine.evaluate`) into
:class:`~dq.engine.results.RuleResult` outcomes.
"""
