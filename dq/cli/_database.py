"""Command-line options naming a database's layout (``dq score URL``, ``dq audit URL``).

Each option sets one field of :class:`dq.io.database.DatabaseLayout`. The layout comes from the
project's ``[database]`` section (:meth:`dq.project.Project.database_layout`); an option given
overrides its key (``--db-table`` / ``--db-column`` / ``--db-unit-source`` add to the file's
names, replacing the same table, column or unit).
"""

from __future__ import annotations

import argparse
from typing import Any

from dq.cli._common import seconds

__all__ = ["add_database_options", "layout_from_args", "project_layout"]


def _pair(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name or not value:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text[:60]!r}")
    return name, value


def add_database_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group(
        "database layout (a postgresql://, sqlite:/// or duckdb:/// URL; docs/databases.md)"
    )
    g.add_argument("--db-schema", metavar="NAME", help="schema of the tables (default: the connection's)")
    g.add_argument("--db-unit-column", metavar="COL", help="column naming the unit (default unit_id)")
    g.add_argument(
        "--db-upload-time-column",
        metavar="COL",
        help="column with the time the platform received the row (default upload_time)",
    )
    g.add_argument(
        "--db-table",
        action="append",
        type=_pair,
        metavar="TABLE=DBTABLE",
        help="a catalogue table stored under another name (repeatable)",
    )
    g.add_argument(
        "--db-column",
        action="append",
        type=_pair,
        metavar="TABLE.COL=DBCOL",
        help="a catalogue column stored under another name (repeatable)",
    )
    g.add_argument(
        "--db-declarations",
        metavar="TABLE",
        help="table of declared tables and collection mode (default upload_declaration; '' for none)",
    )
    g.add_argument(
        "--db-reference",
        metavar="TABLE",
        help="table of official counts (default reference_count; '' for none)",
    )
    g.add_argument(
        "--db-expected",
        choices=("registry", "declared", "none"),
        help="units scored even with nothing uploaded (default registry)",
    )
    g.add_argument(
        "--db-unit-source",
        action="append",
        type=_pair,
        metavar="UNIT=URL",
        help="a 开库采集 unit whose data sit in its own database (repeatable)",
    )
    g.add_argument("--db-timeout", type=seconds(), metavar="SECONDS", help="statement timeout (default 300)")


def layout_from_args(args: argparse.Namespace, base: Any = None) -> Any:
    """The :class:`~dq.io.database.DatabaseLayout` the options give over ``base`` (a layout, e.g.
    the project's :meth:`~dq.project.Project.database_layout`, or a mapping of its keys)."""
    from dq.io.database import DatabaseLayout

    if isinstance(base, DatabaseLayout):
        base = base.to_mapping()
    data: dict[str, Any] = dict(base or {})
    simple = {
        "db_schema": "schema",
        "db_unit_column": "unit_column",
        "db_upload_time_column": "upload_time_column",
        "db_expected": "expected_units",
        "db_timeout": "statement_timeout_s",
    }
    for opt, key in simple.items():
        if getattr(args, opt, None) is not None:
            data[key] = getattr(args, opt)
    for opt, key in (("db_declarations", "declarations_table"), ("db_reference", "reference_table")):
        value = getattr(args, opt, None)
        if value is not None:
            data[key] = value or None
    for opt, key in (("db_table", "tables"), ("db_column", "columns"), ("db_unit_source", "unit_sources")):
        pairs = getattr(args, opt, None)
        if pairs:
            data[key] = {**data.get(key, {}), **dict(pairs)}
    return DatabaseLayout.from_mapping(data)


def project_layout(args: argparse.Namespace, project: Any) -> Any:
    """The layout of a command's database: the project's ``[database]`` section under the
    command's ``--db-*`` options (:func:`layout_from_args`)."""
    return layout_from_args(args, project.database_layout(project.catalogue()))
