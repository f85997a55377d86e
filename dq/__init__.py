"""dq: a data-quality auditing rule engine for regional health information platforms.

The public entry points are small: load suites (:func:`dq.suite.load_suites`), open an extract
(:func:`dq.sources.open_extract`) and audit it (:func:`dq.engine.audit_extract`).
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
