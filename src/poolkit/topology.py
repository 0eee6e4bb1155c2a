"""Application topology: validate a plain dict (parsed YAML/JSON) into frozen dataclasses.

Every problem raises `PoolkitError` whose message starts with the field path
(`database.max_connections`, `apps[2].instances`) and says what would be right. Unknown
keys are errors (with a "did you mean" hint), booleans are never integers, floats are
never counts. The schema is documented in docs/sizing.md.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from poolkit import PoolkitError

_MISSING = object()

TOP_LEVEL_KEYS = (
    "database",
    "poolers",
    "pgpool",
    "pools",
    "apps",
    "workload",
    "calibration",
)
DATABASE_KEYS = (
    "max_connections",
    "superuser_reserved_connections",
    "reserved_connections",
    "other_connections",
    "cpu_cores",
    "effective_spindle_count",
)
POOLERS_KEYS = (
    "hosts",
    "processes_per_host",
    "spare_hosts",
    "version",
    "max_prepared_statements",
)
PGPOOL_KEYS = ("nodes", "budget_percent", "query_cancel")
POOL_KEYS = ("database", "user", "share")
PROCESS_APP_KEYS = ("name", "instances", "processes", "connections_per_process")
SERVERLESS_APP_KEYS = ("name", "serverless_concurrency", "connections_per_invocation")
APP_KEYS = ("name", *PROCESS_APP_KEYS[1:], *SERVERLESS_APP_KEYS[1:])
WORKLOAD_KEYS = ("peak_tps", "mean_transaction_ms")
CALIBRATION_KEYS = ("useful_concurrency", "source")

_VERSION_RE = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?$")


@dataclass(frozen=True)
class Database:
    """The PostgreSQL server the poolers share."""

    max_connections: int
    cpu_cores: int
    superuser_reserved_connections: int = 3
    reserved_connections: int = 0
    other_connections: int = 0
    effective_spindle_count: int = 0


@dataclass(frozen=True)
class Poolers:
    """The PgBouncer fleet: `hosts` hosts running `processes_per_host` processes each."""

    hosts: int = 1
    processes_per_host: int = 1
    spare_hosts: int = 0
    version: tuple[int, int, int] | None = None
    max_prepared_statements: int | None = None

    @property
    def processes(self) -> int:
        return self.hosts * self.processes_per_host

    @property
    def surviving_processes(self) -> int:
        return (self.hosts - self.spare_hosts) * self.processes_per_host


@dataclass(frozen=True)
class Pgpool:
    """Pgpool-II serving the same database next to PgBouncer."""

    nodes: int = 1
    budget_percent: int = 50
    query_cancel: bool = True


@dataclass(frozen=True)
class Pool:
    """One database/user pair; `share` weighs it against the other pairs."""

    database: str
    user: str
    share: int = 1

    @property
    def label(self) -> str:
        return f"{self.database}/{self.user}"


@dataclass(frozen=True)
class App:
    """An application: either long-running processes or serverless invocations."""

    name: str
    instances: int | None = None
    processes: int | None = None
    connections_per_process: int | None = None
    serverless_concurrency: int | None = None
    connections_per_invocation: int | None = None

    @property
    def serverless(self) -> bool:
        return self.serverless_concurrency is not None

    @property
    def connections(self) -> int:
        """Client connections this application can hold open at once."""
        if self.serverless:
            return int(self.serverless_concurrency or 0) * int(self.connections_per_invocation or 0)
        return (
            int(self.instances or 0)
            * int(self.processes or 0)
            * int(self.connections_per_process or 0)
        )


@dataclass(frozen=True)
class Workload:
    """Peak load: transactions per second and their mean duration (exact fractions)."""

    peak_tps: Fraction
    mean_transaction_ms: Fraction

    @property
    def busy_connections(self) -> Fraction:
        """Little's law: L = lambda x W (transactions in flight on average at peak)."""
        return self.peak_tps * self.mean_transaction_ms / 1000


@dataclass(frozen=True)
class Calibration:
    """The database's useful concurrency as measured (`poolkit calibrate`), and how."""

    useful_concurrency: int
    source: str


@dataclass(frozen=True)
class Topology:
    database: Database
    poolers: Poolers
    pgpool: Pgpool | None
    pools: tuple[Pool, ...]
    apps: tuple[App, ...]
    workload: Workload | None = None
    pools_defaulted: bool = False
    calibration: Calibration | None = None

    @property
    def total_clients(self) -> int:
        return sum(app.connections for app in self.apps)


DEFAULT_POOL = Pool(database="*", user="*", share=1)


# --------------------------------------------------------------------------- helpers


def _describe(value: Any) -> str:
    """A short, user-facing description of a wrong value and its type."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, int):
        return f"{value} (an integer)"
    if isinstance(value, float):
        return f"{value!r} (a number with a decimal point)"
    if isinstance(value, str):
        return f"{value!r} (a string)"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return f"a {type(value).__name__}"


def _fail(path: str, message: str) -> PoolkitError:
    return PoolkitError(f"{path}: {message}")


def _mapping(value: Any, path: str, keys: tuple[str, ...]) -> Mapping[str, Any]:
    """Check that `value` is a mapping whose keys are all in `keys` (path "" is the root)."""
    if not isinstance(value, Mapping):
        raise _fail(
            path or "topology",
            f"expected a mapping with keys {_one_of(keys)}, got {_describe(value)}",
        )
    for key in value:
        if not isinstance(key, str):
            raise _fail(
                _join(path, str(key)), f"unknown key; expected one of {_one_of(keys)} (strings)"
            )
        if key not in keys:
            hint = difflib.get_close_matches(key, keys, n=1)
            suffix = f" (did you mean {hint[0]}?)" if hint else ""
            raise _fail(_join(path, key), f"unknown key; expected one of {_one_of(keys)}{suffix}")
    return value


def _one_of(keys: tuple[str, ...]) -> str:
    return ", ".join(sorted(keys))


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _int(
    data: Mapping[str, Any],
    key: str,
    path: str,
    *,
    minimum: int,
    default: Any = _MISSING,
    meaning: str = "",
) -> int:
    field = _join(path, key)
    expected = f"an integer >= {minimum}" + (f" ({meaning})" if meaning else "")
    if key not in data:
        if default is _MISSING:
            raise _fail(field, f"missing; expected {expected}")
        return default
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(field, f"expected {expected}, got {_describe(value)}")
    if value < minimum:
        raise _fail(field, f"expected {expected}, got {value}")
    return int(value)


def _number(data: Mapping[str, Any], key: str, path: str, meaning: str) -> Fraction:
    """A positive int or float, converted exactly to a Fraction (floats via their repr)."""
    field = _join(path, key)
    expected = f"a number > 0 ({meaning})"
    if key not in data:
        raise _fail(field, f"missing; expected {expected}")
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(field, f"expected {expected}, got {_describe(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise _fail(field, f"expected {expected}, got {value!r}")
    if value <= 0:
        raise _fail(field, f"expected {expected}, got {value!r}")
    return Fraction(repr(float(value))) if isinstance(value, float) else Fraction(int(value))


def _name(data: Mapping[str, Any], key: str, path: str) -> str:
    field = _join(path, key)
    if key not in data:
        raise _fail(field, "missing; expected a non-empty name")
    value = data[key]
    if not isinstance(value, str):
        hint = "; quote it in YAML" if isinstance(value, bool | int | float) else ""
        raise _fail(field, f"expected a non-empty string, got {_describe(value)}{hint}")
    if not value.strip() or any(ord(ch) < 32 or ch in "=\"'" or ch.isspace() for ch in value):
        raise _fail(
            field,
            f"expected a non-empty name without spaces, quotes, '=' or control "
            f"characters, got {value!r}",
        )
    return str(value)


def _bool(data: Mapping[str, Any], key: str, path: str, default: bool) -> bool:
    if key not in data:
        return default
    value = data[key]
    if not isinstance(value, bool):
        raise _fail(_join(path, key), f"expected true or false, got {_describe(value)}")
    return bool(value)


def _section(data: Mapping[str, Any], key: str, keys: tuple[str, ...]) -> Mapping[str, Any]:
    value = data.get(key)
    if value is None:  # `poolers:` with nothing under it means "all defaults"
        return {}
    return _mapping(value, key, keys)


def _list(data: Mapping[str, Any], key: str, what: str) -> list[Any] | None:
    if key not in data or data[key] is None:
        return None
    value = data[key]
    if not isinstance(value, list | tuple):
        raise _fail(key, f"expected a list of {what}, got {_describe(value)}")
    if not value:
        raise _fail(key, f"expected a list with at least one {what.rstrip('s')}, got an empty list")
    return list(value)


# --------------------------------------------------------------------------- sections


def _parse_database(data: Mapping[str, Any]) -> Database:
    if "database" not in data or data["database"] is None:
        raise _fail("database", "missing; expected a mapping with max_connections and cpu_cores")
    d = _mapping(data["database"], "database", DATABASE_KEYS)
    p = "database"
    db = Database(
        max_connections=_int(
            d, "max_connections", p, minimum=1, meaning="PostgreSQL max_connections"
        ),
        superuser_reserved_connections=_int(
            d, "superuser_reserved_connections", p, minimum=0, default=3
        ),
        reserved_connections=_int(d, "reserved_connections", p, minimum=0, default=0),
        other_connections=_int(
            d,
            "other_connections",
            p,
            minimum=0,
            default=0,
            meaning="connections that bypass the poolers",
        ),
        cpu_cores=_int(d, "cpu_cores", p, minimum=1, meaning="cores of the database host"),
        effective_spindle_count=_int(d, "effective_spindle_count", p, minimum=0, default=0),
    )
    reserved = db.superuser_reserved_connections + db.reserved_connections
    if reserved >= db.max_connections:
        raise _fail(
            "database.max_connections",
            f"expected more than superuser_reserved_connections + reserved_connections "
            f"({db.superuser_reserved_connections} + {db.reserved_connections} = {reserved}), "
            f"as PostgreSQL requires, got {db.max_connections}",
        )
    return db


def _parse_version(d: Mapping[str, Any]) -> tuple[int, int, int] | None:
    if "version" not in d:
        return None
    value = d["version"]
    field = "poolers.version"
    if isinstance(value, float):
        raise _fail(
            field,
            f'expected a quoted PgBouncer version such as "1.24.1", got {value!r} (a number; '
            f"YAML reads 1.20 as 1.2, so quote it)",
        )
    match = _VERSION_RE.match(value) if isinstance(value, str) else None
    if match is None:
        raise _fail(field, f'expected a PgBouncer version such as "1.24.1", got {_describe(value)}')
    major, minor, patch = match.groups()
    return int(major), int(minor), int(patch or 0)


def _parse_poolers(data: Mapping[str, Any]) -> Poolers:
    d = _section(data, "poolers", POOLERS_KEYS)
    p = "poolers"
    hosts = _int(d, "hosts", p, minimum=1, default=1, meaning="PgBouncer hosts")
    per_host = _int(d, "processes_per_host", p, minimum=1, default=1)
    spare = _int(d, "spare_hosts", p, minimum=0, default=0)
    if spare >= hosts:
        raise _fail(
            "poolers.spare_hosts",
            f"expected an integer < poolers.hosts ({hosts}) so at least one PgBouncer host "
            f"stays up, got {spare}",
        )
    mps = _int(d, "max_prepared_statements", p, minimum=0, default=None)
    return Poolers(
        hosts=hosts,
        processes_per_host=per_host,
        spare_hosts=spare,
        version=_parse_version(d),
        max_prepared_statements=mps,
    )


def _parse_pgpool(data: Mapping[str, Any]) -> Pgpool | None:
    if "pgpool" not in data:
        return None
    d = _section(data, "pgpool", PGPOOL_KEYS)  # `pgpool:` alone: Pgpool-II with defaults
    p = "pgpool"
    percent = _int(
        d, "budget_percent", p, minimum=1, default=50, meaning="share of the server budget, 1-99"
    )
    if percent > 99:
        raise _fail(
            "pgpool.budget_percent",
            f"expected an integer from 1 to 99 (the rest goes to PgBouncer), got {percent}",
        )
    return Pgpool(
        nodes=_int(d, "nodes", p, minimum=1, default=1, meaning="Pgpool-II nodes"),
        budget_percent=percent,
        query_cancel=_bool(d, "query_cancel", p, default=True),
    )


def _parse_pools(data: Mapping[str, Any]) -> tuple[tuple[Pool, ...], bool]:
    items = _list(data, "pools", "database/user pairs")
    if items is None:
        return (DEFAULT_POOL,), True
    pools: list[Pool] = []
    seen: dict[tuple[str, str], int] = {}
    for index, item in enumerate(items):
        path = f"pools[{index}]"
        d = _mapping(item, path, POOL_KEYS)
        pool = Pool(
            database=_name(d, "database", path),
            user=_name(d, "user", path),
            share=_int(d, "share", path, minimum=1, default=1, meaning="relative weight"),
        )
        key = (pool.database, pool.user)
        if key in seen:
            raise _fail(
                path,
                f"duplicate database/user pair {pool.label} (also pools[{seen[key]}]); "
                f"expected each pair once",
            )
        seen[key] = index
        pools.append(pool)
    return tuple(pools), False


def _parse_app(item: Any, path: str) -> App:
    d = _mapping(item, path, APP_KEYS)
    name = _name(d, "name", path)
    process_keys = [k for k in PROCESS_APP_KEYS[1:] if k in d]
    serverless_keys = [k for k in SERVERLESS_APP_KEYS[1:] if k in d]
    forms = (
        "either {instances, processes, connections_per_process} or "
        "{serverless_concurrency, connections_per_invocation}"
    )
    if process_keys and serverless_keys:
        raise _fail(
            path,
            f"mixes the process form ({', '.join(process_keys)}) with the serverless form "
            f"({', '.join(serverless_keys)}); expected {forms}",
        )
    if serverless_keys:
        return App(
            name=name,
            serverless_concurrency=_int(
                d, "serverless_concurrency", path, minimum=1, meaning="concurrent invocations"
            ),
            connections_per_invocation=_int(
                d, "connections_per_invocation", path, minimum=1, default=1
            ),
        )
    if not process_keys:
        raise _fail(path, f"no connection counts; expected {forms}")
    return App(
        name=name,
        instances=_int(d, "instances", path, minimum=1, meaning="hosts or containers"),
        processes=_int(d, "processes", path, minimum=1, default=1, meaning="per instance"),
        connections_per_process=_int(
            d, "connections_per_process", path, minimum=1, meaning="client pool size per process"
        ),
    )


def _parse_apps(data: Mapping[str, Any]) -> tuple[App, ...]:
    items = _list(data, "apps", "applications")
    if items is None:
        raise _fail("apps", "missing; expected a list with at least one application")
    apps: list[App] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        path = f"apps[{index}]"
        app = _parse_app(item, path)
        if app.name in seen:
            raise _fail(
                f"{path}.name",
                f"duplicate application name {app.name!r} (also apps[{seen[app.name]}]); "
                f"expected unique names",
            )
        seen[app.name] = index
        apps.append(app)
    return tuple(apps)


def _parse_workload(data: Mapping[str, Any]) -> Workload | None:
    if "workload" not in data or data["workload"] is None:
        return None
    d = _mapping(data["workload"], "workload", WORKLOAD_KEYS)
    return Workload(
        peak_tps=_number(d, "peak_tps", "workload", "transactions per second at peak"),
        mean_transaction_ms=_number(
            d, "mean_transaction_ms", "workload", "mean transaction time in milliseconds"
        ),
    )


def _parse_calibration(data: Mapping[str, Any]) -> Calibration | None:
    if "calibration" not in data or data["calibration"] is None:
        return None
    d = _mapping(data["calibration"], "calibration", CALIBRATION_KEYS)
    useful = _int(
        d,
        "useful_concurrency",
        "calibration",
        minimum=1,
        meaning="the active connections poolkit calibrate recommends",
    )
    expected = (
        "a non-empty string saying where the number comes from, such as the source line "
        "poolkit calibrate prints"
    )
    if "source" not in d:
        raise _fail("calibration.source", f"missing; expected {expected}")
    source = d["source"]
    if not isinstance(source, str) or not source.strip():
        raise _fail("calibration.source", f"expected {expected}, got {_describe(source)}")
    return Calibration(useful_concurrency=useful, source=" ".join(source.split()))


def parse_topology(data: Any) -> Topology:
    """Validate `data` (a dict from YAML/JSON or Ansible) and return a `Topology`."""
    if data is None:
        raise _fail("topology", "empty; expected a mapping with database and apps")
    top = _mapping(data, "", TOP_LEVEL_KEYS)  # an unknown top-level key is reported by its name
    database = _parse_database(top)
    poolers = _parse_poolers(top)
    pgpool = _parse_pgpool(top)
    pools, defaulted = _parse_pools(top)
    apps = _parse_apps(top)
    workload = _parse_workload(top)
    calibration = _parse_calibration(top)
    return Topology(
        database=database,
        poolers=poolers,
        pgpool=pgpool,
        pools=pools,
        apps=apps,
        workload=workload,
        pools_defaulted=defaulted,
        calibration=calibration,
    )
