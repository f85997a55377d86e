"""`dq checks [NAME]`: the check catalogue, or one check's parameters, null and blank handling
and an example rule (see :func:`dq.engine.checks.check_catalogue`)."""

from __future__ import annotations

import argparse
import difflib

from dq.cli._common import EXIT_OK, add_format, print_json

__all__ = ["configure_parser", "example_rule", "run"]

# A value for each kind of parameter, for an example when no shipped suite uses the check.
_PLACEHOLDER = {
    "column": "my_column",
    "columns": ["my_column"],
    "str": "text",
    "strs": ["text"],
    "number": 1,
    "int": 1,
    "bool": True,
    "values": ["A", "B"],
    "scalar": 0,
    "sql": "my_column > 0",
}


def configure_parser(c: argparse.ArgumentParser) -> None:
    c.add_argument("name", nargs="?", help="one check: its parameters, nulls and an example rule")
    add_format(c, "markdown")


def example_rule(name: str) -> dict:
    """A rule using check ``name``: the first one of the bundled suites, else one built from the
    check's required parameters."""
    from dq.engine.checks import REGISTRY
    from dq.engine.suite import load_suites

    for s in load_suites():
        for r in s.rules:
            if r.check == name:
                check = REGISTRY[name]
                defaults = {p.name: p.default for p in check.params}
                values = r.params.as_mapping().items()
                given = {k: v for k, v in values if v is not None and v != defaults.get(k)}
                rule = {
                    "id": r.id,
                    "title": {"zh": r.title_zh, "en": r.title_en},
                    "dimension": r.dimension,
                    "severity": r.severity,
                    "check": name,
                    "params": given,
                }
                if r.when:
                    rule["when"] = r.when
                return {"suite": s.id, "table": s.table, "rule": rule}
    check = REGISTRY[name]
    params = {
        p.name: (p.choices[0] if p.choices else _PLACEHOLDER[p.kind]) for p in check.params if p.required
    }
    rule = {
        "id": "MY-001",
        "title": {"zh": "…", "en": "…"},
        "dimension": check.dimension,
        "check": name,
        "params": params,
    }
    return {"suite": None, "table": None, "rule": rule}


def run(args: argparse.Namespace) -> int:
    from dq.engine.checks import check_catalogue
    from dq.errors import UsageError

    checks = check_catalogue()
    if args.name:
        one = next((c for c in checks if c["name"] == args.name), None)
        if one is None:
            hint = difflib.get_close_matches(args.name, [c["name"] for c in checks], n=1)
            raise UsageError(
                f"unknown check {args.name!r}"
                + (f"; did you mean '{hint[0]}'?" if hint else "")
                + " (dq checks lists them)"
            )
        ex = example_rule(args.name)
        if args.format == "json":
            print_json({**one, "example": ex})
            return EXIT_OK
        import yaml

        print(f"{one['name']} ({one['dimension']}): {one['summary']}")
        print("parameters:")
        for p in one["params"]:
            need = "required" if p["required"] else f"optional, default {p['default']!r}"
            extra = f"; one of {p['choices']}" if p.get("choices") else ""
            print(f"  {p['name']:<16} {p['kind']:<8} {need}{extra}")
        print(f"nulls and blanks: {one['nulls']}")
        if one.get("gx"):
            print(f"Great Expectations: {one['gx']}")
        where = f" (from {ex['suite']}, table {ex['table']})" if ex["suite"] else ""
        print(f"example rule{where}:")
        text = yaml.safe_dump([ex["rule"]], allow_unicode=True, sort_keys=False, width=100)
        print("\n".join("  " + ln for ln in text.splitlines()))
        return EXIT_OK
    if args.format == "json":
        print_json({"checks": checks})
        return EXIT_OK
    if args.format == "markdown":
        print("| check | dimension | parameters | what it checks | nulls |")
        print("| --- | --- | --- | --- | --- |")
        for c in checks:
            params = ", ".join(p["name"] + ("" if p["required"] else "?") for p in c["params"])
            print(f"| `{c['name']}` | {c['dimension']} | {params} | {c['summary']} | {c['nulls']} |")
        return EXIT_OK
    for c in checks:
        params = ", ".join(p["name"] + ("" if p["required"] else "?") for p in c["params"])
        print(f"{c['name']:<18} {c['dimension']:<13} ({params})\n    {c['summary']}")
    return EXIT_OK
