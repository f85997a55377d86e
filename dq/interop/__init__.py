"""Interoperability with other tools: Great Expectations suites, both ways."""
