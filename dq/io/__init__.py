"""The boundary with the outside world: what dq reads and where it writes.

The catalogue, the unit registry and the reference lists it ships (``rules/``, ``datasets/``),
site extracts (manifest and table files), the newsletters' published tables, batch roots given as
URLs, capped YAML, output folders, masking of what leaves dq, and terminal output.
"""
