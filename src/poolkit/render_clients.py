"""Renderings of a `ClientPlan`: text (for people), env (one env file per app), snippets
(Python per app and library) and json.

Pure functions returning strings; the CLI prints them. The numbers all come from the plan
(`poolkit.clients`).
"""

from __future__ import annotations

import json
import re
from typing import Any

from poolkit import PoolkitError
from poolkit.clients import LIBRARIES, AppPlan, ClientPlan, Code, Library, Pooler, Setting
from poolkit.render_size import WIDTH, wrap

FORMATS = ("text", "env", "snippets", "json")
#: The call each library's settings go to, for a process and for a serverless invocation.
CALLS = {
    "sqlalchemy": ("create_engine", "create_engine"),
    "sqlalchemy_asyncio": ("create_async_engine", "create_async_engine"),
    "asyncpg": ("asyncpg.create_pool", "asyncpg.connect"),
    "psycopg": ("ConnectionPool", "psycopg.connect"),
    "psycopg2": ("ThreadedConnectionPool", "psycopg2.connect"),
    "django": ("DATABASES[alias]", "DATABASES[alias]"),
}
#: The DSN each snippet reads, and the URL scheme SQLAlchemy needs for its driver.
URL = 'os.environ["DATABASE_URL"]'
SCHEMES = {"sqlalchemy": "postgresql+psycopg://", "sqlalchemy_asyncio": "postgresql+asyncpg://"}


def render(plan: ClientPlan, fmt: str, *, source: str = "") -> str:
    """Render `plan` in one of FORMATS; the text ends with a newline."""
    if fmt == "json":
        return json.dumps(plan_dict(plan), indent=2) + "\n"
    if fmt == "env":
        return render_env(plan, source=source)
    if fmt == "snippets":
        return render_snippets(plan, source=source)
    if fmt == "text":
        return render_text(plan, source=source)
    raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")


# ----------------------------------------------------------------------------- values


def py(value: Any) -> str:
    """A value as Python source: code as it is, strings double-quoted."""
    if isinstance(value, Code):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    return repr(value)


def env_value(value: Any) -> str:
    """A value in an env file: integers, true / false, none for Python's None."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "none"
    return str(value)


def _grouped(settings: tuple[Setting, ...]) -> list[tuple[str, Any]]:
    """(name, value) pairs of a call: top-level settings as they are, a group's settings as
    one dict in the place of its first member; the `acquire` group is left out."""
    pairs: list[tuple[str, Any]] = []
    groups: dict[str, dict[str, Any]] = {}
    for s in settings:
        if s.group == "acquire":
            continue
        if not s.group:
            pairs.append((s.name, s.value))
        elif s.group not in groups:
            groups[s.group] = {s.name: s.value}
            pairs.append((s.group, groups[s.group]))
        else:
            groups[s.group][s.name] = s.value
    return pairs


def _py_pair(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)}: {py(v)}" for k, v in value.items()) + "}"
    return py(value)


def _acquire(library: Library) -> list[Setting]:
    return [s for s in library.settings if s.group == "acquire"]


def _pooler_title(pooler: Pooler) -> str:
    if pooler.kind == "pgpool":
        return "Pgpool-II (sessions, no transaction pooling)"
    version = ".".join(map(str, pooler.version)) if pooler.version else "version unknown"
    return f"PgBouncer {version}, {pooler.pool_mode} pooling"


def _app_shape(app: AppPlan) -> str:
    """How many processes (or invocations) hold how many connections each."""
    unit = "invocation" if app.serverless else "process"
    if app.serverless and not app.flagged:
        where = app.how
    else:
        where = f"{app.units} {'invocations' if app.flagged else 'processes'} ({app.how})"
    tail = " (serverless: --serverless)" if app.flagged else ""
    per = f"{app.per_unit} connection{'s' if app.per_unit != 1 else ''}"
    return f"{where}, at most {per} per {unit}, {app.connections} in all{tail}"


# ----------------------------------------------------------------------------- json


def plan_dict(plan: ClientPlan) -> dict[str, Any]:
    """The JSON structure: integers, strings, booleans, null, lists and dicts only."""
    pooler = plan.pooler
    return {
        "pooler": {
            "kind": pooler.kind,
            "pool_mode": pooler.pool_mode,
            "version": ".".join(map(str, pooler.version)) if pooler.version else None,
            "max_prepared_statements": pooler.max_prepared_statements,
            "server_lifetime": pooler.server_lifetime,
            "client_idle_timeout": pooler.client_idle_timeout,
            "sslmode": pooler.sslmode,
        },
        "prepared_statements": {
            "status": plan.prepared,
            "reason": plan.prepared_reason,
            "psycopg": plan.psycopg_prepares,
        },
        "connection_lifetime": {"seconds": plan.recycle, "reason": plan.recycle_reason},
        "apps": [
            {
                "name": app.name,
                "form": "serverless" if app.serverless else "processes",
                "flagged_serverless": app.flagged,
                "units": app.units,
                "how": app.how,
                "connections_per_unit": app.per_unit,
                "connections": app.connections,
                "libraries": {lib.key: _library_dict(lib) for lib in app.libraries},
            }
            for app in plan.apps
        ],
        "caveats": [{"feature": c.feature, "instead": c.instead} for c in plan.caveats],
        "library_notes": [{"library": key, "note": note} for key, note in plan.library_notes],
        "notes": list(plan.notes),
    }


def _library_dict(library: Library) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    for s in library.settings:
        value = str(s.value) if isinstance(s.value, Code) else s.value
        if s.group:
            settings.setdefault(s.group, {})[s.name] = value
        else:
            settings[s.name] = value
    return {
        "call": CALLS[library.key][library.serverless],
        "settings": settings,
        "max_connections": library.max_connections,
        "bound": library.bound,
        "enforced": library.enforced,
    }


# ----------------------------------------------------------------------------- text


def library_line(library: Library) -> str:
    """One library's settings as one call: `create_engine(pool_size=10, ...)`."""
    pairs = _grouped(library.settings)
    if library.key == "django":
        return ", ".join(f"{name}={_py_pair(value)}" for name, value in pairs)
    call = CALLS[library.key][library.serverless].split(".")[-1]
    text = f"{call}({', '.join(f'{name}={_py_pair(value)}' for name, value in pairs)})"
    acquire = _acquire(library)
    if acquire:
        text += "; acquire(" + ", ".join(f"{s.name}={py(s.value)}" for s in acquire) + ")"
    return text


def render_text(plan: ClientPlan, *, source: str = "") -> str:
    title = f"poolkit clients{(' ' + source) if source else ''}"
    out = [f"{title}: {_pooler_title(plan.pooler)}"]
    out += wrap(f"{plan.prepared}: {plan.prepared_reason}", "  prepared statements  ", " " * 23)
    lifetime = f"{plan.recycle} s" if plan.recycle is not None else "none"
    out += wrap(f"{lifetime}: {plan.recycle_reason}", "  connection lifetime  ", " " * 23)
    width = max(len(title) for title in LIBRARIES.values()) + 2
    for app in plan.apps:
        out += ["", *wrap(f"{app.name}: {_app_shape(app)}", "", "    ")]
        for library in app.libraries:
            label = f"  {LIBRARIES[library.key]:<{width}}"
            out += wrap(library_line(library), label, " " * (len(label) + 2))
    if plan.caveats:
        heading = "Pgpool-II" if plan.pooler.kind == "pgpool" else "What transaction pooling breaks"
        out += ["", f"{heading} (docs/transaction-pooling.md)"]
        for caveat in plan.caveats:
            out += wrap(f"{caveat.feature}: {caveat.instead}", "  - ", "    ")
    if plan.library_notes:
        out += ["", "Library notes"]
        for key, note in plan.library_notes:
            out += wrap(f"{LIBRARIES.get(key, key.capitalize())}: {note}", "  - ", "    ")
    if plan.notes:
        out += ["", "Notes"]
        for note in plan.notes:
            out += wrap(note, "  - ", "    ")
    return "\n".join(out) + "\n"


# ----------------------------------------------------------------------------- env


def env_prefix(app: str) -> str:
    """POOLKIT_<APP>_: the app's name upper-cased, other characters as underscores."""
    return "POOLKIT_" + re.sub(r"[^A-Z0-9]", "_", app.upper()) + "_"


def env_pairs(app: AppPlan) -> list[tuple[str, str]]:
    """The app's env lines in the order the libraries first set them. Libraries that share
    a name share its meaning and value (ValueError otherwise: a bug, tested)."""
    prefix = env_prefix(app.name)
    seen: dict[str, str] = {}
    for library in app.libraries:
        for s in library.settings:
            if s.env is None:
                continue
            value = env_value(s.value)
            if seen.setdefault(prefix + s.env, value) != value:
                raise ValueError(
                    f"{prefix + s.env}: {library.key} sets {value}, another library "
                    f"{seen[prefix + s.env]}"
                )
    return list(seen.items())


def _unique_prefixes(apps: tuple[AppPlan, ...]) -> None:
    seen: dict[str, str] = {}
    for app in apps:
        prefix = env_prefix(app.name)
        if prefix in seen:
            raise PoolkitError(
                f"apps {seen[prefix]!r} and {app.name!r}: both become {prefix}* in env files; "
                f"expected names that differ in more than case and punctuation, or --app to "
                f"print one of them"
            )
        seen[prefix] = app.name


def render_env(plan: ClientPlan, *, source: str = "") -> str:
    _unique_prefixes(plan.apps)
    title = f"poolkit clients{(' ' + source) if source else ''} --format env"
    out = [
        f"# {title}: {_pooler_title(plan.pooler)}.",
        "# One env file per application: integers, true / false, none for Python's None.",
        "# Code-valued settings (NullPool, check, prepared_statement_name_func) are in",
        "# --format snippets.",
    ]
    for app in plan.apps:
        out += ["", f"# {app.name}.env: {_app_shape(app)}"]
        out += [f"{name}={value}" for name, value in env_pairs(app)]
    return "\n".join(out) + "\n"


# ----------------------------------------------------------------------------- snippets


def _argument(name: str, value: Any, indent: str, key: str = "") -> list[str]:
    """`name=value,` (or `"name": value,` with `key`), a dict over several lines when the
    line would be longer than WIDTH."""
    head = f"{indent}{json.dumps(name)}: " if key else f"{indent}{name}="
    line = f"{head}{_py_pair(value)},"
    if not isinstance(value, dict) or len(line) <= WIDTH:
        return [line]
    inner = [f"{indent}    {json.dumps(k)}: {py(v)}," for k, v in value.items()]
    return [head + "{", *inner, f"{indent}}},"]


def _call(call: str, first: str, pairs: list[tuple[str, Any]], indent: str) -> list[str]:
    lines = [f"{indent}{call}(", f"{indent}    {first},"]
    for name, value in pairs:
        lines += _argument(name, value, indent + "    ")
    return [*lines, f"{indent})"]


def snippet(library: Library) -> list[str]:
    """One library's settings as Python code that runs as it is (given its imports)."""
    key, pairs = library.key, _grouped(library.settings)
    codes = {str(s.value) for s in library.settings if isinstance(s.value, Code)}
    if key == "django":
        lines = [
            "DATABASES = {",
            '    "default": {',
            '        "ENGINE": "django.db.backends.postgresql",',
            "        # NAME, USER, PASSWORD, and HOST / PORT of the pooler, as before",
        ]
        for name, value in pairs:
            lines += _argument(name, value, "        ", key="yes")
        return [*lines, "    },", "}"]
    if key in SCHEMES:
        imports = ["import os"]
        if any("uuid4" in code for code in codes):
            imports.append("from uuid import uuid4")
        module = "sqlalchemy.ext.asyncio" if key == "sqlalchemy_asyncio" else "sqlalchemy"
        imports += ["", f"from {module} import {CALLS[key][0]}"]
        if "NullPool" in codes:
            imports.append("from sqlalchemy.pool import NullPool")
        body = _call(CALLS[key][0], URL, pairs, "")
        body[1] = f"    {URL},  # {SCHEMES[key]}..."
        return [*imports, "", f"engine = {body[0]}", *body[1:]]
    if not library.serverless:
        return _pool_snippet(library, pairs)
    return _connect_snippet(library, pairs)


def _pool_snippet(library: Library, pairs: list[tuple[str, Any]]) -> list[str]:
    key = library.key
    if key == "asyncpg":
        lines = [
            "import os",
            "",
            "import asyncpg",
            "",
            "",
            "async def create_pool() -> asyncpg.Pool:",
        ]
        body = _call("await asyncpg.create_pool", URL, pairs, "    ")
        lines += [f"    return {body[0].strip()}", *body[1:]]
        acquire = ", ".join(f"{s.name}={py(s.value)}" for s in _acquire(library))
        return [*lines, "", "", f"# async with pool.acquire({acquire}) as connection: ..."]
    if key == "psycopg":
        head = ["import os", "", "from psycopg_pool import ConnectionPool", ""]
        body = _call("ConnectionPool", URL, pairs, "")
    else:
        head = ["import os", "", "from psycopg2.pool import ThreadedConnectionPool", ""]
        body = _call("ThreadedConnectionPool", f"dsn={URL}", pairs, "")
    return [*head, f"pool = {body[0]}", *body[1:]]


def _connect_snippet(library: Library, pairs: list[tuple[str, Any]]) -> list[str]:
    key = library.key
    module = {"asyncpg": "asyncpg", "psycopg": "psycopg", "psycopg2": "psycopg2"}[key]
    head = ["import os", "", f"import {module}", "", ""]
    if key == "asyncpg":
        body = _call("await asyncpg.connect", URL, pairs, "    ")
        return [
            *head,
            "async def handler(event, context):",
            f"    connection = {body[0].strip()}",
            *body[1:],
            "    try:",
            "        ...  # the invocation's queries",
            "    finally:",
            "        await connection.close()",
        ]
    body = _call(f"{module}.connect", URL, pairs, "    ")
    return [
        *head,
        "def handler(event, context):",
        f"    connection = {body[0].strip()}",
        *body[1:],
        "    try:",
        "        ...  # the invocation's queries",
        "    finally:",
        "        connection.close()",
    ]


def render_snippets(plan: ClientPlan, *, source: str = "") -> str:
    title = f"poolkit clients{(' ' + source) if source else ''} --format snippets"
    out = [f"# {title}: {_pooler_title(plan.pooler)}."]
    out += wrap(
        "Python, per application and library; DATABASE_URL points at the pooler. Pick the "
        "library the application uses.",
        "# ",
        "# ",
    )
    for app in plan.apps:
        out += ["", "", *wrap(f"===== {app.name}: {_app_shape(app)}", "# ", "# ")]
        for library in app.libraries:
            unit = "invocation" if app.serverless else "process"
            out.append("")
            out += wrap(
                f"--- {LIBRARIES[library.key]}: at most {library.max_connections} per {unit} "
                f"({library.bound})",
                "# ",
                "# ",
            )
            out += snippet(library)
    return "\n".join(out) + "\n"
