"""The grammar of suite expressions (``when``, ``condition``, ``expr``, ``left``/``right`` …).

An expression is parsed into a syntax tree by sqlglot (PostgreSQL dialect, as Polars' SQL follows
PostgreSQL) and accepted only when every node of the tree is in an allow-list: column
references, literals, arithmetic, comparisons, boolean logic, ``IN`` lists, ``IS [NOT] NULL``,
``BETWEEN``, ``LIKE``/``ILIKE``, ``CASE``, ``CAST`` to a plain type and the scalar functions of
:data:`FUNCTIONS`. Anything else (a subquery, a table function, a comment, an unknown function,
a second statement) is refused with :class:`dq.errors.CheckError`.

The text handed to Polars is then **rendered from the checked tree** (:func:`checked_sql`), not
the text as written: every column quoted, every literal re-quoted, every operation in
parentheses, no comment. What Polars parses is therefore exactly what was checked, whatever the
two parsers disagree on (comments, quotes, escapes). Checking opens no file and runs nothing: it
is a pure function of the text.

Why sqlglot and not Polars' own parser: Polars does not expose its SQL syntax tree to Python,
and its expression parser executes a subquery while parsing (``a IN (SELECT … FROM
read_csv('…'))`` reads the file), so nothing may reach it before it is checked.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import SqlglotError
from sqlglot.tokens import TokenType

from dq.errors import CheckError

__all__ = ["CASTS", "FUNCTIONS", "MAX_EXPRESSION_CHARS", "checked_sql"]

#: The longest expression accepted (characters).
MAX_EXPRESSION_CHARS = 4000
#: The deepest nesting accepted (operations inside operations).
MAX_DEPTH = 64
_MAX_NUMBER_CHARS = 40
_DIALECT = Dialect.get_or_raise("postgres")

# The scalar functions an expression may call: sqlglot's node class -> (the name Polars knows,
# the node's arguments in call order; a name ending in "*" is a list of arguments).
FUNCTIONS: dict[type[exp.Expression], tuple[str, tuple[str, ...]]] = {
    exp.Coalesce: ("COALESCE", ("this", "expressions*")),
    exp.Greatest: ("GREATEST", ("this", "expressions*")),
    exp.Least: ("LEAST", ("this", "expressions*")),
    exp.Nullif: ("NULLIF", ("this", "expression")),
    exp.Abs: ("ABS", ("this",)),
    exp.Ceil: ("CEIL", ("this",)),
    exp.Floor: ("FLOOR", ("this",)),
    exp.Round: ("ROUND", ("this", "decimals")),
    exp.Lower: ("LOWER", ("this",)),
    exp.Upper: ("UPPER", ("this",)),
    exp.Length: ("LENGTH", ("this",)),
    exp.Substring: ("SUBSTR", ("this", "start", "length")),
    exp.Left: ("LEFT", ("this", "expression")),
    exp.Right: ("RIGHT", ("this", "expression")),
    exp.Concat: ("CONCAT", ("expressions*",)),
    exp.StartsWith: ("STARTS_WITH", ("this", "expression")),
    exp.EndsWith: ("ENDS_WITH", ("this", "expression")),
}
_TRIMS = {None: "TRIM", "LEADING": "LTRIM", "TRAILING": "RTRIM"}

#: The types a ``CAST`` may name (also ``DATE '2020-01-01'``, which is a cast).
CASTS: dict[Any, str] = {
    exp.DataType.Type.INT: "INT",
    exp.DataType.Type.BIGINT: "BIGINT",
    exp.DataType.Type.SMALLINT: "SMALLINT",
    exp.DataType.Type.DOUBLE: "DOUBLE",
    exp.DataType.Type.FLOAT: "FLOAT",
    exp.DataType.Type.DECIMAL: "DOUBLE",
    exp.DataType.Type.TEXT: "TEXT",
    exp.DataType.Type.VARCHAR: "VARCHAR",
    exp.DataType.Type.BOOLEAN: "BOOLEAN",
    exp.DataType.Type.DATE: "DATE",
    exp.DataType.Type.TIMESTAMP: "TIMESTAMP",
}

#: The parts of a date ``EXTRACT``/``DATE_PART`` may take, and the units of an ``INTERVAL``.
DATE_PARTS = {"YEAR", "QUARTER", "MONTH", "WEEK", "DAY", "DOW", "ISODOW", "DOY", "HOUR", "MINUTE",
              "SECOND", "MILLISECOND", "MICROSECOND", "EPOCH"}  # fmt: skip
INTERVAL_UNITS = {"YEAR", "MONTH", "WEEK", "DAY", "HOUR", "MINUTE", "SECOND"}
_INTERVAL = re.compile(r"(\d{1,6})(?:\s+([A-Za-z]{1,12}))?")

_BINARY: dict[type[exp.Expression], str] = {
    exp.And: "AND", exp.Or: "OR",
    exp.EQ: "=", exp.NEQ: "<>", exp.GT: ">", exp.GTE: ">=", exp.LT: "<", exp.LTE: "<=",
    exp.NullSafeEQ: "IS NOT DISTINCT FROM", exp.NullSafeNEQ: "IS DISTINCT FROM",
    exp.Add: "+", exp.Sub: "-", exp.Mul: "*", exp.Div: "/", exp.Mod: "%", exp.DPipe: "||",
    exp.Like: "LIKE", exp.ILike: "ILIKE",
}  # fmt: skip
# Flags sqlglot sets on a node that change nothing in what is rendered.
# (``negate`` is not one of them: the nodes that may carry it render it.)
_FLAGS = {"safe", "typed", "coalesce", "ignore_nulls", "_type", "quoted", "is_string", "nested"}
_NEGATABLE = (exp.In, exp.Between, exp.Like, exp.ILike, exp.Is)
_NUMBER = re.compile(r"(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")

_WHAT = "expressions use columns, literals, operators and functions of values"


def _refuse(what: str) -> CheckError:
    return CheckError(f"not a column expression: {what} is not allowed ({_WHAT}; see docs/checks.md)")


def _name_of(node: exp.Expression) -> str:
    """What a refused node is, in words (a function by its name, cut short)."""
    if isinstance(node, exp.Subquery | exp.Select | exp.Query):
        return "SELECT (a subquery)"
    if isinstance(node, exp.Table):
        return "a table"
    if isinstance(node, exp.Anonymous):
        return f"function {str(node.name)[:40].upper()}"
    if isinstance(node, exp.Func):
        return f"function {node.sql_name()[:40]}"
    return f"{type(node).__name__} ({node.key.upper()})"


def _args(node: exp.Expression, allowed: set[str]) -> None:
    """Refuse a node that carries any argument beyond ``allowed`` (and the harmless flags)."""
    for key, value in node.args.items():
        if value in (None, False, [], "") or key in _FLAGS or key in allowed:
            continue
        if isinstance(value, exp.Expression):
            raise _refuse(_name_of(value))
        if isinstance(value, list) and value and isinstance(value[0], exp.Expression):
            raise _refuse(_name_of(value[0]))
        raise _refuse(f"{key.upper()} in {_name_of(node)}")


def _literal(node: exp.Literal) -> str:
    text = str(node.this)
    if node.is_string:
        return "'" + text.replace("'", "''") + "'"
    if len(text) > _MAX_NUMBER_CHARS or not _NUMBER.fullmatch(text):
        raise _refuse(f"the number {text[:_MAX_NUMBER_CHARS]}… (at most {_MAX_NUMBER_CHARS} characters)")
    return text


def _column(node: exp.Column) -> str:
    if any(node.args.get(k) is not None for k in ("table", "db", "catalog")):
        raise _refuse("a column qualified by a table (t.column)")
    _args(node, {"this"})
    ident = node.this
    if not isinstance(ident, exp.Identifier):
        raise _refuse(_name_of(ident))
    name = str(ident.this)
    if not name or len(name) > 128 or '"' in name or any(ord(c) < 32 or c == "\x7f" for c in name):
        raise _refuse("a column name with quotes or control characters, or longer than 128")
    return '"' + name + '"'


def _interval(node: exp.Interval) -> str:
    """``INTERVAL '1 hour'``: a whole number and one unit, as Polars reads it."""
    _args(node, {"this", "unit"})
    value, unit = node.this, node.args.get("unit")
    m = _INTERVAL.fullmatch(str(value.this).strip()) if isinstance(value, exp.Literal) else None
    if m is None or (unit is not None) == bool(m.group(2)):
        raise _refuse("an INTERVAL other than a whole number and one unit ('1 hour')")
    name = (m.group(2) if unit is None else str(unit.name)).upper().removesuffix("S")
    if name not in INTERVAL_UNITS or (unit is not None and not isinstance(unit, exp.Var)):
        units = ", ".join(sorted(INTERVAL_UNITS)).lower()
        raise _refuse(f"an INTERVAL in {name[:12].lower()!r} (units: {units})")
    return f"INTERVAL '{m.group(1)} {name.lower()}'"


def _render(node: Any, depth: int = 0) -> str:
    if depth > MAX_DEPTH:
        raise _refuse(f"nesting deeper than {MAX_DEPTH}")
    if not isinstance(node, exp.Expression):
        raise _refuse(repr(node)[:40])
    if node.comments:
        raise _refuse("a comment")
    d = depth + 1
    if isinstance(node, exp.Column):
        return _column(node)
    if isinstance(node, exp.Literal):
        _args(node, {"this"})
        return _literal(node)
    if isinstance(node, exp.Boolean):
        return "TRUE" if node.this else "FALSE"
    if isinstance(node, exp.Null):
        _args(node, set())
        return "NULL"
    if isinstance(node, exp.Paren):
        _args(node, {"this"})
        return _render(node.this, d)
    if isinstance(node, exp.Neg):
        _args(node, {"this"})
        return f"(-{_render(node.this, d)})"
    if isinstance(node, exp.Not):
        _args(node, {"this"})
        inner = node.this
        if isinstance(inner, _NEGATABLE) and not inner.args.get("negate") and not inner.comments:
            # a NOT IN (…), NOT BETWEEN, NOT LIKE, IS NOT TRUE: rendered as written
            inner = inner.copy()
            inner.set("negate", True)
            return _render(inner, d)
        return f"(NOT {_render(inner, d)})"
    if type(node) in _BINARY:
        _args(node, {"this", "expression", *(("negate",) if isinstance(node, exp.Like | exp.ILike) else ())})
        op = ("NOT " if node.args.get("negate") else "") + _BINARY[type(node)]
        return f"({_render(node.this, d)} {op} {_render(node.expression, d)})"
    if isinstance(node, exp.Is):
        _args(node, {"this", "expression", "negate"})
        if not isinstance(node.expression, exp.Null | exp.Boolean):
            raise _refuse("IS with anything but NULL, TRUE or FALSE")
        is_ = "IS NOT" if node.args.get("negate") else "IS"
        return f"({_render(node.this, d)} {is_} {_render(node.expression, d)})"
    if isinstance(node, exp.In):
        _args(node, {"this", "expressions", "negate"})
        if not node.expressions:
            raise _refuse("IN without a list of values")
        items = ", ".join(_render(x, d) for x in node.expressions)
        op = "NOT IN" if node.args.get("negate") else "IN"
        return f"({_render(node.this, d)} {op} ({items}))"
    if isinstance(node, exp.Between):
        _args(node, {"this", "low", "high", "negate"})
        op = "NOT BETWEEN" if node.args.get("negate") else "BETWEEN"
        low, high = _render(node.args["low"], d), _render(node.args["high"], d)
        return f"({_render(node.this, d)} {op} {low} AND {high})"
    if isinstance(node, exp.Case):
        _args(node, {"this", "ifs", "default"})
        parts = ["CASE"]
        if node.this is not None:
            parts.append(_render(node.this, d))
        for branch in node.args.get("ifs") or []:
            if not isinstance(branch, exp.If) or branch.comments:
                raise _refuse(_name_of(branch))
            _args(branch, {"this", "true"})
            parts += ["WHEN", _render(branch.this, d), "THEN", _render(branch.args["true"], d)]
        if node.args.get("default") is not None:
            parts += ["ELSE", _render(node.args["default"], d)]
        return "(" + " ".join([*parts, "END"]) + ")"
    if isinstance(node, exp.Cast) and type(node) is exp.Cast:
        _args(node, {"this", "to"})
        to = node.args.get("to")
        if not isinstance(to, exp.DataType) or to.expressions or to.this not in CASTS:
            raise _refuse(f"CAST to {to.sql() if isinstance(to, exp.Expression) else to!s}"[:80])
        return f"CAST({_render(node.this, d)} AS {CASTS[to.this]})"
    if isinstance(node, exp.Extract):
        _args(node, {"this", "expression"})
        part = node.this
        if not isinstance(part, exp.Var | exp.Literal) or str(part.name).upper() not in DATE_PARTS:
            raise _refuse(f"EXTRACT of {str(getattr(part, 'name', part))[:20]!r}")
        return f"DATE_PART('{str(part.name).lower()}', {_render(node.expression, d)})"
    if isinstance(node, exp.Interval):
        return _interval(node)
    if isinstance(node, exp.Trim):
        _args(node, {"this", "position"})
        position = node.args.get("position")
        if position not in _TRIMS:
            raise _refuse(f"TRIM({position} …)")
        return f"{_TRIMS[position]}({_render(node.this, d)})"
    if type(node) in FUNCTIONS:
        name, order = FUNCTIONS[type(node)]
        _args(node, {k.rstrip("*") for k in order})
        args: list[str] = []
        for key in order:
            value = node.args.get(key.rstrip("*"))
            if key.endswith("*"):
                args += [_render(x, d) for x in value or []]
            elif value is not None:
                args.append(_render(value, d))
        return f"{name}({', '.join(args)})"
    raise _refuse(_name_of(node))


@lru_cache(maxsize=4096)
def _checked(text: str) -> str:
    try:
        tokens = _DIALECT.tokenize(text)
    except (SqlglotError, RecursionError, ValueError) as exc:
        raise CheckError(f"cannot parse expression: {str(exc).splitlines()[0][:200]}") from None
    if not tokens:
        raise CheckError("an empty expression")
    for token in tokens:
        if token.comments:
            raise _refuse("a comment")
        if token.token_type == TokenType.SEMICOLON:
            raise _refuse("';' (a second statement)")
    try:
        trees = _DIALECT.parser().parse(tokens, text)
    except (SqlglotError, RecursionError, ValueError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CheckError(f"cannot parse expression: {first[:200]}") from None
    if len(trees) != 1 or trees[0] is None:
        raise _refuse("more than one statement")
    return _render(trees[0])


def checked_sql(text: Any) -> str:
    """``text`` checked against the grammar and rendered back from its syntax tree: the SQL to
    hand to Polars. Raises :class:`CheckError` naming what is not allowed."""
    if not isinstance(text, str):
        raise CheckError(f"an expression must be text, got {type(text).__name__}")
    if len(text) > MAX_EXPRESSION_CHARS:
        raise CheckError(f"an expression of {len(text)} characters (at most {MAX_EXPRESSION_CHARS})")
    if not text.strip():
        raise CheckError("an empty expression")
    return _checked(text)
