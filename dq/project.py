"""Rule projects: a folder with a ``dq.toml`` naming a centre's upload specification and defaults.

A project brings its own catalogue (tables, columns, code sets, PII tags, keys, links), suites,
scoring, unit registry and reference lists, plus the defaults its commands would otherwise repeat
(store, reports folder, language, samples, threads, contacts, SMTP host, port, sender and TLS
mode; never a password). The package ships one: the top-level ``rules/`` folder (its own
``rules/dq.toml``) with ``datasets/``.

    project = dq.load_project("my-centre")       # or load_project() to look for one
    project.catalogue(), project.suites(), project.scoring(), project.registry()
    dq.audit("orders.csv", table="orders", project=project)

Where a command finds its project (:func:`find_project`): ``--project DIR``, then the
``DQ_PROJECT`` environment variable, then the nearest ``dq.toml`` in the working folder or one
above it, otherwise the bundled project. Options given on the command line override the file
(:meth:`Project.override`); ``dq project show`` prints what is in force and where each value came
from. Paths in ``dq.toml`` are relative to its folder; ``dq:rules/…`` and ``dq:data/…`` name the
bundled specification's files (e.g. ``registry = "dq:data/institutions.csv"``).

Nothing here is module state: a :class:`Project` is a frozen value, built by one function
(:func:`parse_project` / :func:`load_project`) and passed down.

Sections the loader does not know are kept in :attr:`Project.sections` (a later source, e.g.
``[database]`` for database layouts, reads its own; see :data:`RESERVED_SECTIONS`), with a warning
naming the file and line unless the section is reserved; unknown keys of known sections are
warnings too. docs/suites.md documents every key.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dq.errors import DQError, Problem, SuiteError

if TYPE_CHECKING:
    from dq.engine.suite import Suite
    from dq.io.catalogue import Catalogue
    from dq.io.database import DatabaseLayout
    from dq.io.registry import Registry
    from dq.scoring.scores import ScoringConfig

__all__ = [
    "PROJECT_ENV",
    "PROJECT_FILE",
    "RESERVED_SECTIONS",
    "Defaults",
    "Project",
    "bundled_project_file",
    "find_project",
    "init_project",
    "load_project",
    "parse_project",
    "validate_project",
]

PROJECT_FILE = "dq.toml"
PROJECT_ENV = "DQ_PROJECT"
#: Sections kept for readers that are not part of this loader (no warning; their keys are checked
#: by their reader): ``[database]`` is the database source's settings (connection, schema, layout).
RESERVED_SECTIONS = frozenset({"database"})
TLS_MODES = ("starttls", "ssl", "none")
LANGS = ("zh", "en")


@dataclass(frozen=True)
class Defaults:
    """What commands use when their option is not given (``[defaults]`` and ``[smtp]``)."""

    store: str = "history"
    reports: str = "reports"
    lang: str = "zh"
    samples: int = 5
    threads: int | None = None
    contacts: str | None = None
    smtp_host: str | None = None
    smtp_port: int | None = None
    smtp_sender: str | None = None
    smtp_user: str | None = None
    smtp_tls: str | None = None  # starttls | ssl | none


# key in dq.toml (section, key) -> (attribute, kind)
SETTING_KEYS: dict[tuple[str, str], tuple[str, str]] = {
    ("defaults", "store"): ("store", "path"),
    ("defaults", "reports"): ("reports", "path"),
    ("defaults", "lang"): ("lang", "lang"),
    ("defaults", "samples"): ("samples", "count"),
    ("defaults", "threads"): ("threads", "positive"),
    ("defaults", "contacts"): ("contacts", "path"),
    ("smtp", "host"): ("smtp_host", "text"),
    ("smtp", "port"): ("smtp_port", "port"),
    ("smtp", "sender"): ("smtp_sender", "text"),
    ("smtp", "user"): ("smtp_user", "text"),
    ("smtp", "tls"): ("smtp_tls", "tls"),
}
RULES_KEYS = {"catalogue", "suites", "scoring", "registry", "reference"}
PROJECT_KEYS = {"name", "title", "description", "version"}
_SECTIONS = {"project", "rules", "defaults", "smtp"}
_SECRET = re.compile(r"pass(word)?|secret|token", re.IGNORECASE)


@dataclass(frozen=True)
class Project:
    """A rule project: where its specification lives, its defaults, and where each came from."""

    name: str
    root: Path
    file: Path | None
    bundled: bool
    catalogue_path: Path
    suite_paths: tuple[Path, ...]
    scoring_path: Path
    registry_path: Path
    reference_dir: Path | None
    defaults: Defaults = field(default_factory=Defaults)
    #: Where each value came from: ``dq.toml:12``, ``command line``, ``built-in default``.
    origins: Mapping[str, str] = field(default_factory=dict)
    #: How the project was found: ``--project``, ``DQ_PROJECT``, ``dq.toml above …``, ``bundled``.
    found_by: str = "bundled"
    #: Sections this loader does not read (e.g. ``database``), as written.
    sections: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    #: Warnings about the file (unknown keys and sections), each naming the file and line.
    warnings: tuple[str, ...] = ()

    # -- what the project holds -----------------------------------------------------------
    def catalogue(self) -> Catalogue:
        """The project's catalogue (loaded once per file; a SuiteError lists its problems)."""
        from dq.io.catalogue import load_catalogue

        return load_catalogue(self.catalogue_path)

    def suites(
        self, paths: Iterable[str | Path] | None = None, catalogue: Catalogue | None = None
    ) -> list[Suite]:
        """The project's suites (or the suite files or folders ``paths``), validated against its
        catalogue."""
        from dq.engine.suite import load_suites

        return load_suites(list(paths) if paths else list(self.suite_paths), catalogue or self.catalogue())

    def scoring(self) -> ScoringConfig:
        from dq.scoring.scores import load_scoring

        return load_scoring(self.scoring_path)

    def registry(self) -> Registry:
        from dq.io.registry import Registry

        return Registry.load(self.registry_path)

    def section(self, name: str) -> Mapping[str, Any]:
        """A section this loader keeps for another reader (e.g. ``database``); empty if absent."""
        return self.sections.get(name, {})

    def database_layout(self, catalogue: Catalogue | None = None) -> DatabaseLayout:
        """The database layout of the project's ``[database]`` section (docs/databases.md: unit-id
        and upload-time columns, schema, renamed tables and columns, the declarations table,
        per-unit source URLs of 开库采集 units …); the platform's usual names where a key is
        not set. Command-line options override it (:func:`dq.cli._database.layout_from_args`).
        With ``catalogue``, renamed tables and columns must be the catalogue's. A wrong value is
        a :class:`SuiteError` naming the file and key (:func:`load_project` has already refused
        one)."""
        from dq.io.database import DatabaseLayout

        section = {k: v for k, v in self.section("database").items() if k in DatabaseLayout.known_keys()}
        found: list[Problem] = []
        try:
            layout = DatabaseLayout.from_mapping(section)
        except DQError as exc:
            found.append(self._database_problem("database", str(exc).removeprefix("database layout: ")))
            raise SuiteError(found) from None
        if catalogue is not None:
            found += [self._database_problem(f"database.{key}", msg) for key, msg in layout.check(catalogue)]
        if found:
            raise SuiteError(found)
        return layout

    def _database_problem(self, key: str, message: str) -> Problem:
        parts = key.split(".")
        origin = next(
            (self.origins[k] for n in range(len(parts), 1, -1) if (k := ".".join(parts[:n])) in self.origins),
            "",
        )
        line = origin.rsplit(":", 1)[-1].split(" ")[0] if origin else ""
        return Problem(
            str(self.file or self.root), None, key, message, line=int(line) if line.isdigit() else None
        )

    # -- command-line options -------------------------------------------------------------
    def override(self, origin: str = "command line", **values: Any) -> Project:
        """This project with the :class:`Defaults` in ``values`` replaced (``None`` values are
        ignored: the option was not given); their origin becomes ``origin``."""
        given = {k: v for k, v in values.items() if v is not None}
        unknown = set(given) - {f.name for f in dataclasses.fields(Defaults)}
        if unknown:
            raise TypeError(f"not a project default: {', '.join(sorted(unknown))}")
        if not given:
            return self
        origins = {**self.origins, **{f"defaults.{k}": origin for k in given}}
        return dataclasses.replace(
            self, defaults=dataclasses.replace(self.defaults, **given), origins=origins
        )

    def to_dict(self) -> dict[str, Any]:
        """What is in force and where each value came from (``dq project show --format json``)."""

        def entry(key: str, value: Any) -> dict[str, Any]:
            return {
                "key": key,
                "value": None if value is None else str(value) if isinstance(value, Path) else value,
                "from": self.origins.get(key, "built-in default"),
            }

        values = [
            entry("rules.catalogue", self.catalogue_path),
            entry("rules.suites", [str(p) for p in self.suite_paths]),
            entry("rules.scoring", self.scoring_path),
            entry("rules.registry", self.registry_path),
            entry("rules.reference", self.reference_dir),
        ]
        for f in dataclasses.fields(Defaults):
            values.append(entry(f"defaults.{f.name}", getattr(self.defaults, f.name)))
        from dq.io.database import DatabaseLayout, mask_url

        for key, value in self.section("database").items():  # the keys the file sets
            if key in DatabaseLayout.known_keys():
                if key == "unit_sources" and isinstance(value, Mapping):
                    value = {u: mask_url(str(v)) for u, v in value.items()}
                values.append(entry(f"database.{key}", value))
        return {
            "name": self.name,
            "root": str(self.root),
            "file": None if self.file is None else str(self.file),
            "bundled": self.bundled,
            "found_by": self.found_by,
            "values": values,
            "sections": sorted(self.sections),
            "warnings": list(self.warnings),
        }


# -- finding and reading ---------------------------------------------------------------------
def bundled_project_file() -> Path:
    """``rules/dq.toml``: the bundled (Nanjing) project, in a checkout or an installed wheel."""
    from dq.io.resources import rules_dir

    return rules_dir() / PROJECT_FILE


def find_project(
    project: str | Path | None = None, *, env: Mapping[str, str] | None = None, cwd: str | Path | None = None
) -> tuple[Path, str]:
    """The ``dq.toml`` to use and how it was found: ``project`` (a folder or its dq.toml), else
    ``$DQ_PROJECT``, else the nearest ``dq.toml`` in ``cwd`` or above, else the bundled one."""
    env = os.environ if env is None else env
    for given, how in ((project, "--project"), (env.get(PROJECT_ENV) or None, PROJECT_ENV)):
        if given is None:
            continue
        p = Path(given).expanduser()
        file = p / PROJECT_FILE if p.is_dir() else p
        if not file.is_file():
            raise SuiteError(
                [
                    Problem(
                        str(p),
                        None,
                        None,
                        f"no {PROJECT_FILE} here (given by {how}); `dq init {p}` creates a project",
                    )
                ]
            )
        return file.resolve(), f"{how} {given}"
    here = Path(cwd if cwd is not None else Path.cwd()).resolve()
    for d in (here, *here.parents):
        if (d / PROJECT_FILE).is_file():
            return d / PROJECT_FILE, f"{PROJECT_FILE} in {d}" if d == here else f"{PROJECT_FILE} above {here}"
    return bundled_project_file(), "bundled"


def _key_lines(text: str) -> dict[tuple[str, ...], int]:
    """Line of every ``[section]`` header and ``key =`` of a plain TOML file (tomllib gives none)."""
    lines: dict[tuple[str, ...], int] = {}
    section: tuple[str, ...] = ()
    for n, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if m := re.match(r"^\[\s*([A-Za-z0-9_.\-\"' ]+?)\s*\]", s):
            section = tuple(part.strip().strip("\"'") for part in m.group(1).split("."))
            lines.setdefault(section, n)
        elif m := re.match(r"^(\"[^\"]*\"|'[^']*'|[A-Za-z0-9_\-]+)\s*=", s):
            lines.setdefault((*section, m.group(1).strip("\"'")), n)
    return lines


def _resolve(value: str, root: Path) -> Path:
    from dq.io.resources import data_dir, rules_dir

    if value.startswith("dq:rules/") or value == "dq:rules":
        return rules_dir() / value.removeprefix("dq:rules").lstrip("/")
    if value.startswith("dq:data/") or value == "dq:data":
        return data_dir() / value.removeprefix("dq:data").lstrip("/")
    p = Path(value).expanduser()
    return p if p.is_absolute() else root / p


def parse_project(file: str | Path, found_by: str = "") -> tuple[Project, list[Problem]]:
    """Read a ``dq.toml``: the project, and every problem found (each with file and line).
    :func:`load_project` raises on problems; ``dq suites validate`` reports them with the others."""
    file = Path(file).resolve()
    root = file.parent
    bundled = file == bundled_project_file().resolve()
    problems: list[Problem] = []
    warnings: list[str] = []
    try:
        text = file.read_text(encoding="utf-8-sig")
        raw = tomllib.loads(text)
    except (OSError, UnicodeDecodeError) as exc:
        raise SuiteError([Problem(str(file), None, None, f"cannot read the project file ({exc})")]) from exc
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line (\d+)", str(exc))
        raise SuiteError(
            [Problem(str(file), None, None, f"not valid TOML ({exc})", line=int(m.group(1)) if m else None)]
        ) from exc
    lines = _key_lines(text)

    def where(*path: str) -> str:
        n = lines.get(tuple(path)) or lines.get(tuple(path[:1]))
        return f"{file}:{n}" if n else str(file)

    def line_of(path: tuple[str, ...]) -> int | None:
        for n in range(len(path), 0, -1):  # the key's own line, else its table's, else its section's
            if path[:n] in lines:
                return lines[path[:n]]
        return None

    def problem(path: tuple[str, ...], message: str) -> None:
        problems.append(Problem(str(file), None, ".".join(path), message, line=line_of(path)))

    origins: dict[str, str] = {}
    sections: dict[str, Mapping[str, Any]] = {}
    for name, value in raw.items():
        if name in _SECTIONS:
            if not isinstance(value, dict):
                problem((name,), f"[{name}] must be a table of keys")
            continue
        sections[name] = value if isinstance(value, dict) else {"value": value}
        if name not in RESERVED_SECTIONS:
            warnings.append(f"{where(name)}: unknown section [{name}] (kept, not read by this version of dq)")

    def table(name: str, known: Iterable[str]) -> dict[str, Any]:
        value = raw.get(name) or {}
        if not isinstance(value, dict):
            return {}
        for key in sorted(set(value) - set(known)):
            if _SECRET.search(key):
                problem(
                    (name, key),
                    "never put a password in dq.toml: give it in the environment "
                    "(dq send --password-env, default DQ_SMTP_PASSWORD)",
                )
            else:
                warnings.append(
                    f"{where(name, key)}: unknown key {key!r} in [{name}] (ignored; "
                    f"known: {', '.join(sorted(known))})"
                )
        return value

    meta = table("project", PROJECT_KEYS)
    rules = table("rules", RULES_KEYS)

    def path_of(key: str, default: str | None) -> Path | None:
        value = rules.get(key, default)
        if key in rules:
            origins[f"rules.{key}"] = where("rules", key)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            problem(("rules", key), "must be a path (text)")
            return None
        p = _resolve(value, root)
        if not p.exists():
            problem(("rules", key), f"{p}: no such file or folder")
        return p

    catalogue = path_of("catalogue", "catalogue.yaml") or root / "catalogue.yaml"
    scoring = path_of("scoring", "scoring.yaml") or root / "scoring.yaml"
    registry = path_of("registry", "institutions.csv") or root / "institutions.csv"
    reference = path_of("reference", None)
    suites_raw = rules.get("suites", ["suites"])
    if isinstance(suites_raw, str):
        suites_raw = [suites_raw]
    if "suites" in rules:
        origins["rules.suites"] = where("rules", "suites")
    suite_paths: list[Path] = []
    if not isinstance(suites_raw, list) or not all(isinstance(s, str) for s in suites_raw):
        problem(("rules", "suites"), "must be a path or a list of paths (suite files or folders)")
    else:
        for s in suites_raw:
            p = _resolve(s, root)
            if not p.exists():
                problem(("rules", "suites"), f"{p}: no such file or folder")
            suite_paths.append(p)

    values: dict[str, Any] = {}
    for section in ("defaults", "smtp"):
        got = table(section, [k for s, k in SETTING_KEYS if s == section])
        for key, value in got.items():
            if (section, key) not in SETTING_KEYS:
                continue
            attr, kind = SETTING_KEYS[section, key]
            checked = _check(kind, value)
            if isinstance(checked, _Bad):
                problem((section, key), checked.message)
                continue
            if kind == "path" and isinstance(checked, str) and "://" not in checked:
                checked = str(_resolve(checked, root))
            values[attr] = checked
            origins[f"defaults.{attr}"] = where(section, key)
    database = raw.get("database")
    if database is not None:
        for key in _check_database(database, problem):
            warnings.append(
                f"{where('database', key)}: unknown key {key!r} in [database] (ignored; "
                f"known: {', '.join(sorted(_database_keys()))})"
            )
        if isinstance(database, dict):
            for key, value in database.items():
                if key in _database_keys():
                    origins[f"database.{key}"] = where("database", key)
                    for sub in value if isinstance(value, dict) else ():  # a renamed table's own line
                        if ("database", key, sub) in lines:
                            origins[f"database.{key}.{sub}"] = where("database", key, sub)
    name = str(meta["name"]) if isinstance(meta.get("name"), str) else root.name
    if bundled:
        origins = {k: v + " (bundled)" for k, v in origins.items()}
    project = Project(
        name=name,
        root=root,
        file=file,
        bundled=bundled,
        catalogue_path=catalogue,
        suite_paths=tuple(suite_paths),
        scoring_path=scoring,
        registry_path=registry,
        reference_dir=reference,
        defaults=Defaults(**values),
        origins=origins,
        found_by=found_by or str(file),
        sections=sections,
        warnings=tuple(warnings),
    )
    return project, problems


def _database_keys() -> tuple[str, ...]:
    from dq.io.database import DatabaseLayout

    return DatabaseLayout.known_keys()


def _check_database(section: Any, problem: Any) -> list[str]:
    """Check a ``[database]`` section key by key (each wrong value a problem with its line);
    returns its unknown keys (warnings)."""
    from dq.errors import UsageError
    from dq.io.database import DatabaseLayout

    if not isinstance(section, dict):
        problem(("database",), "[database] must be a table of keys")
        return []
    unknown: list[str] = []
    for key, value in section.items():
        if _SECRET.search(key):
            problem(("database", key), _NO_DB_PASSWORD)
            continue
        if key not in _database_keys():
            unknown.append(key)
            continue
        if key == "unit_sources" and isinstance(value, dict):  # each unit's URL on its own line
            for unit, url in value.items():
                _check_source(unit, url, lambda msg, u=unit, k=key: problem(("database", k, u), msg))
            continue
        try:
            DatabaseLayout.from_mapping({key: value})
        except UsageError as exc:
            problem(("database", key), str(exc).removeprefix("database layout: ").removeprefix(f"{key} "))
    return unknown


def _check_source(unit: Any, url: Any, problem: Any) -> None:
    """A 开库采集 unit's source URL: a database URL, without a password in it."""
    from urllib.parse import parse_qsl, urlsplit

    from dq.io.database import is_database_url, mask_url

    if not isinstance(url, str) or not is_database_url(url):
        shown = mask_url(url) if isinstance(url, str) else repr(url)
        problem(f"unit {unit}: {shown} is not a database URL (postgresql://, sqlite:///, duckdb:///)")
        return
    parts = urlsplit(url)
    try:
        has_password = parts.password is not None
    except ValueError:  # a malformed port
        has_password = False
    if has_password or "password" in {k.lower() for k, _ in parse_qsl(parts.query)}:
        problem(f"the URL of unit {unit} carries a password: {_NO_DB_PASSWORD}")


_NO_DB_PASSWORD = (
    "never put a password in dq.toml: give it in the environment (PGPASSWORD), a password file "
    "(~/.pgpass, PGPASSFILE) or a service file (PGSERVICE, ?service=NAME)"
)


@dataclass(frozen=True)
class _Bad:
    message: str


def _check(kind: str, value: Any) -> Any:
    whole = isinstance(value, int) and not isinstance(value, bool)
    if kind in ("path", "text"):
        return value if isinstance(value, str) and value.strip() else _Bad("must be text")
    if kind == "lang":
        return value if value in LANGS else _Bad(f"must be one of {list(LANGS)}, got {value!r}")
    if kind == "tls":
        return value if value in TLS_MODES else _Bad(f"must be one of {list(TLS_MODES)}, got {value!r}")
    if kind == "count":
        return value if whole and value >= 0 else _Bad(f"must be a whole number >= 0, got {value!r}")
    if kind == "positive":
        return value if whole and value >= 1 else _Bad(f"must be a whole number >= 1, got {value!r}")
    if kind == "port":
        return value if whole and 1 <= value <= 65535 else _Bad(f"must be a port 1..65535, got {value!r}")
    raise AssertionError(kind)


def load_project(
    project: str | Path | None = None, *, env: Mapping[str, str] | None = None, cwd: str | Path | None = None
) -> Project:
    """The project in force (see :func:`find_project`), read and checked; a :class:`SuiteError`
    lists every problem of its ``dq.toml`` with its line."""
    file, how = find_project(project, env=env, cwd=cwd)
    loaded, problems = parse_project(file, how)
    if problems:
        raise SuiteError(problems)
    return loaded


def validate_project(project: Project, problems: Iterable[Problem] = ()) -> list[Problem]:
    """Every problem of a project at once: its dq.toml (``problems`` from :func:`parse_project`),
    catalogue, suites (checked against what of the catalogue could be read), scoring and unit
    registry, each with its file and, where the text locates it, its line."""
    from dq.engine.suite import load_suites
    from dq.errors import DQError
    from dq.io.catalogue import parse_catalogue
    from dq.io.registry import Registry
    from dq.scoring.scores import load_scoring

    found = list(problems)
    catalogue, cat_problems = parse_catalogue(project.catalogue_path)
    found += cat_problems
    if project.section("database") and not any(p.field and p.field.startswith("database") for p in found):
        try:
            project.database_layout(catalogue)
        except SuiteError as exc:
            found += exc.problems
    try:
        load_suites(list(project.suite_paths), catalogue)
    except SuiteError as exc:
        found += exc.problems
    try:
        load_scoring(project.scoring_path)
    except SuiteError as exc:
        found += exc.problems
    try:
        Registry.load(project.registry_path)
    except DQError as exc:
        found.append(
            Problem(
                str(project.registry_path), None, None, str(exc).removeprefix(f"{project.registry_path}: ")
            )
        )
    return found


# -- dq init ------------------------------------------------------------------------------------
TEMPLATES = ("empty", "nanjing")

_EMPTY_TOML = """\
# A dq rule project. Every key is documented in docs/suites.md; paths are relative to this folder.
[project]
name = "{name}"

[rules]
catalogue = "catalogue.yaml"      # your tables: columns, types, code sets, PII tags, keys, links
suites = ["suites"]               # one suite file per table (dq suggest drafts them)
scoring = "scoring.yaml"          # how results become scores
registry = "institutions.csv"     # the units that upload (for dq score and dq send)

[defaults]                        # what commands use when their option is not given
store = "history"                 # dq score / history / report / send: the history store
reports = "reports"               # dq score --reports, dq report, dq send: the reports folder
lang = "zh"                       # zh | en
samples = 5                       # failing rows shown per rule
# threads = 4                     # units audited at once by dq score
# contacts = "contacts.csv"       # dq send: who receives which unit's report

# [smtp]                          # dq send; the password never goes here: DQ_SMTP_PASSWORD
# host = "smtp.example.org"
# port = 587
# sender = "dq-reports@example.org"
# user = "dq-reports@example.org"
# tls = "starttls"                # starttls | ssl | none
"""

_EMPTY_CATALOGUE = """\
# The catalogue: your upload specification as data (docs/suites.md, "Catalogue").
# `dq suggest FILE` appends a table's entry under `tables:` below; check its types and flags.
version: 1
upload_time: false   # true: every table also has a required upload_time column (the Nanjing rule)
code_sets: {}
tables:
"""

_README = """\
# {name}: a dq rule project

What to edit:

- `catalogue.yaml`: your tables. `dq suggest DATA.csv` drafts a table's entry from a data file
  (types, required columns, key, PII tags); check each line against your specification.
- `suites/<table>.yaml`: the rules of each table. `dq suggest` drafts them, each with the
  evidence it saw as a comment: keep what your specification says, drop the coincidences.
- `dq.toml`: where the files are, and the defaults of every command (store, reports, language,
  contacts, SMTP server; never a password).
- `scoring.yaml`: how results become scores; `institutions.csv`: the units that upload.

Then:

    dq suites validate             # every problem of the project at once, with file and line
    dq audit DATA.csv --table T    # or an extract folder (manifest.yaml + table files)
    dq project show                # what is in force, and where it came from

Commands find this project from this folder or below, or with `--project DIR` / `DQ_PROJECT`.
"""


def init_project(folder: str | Path, template: str = "empty", *, force: bool = False) -> list[Path]:
    """Create a rule project in ``folder``: dq.toml, catalogue, suites, scoring, registry and a
    README. ``template``: ``empty`` (no tables yet) or ``nanjing`` (a copy of the bundled
    specification to start from). A folder that is not empty is refused unless ``force``.
    Returns the files written."""
    import shutil

    from dq.errors import OutputError, UsageError
    from dq.io.resources import data_dir, rules_dir

    if template not in TEMPLATES:
        raise UsageError(f"--from must be one of {', '.join(TEMPLATES)}, got {template!r}")
    root = Path(folder)
    if root.exists() and not root.is_dir():
        raise OutputError(f"{root}: a file, not a folder")
    if root.is_dir() and any(root.iterdir()) and not force:
        raise OutputError(f"{root}: not empty; choose a new folder or give --force to write into it")
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", root.resolve().name) or "project"
    written: list[Path] = []

    def write(rel: str, text: str) -> None:
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
        written.append(p)

    try:
        root.mkdir(parents=True, exist_ok=True)
        (root / "suites").mkdir(exist_ok=True)
        write("README.md", _README.format(name=name))
        write("scoring.yaml", (rules_dir() / "scoring.yaml").read_text(encoding="utf-8"))
        if template == "empty":
            write("dq.toml", _EMPTY_TOML.format(name=name))
            write("catalogue.yaml", _EMPTY_CATALOGUE)
            write("institutions.csv", "unit_id,name,kind,category,district,aliases\n")
        else:
            toml = _EMPTY_TOML.format(name=name).replace(
                'registry = "institutions.csv"     # the units that upload (for dq score and dq send)',
                'registry = "institutions.csv"     # the units that upload (for dq score and dq send)\n'
                'reference = "dq:data/reference"  # value lists of dq synth (the bundled ones)',
            )
            write("dq.toml", toml)
            write("catalogue.yaml", (rules_dir() / "catalogue.yaml").read_text(encoding="utf-8"))
            write("institutions.csv", (data_dir() / "institutions.csv").read_text(encoding="utf-8"))
            for f in sorted((rules_dir() / "suites").rglob("*.yaml")):
                rel = f.relative_to(rules_dir())
                write(str(rel), f.read_text(encoding="utf-8"))
            shutil.copymode(rules_dir() / "catalogue.yaml", root / "catalogue.yaml")
    except OSError as exc:
        raise OutputError(f"{root}: cannot write the project ({exc.strerror or exc})") from exc
    return written
