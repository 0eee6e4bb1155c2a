"""Client-side pool settings: what each application's database library should set so that
it opens at most the connections `poolkit size` counted, behind the pooler in front.

`resolve_pooler(topology, ...)` reads the pooler the clients connect through (each
command-line option over the topology over the defaults, all checked), and
`plan_clients(sizing, pooler, ...)` returns a `ClientPlan`: per application and library the
settings, the most connections they let one process (or invocation) open, and the notes.
Pure functions over frozen dataclasses: `poolkit.render_clients` prints a plan and
`poolkit.cli.clients` does the I/O. docs/transaction-pooling.md explains the advice.

Each number is either the topology's (a process's connections, from `poolkit size`), a
pooler setting, a library's own default, or one of the constants below, each with its
reason. A setting a library does not have is never made up: asyncpg has no connection
lifetime and Django no pool size, so neither gets one.
"""

from __future__ import annotations

import math
import re
from dataclasses import replace

from poolkit import PoolkitError, clients_base
from poolkit.clients_base import *  # noqa: F403 -- re-exported, as poolkit.sizing does
from poolkit.clients_base import (
    LIBRARIES,
    PGBOUNCER_CLIENT_IDLE_TIMEOUT,
    PGBOUNCER_SERVER_LIFETIME,
    PGPOOL,
    PGPOOL_CLIENT_IDLE_LIMIT,
    POOL_MODES,
    POOLERS,
    PSYCOPG_PREPARED_SINCE,
    RECYCLE_FRACTION,
    SHORTEST_LIMIT,
    SSLMODES,
    TRANSACTION_POOLING,
    AppPlan,
    ClientPlan,
    Context,
    Pooler,
)
from poolkit.clients_libraries import library_notes, library_settings
from poolkit.pgbouncer_tables import PGBOUNCER
from poolkit.sizing import Sizing
from poolkit.sizing_steps import prepared_statements
from poolkit.topology import Topology
from poolkit.values import did_you_mean

__all__ = [*clients_base.__all__, "plan_clients", "resolve_pooler"]

# ----------------------------------------------------------------- options


def _choice(option: str, value: str | None, choices: tuple[str, ...], meaning: str) -> str:
    if value is None:
        return choices[0]
    if value not in choices:
        hint = did_you_mean(str(value), choices)
        raise PoolkitError(
            f"{option}: expected one of {', '.join(choices)} ({meaning}), got {value!r}{hint}"
        )
    return value


def _count(option: str, value: str | None, meaning: str) -> int | None:
    """An integer option >= 0 given as text (None: not given)."""
    if value is None:
        return None
    text = str(value).strip()
    if not re.fullmatch(r"[0-9]+", text):
        raise PoolkitError(f"{option}: expected an integer >= 0 ({meaning}), got {value!r}")
    return int(text)


def _limit(option: str, value: str | None, meaning: str) -> int | None:
    """A pooler's limit in seconds: 0 (off) or at least SHORTEST_LIMIT, so a connection
    lifetime in whole seconds below it is at least 1."""
    seconds = _count(option, value, f"seconds; {meaning}, 0 off")
    if seconds is not None and 0 < seconds < SHORTEST_LIMIT:
        raise PoolkitError(
            f"{option}: {seconds} s leaves a client connection no whole second to live; "
            f"expected 0 (off) or at least {SHORTEST_LIMIT}"
        )
    return seconds


def _pgbouncer_version(value: str | None) -> tuple[int, int, int] | None:
    if value is None:
        return None
    try:
        text = PGBOUNCER.parse_version(value)
    except PoolkitError as exc:
        raise PoolkitError(f"--pgbouncer-version: {exc}") from None
    major, minor, patch = (int(part) for part in text.split("."))
    return major, minor, patch


def resolve_pooler(
    topology: Topology,
    *,
    pooler: str | None = None,
    pgbouncer_version: str | None = None,
    pool_mode: str | None = None,
    max_prepared_statements: str | None = None,
    server_lifetime: str | None = None,
    client_idle_timeout: str | None = None,
    sslmode: str | None = None,
) -> Pooler:
    """The pooler in front of the clients, from the options (text, as typed; None when not
    given) over the topology (poolers.version, poolers.max_prepared_statements) over the
    defaults: PgBouncer, transaction pooling (what `poolkit size` sizes), the version
    unknown (the advice then holds for every version, as `poolkit size`'s does),
    PgBouncer's server_lifetime and client_idle_timeout defaults, sslmode verify-full.
    PoolkitError names a bad option and what would be right."""
    kind = _choice("--pooler", pooler, POOLERS, "the pooler the clients connect through")
    ssl = _choice("--sslmode", sslmode, SSLMODES, "the sslmode of serverless apps")
    idle = _limit(
        "--client-idle-timeout",
        client_idle_timeout,
        "PgBouncer's client_idle_timeout or Pgpool-II's client_idle_limit",
    )
    if kind == "pgpool":
        if topology.pgpool is None:
            raise PoolkitError(
                "--pooler pgpool: the topology has no pgpool section, so poolkit size sized "
                "no Pgpool-II children; add `pgpool:` to the topology or use --pooler pgbouncer"
            )
        for option, given in (
            ("--pgbouncer-version", pgbouncer_version),
            ("--pool-mode", pool_mode),
            ("--max-prepared-statements", max_prepared_statements),
            ("--server-lifetime", server_lifetime),
        ):
            if given is not None:
                raise PoolkitError(
                    f"{option}: a PgBouncer setting, but --pooler is pgpool; drop {option} "
                    f"or use --pooler pgbouncer"
                )
        return Pooler(
            kind="pgpool",
            pool_mode="session",
            version=None,
            max_prepared_statements=None,
            server_lifetime=0,
            client_idle_timeout=PGPOOL_CLIENT_IDLE_LIMIT if idle is None else idle,
            sslmode=ssl,
        )
    if pool_mode == "statement":
        raise PoolkitError(
            "--pool-mode: statement pooling refuses multi-statement transactions, which "
            "SQLAlchemy, Django and psycopg open by default; expected transaction or session"
        )
    mode = _choice("--pool-mode", pool_mode, POOL_MODES, "PgBouncer's pool_mode")
    version = _pgbouncer_version(pgbouncer_version) or topology.poolers.version
    mps = _count(
        "--max-prepared-statements",
        max_prepared_statements,
        "PgBouncer's max_prepared_statements, 0 off",
    )
    lifetime = _limit("--server-lifetime", server_lifetime, "PgBouncer's server_lifetime")
    return Pooler(
        kind="pgbouncer",
        pool_mode=mode,
        version=version,
        max_prepared_statements=topology.poolers.max_prepared_statements if mps is None else mps,
        server_lifetime=PGBOUNCER_SERVER_LIFETIME if lifetime is None else lifetime,
        client_idle_timeout=PGBOUNCER_CLIENT_IDLE_TIMEOUT if idle is None else idle,
        sslmode=ssl,
    )


# ----------------------------------------------------------------- the pooler's limits


def prepared_support(topology: Topology, pooler: Pooler) -> tuple[str, str]:
    """Whether protocol-level named prepared statements survive the pooler: (status, reason).

    Session pooling and Pgpool-II keep a client on one backend connection, so they do.
    In transaction pooling `poolkit size`'s rule decides from the version and
    max_prepared_statements (PgBouncer 1.21+ with max_prepared_statements > 0, the default
    from 1.24), applied to the version the options give."""
    if pooler.kind == "pgpool":
        return "supported", "Pgpool-II keeps a client on one backend connection per session"
    if pooler.pool_mode == "session":
        return "supported", "session pooling keeps a client on one server connection"
    poolers = replace(
        topology.poolers,
        version=pooler.version,
        max_prepared_statements=pooler.max_prepared_statements,
    )
    return prepared_statements(replace(topology, poolers=poolers))


def psycopg_prepares(pooler: Pooler, prepared: str) -> bool:
    """Whether psycopg 3 may keep preparing statements (prepare_threshold, default 5).

    psycopg docs, "Using prepared statements with PgBouncer": from psycopg 3.2 with
    PgBouncer 1.22+ and max_prepared_statements > 0 (and libpq 17+ on the client, which the
    notes say); other poolers in transaction mode need prepare_threshold=None."""
    if prepared != "supported":
        return False
    if not pooler.multiplexed:
        return True
    return pooler.version is not None and pooler.version >= PSYCOPG_PREPARED_SINCE


def connection_lifetime(pooler: Pooler) -> tuple[int | None, str]:
    """A client connection's lifetime in seconds (SQLAlchemy pool_recycle, psycopg_pool
    max_lifetime, Django CONN_MAX_AGE), and why: RECYCLE_FRACTION of the pooler's shortest
    limit, at least 1; None when the pooler sets none.

    - client_idle_timeout / client_idle_limit: the pooler closes a client idle that long;
      PgBouncer's docs ask for it to be "larger than the client-side connection lifetime
      settings". A connection younger than its lifetime was idle for less than its age.
    - server_lifetime: PgBouncer closes an unused server connection that old. In session
      pooling a server connection stays linked to its client until the client
      disconnects, so clients must reconnect for it to take effect; in transaction pooling
      reconnecting also spreads clients again over PgBouncer processes and hosts that
      restarted (so_reuseport balances at connect time only). 0 means "use a server
      connection once", no limit for clients.
    """
    limits: list[tuple[int, str]] = []
    if pooler.kind == "pgbouncer" and pooler.server_lifetime > 0:
        limits.append((pooler.server_lifetime, "server_lifetime"))
    if pooler.client_idle_timeout > 0:
        limits.append((pooler.client_idle_timeout, pooler.idle_setting))
    if not limits:
        if pooler.kind == "pgpool":
            return None, "client_idle_limit is off: Pgpool-II closes no idle client"
        return None, "server_lifetime is 0 and client_idle_timeout is off: no limit"
    limit, name = min(limits)
    seconds = math.floor(limit * RECYCLE_FRACTION)
    return seconds, f"{RECYCLE_FRACTION} of {name} ({limit} s)"


def idle_lifetime(pooler: Pooler) -> int | None:
    """Seconds a pooled connection may stay idle before the pool closes it (asyncpg
    max_inactive_connection_lifetime, psycopg_pool max_idle): RECYCLE_FRACTION of the
    pooler's idle limit, at least 1; None when the pooler closes no idle client."""
    if pooler.client_idle_timeout <= 0:
        return None
    return math.floor(pooler.client_idle_timeout * RECYCLE_FRACTION)


# ----------------------------------------------------------------- the plan


def _names(option: str, chosen: tuple[str, ...], known: tuple[str, ...], what: str) -> None:
    for name in chosen:
        if name not in known:
            raise PoolkitError(
                f"{option} {name!r}: no such {what}; expected one of {', '.join(known)}"
                f"{did_you_mean(name, known)}"
            )


def _app_plans(
    sizing: Sizing,
    apps: tuple[str, ...],
    serverless: tuple[str, ...],
    keys: tuple[str, ...],
    ctx: Context,
) -> tuple[AppPlan, ...]:
    """Each chosen app (all when `apps` is empty), in the topology's order, with the
    connections per process (or invocation) `poolkit size` counted for it."""
    topo = {a.name: a for a in sizing.topology.apps}
    plans = []
    for client in sizing.apps:
        if apps and client.name not in apps:
            continue
        app = topo[client.name]
        flagged = client.name in serverless and not app.serverless
        if app.serverless:
            units = int(app.serverless_concurrency or 0)
            how = f"{units} concurrent invocations"
        else:
            instances, processes = int(app.instances or 0), int(app.processes or 0)
            units = instances * processes
            how = (
                f"{instances} instance{'s' if instances != 1 else ''} x "
                f"{processes} process{'es' if processes != 1 else ''}"
            )
        is_serverless = app.serverless or flagged
        plans.append(
            AppPlan(
                name=client.name,
                serverless=is_serverless,
                flagged=flagged,
                units=units,
                how=how,
                per_unit=client.pool_size,
                libraries=tuple(
                    library_settings(key, client.pool_size, is_serverless, ctx) for key in keys
                ),
            )
        )
    return tuple(plans)


def _notes(sizing: Sizing, ctx: Context, apps: tuple[AppPlan, ...]) -> list[str]:
    """Notes on the pooler against these apps: an unknown version, sessions beyond what
    the pooler holds, apps flagged serverless."""
    pooler = ctx.pooler
    total = sum(a.connections for a in apps)
    notes: list[str] = []
    if ctx.prepared == "unknown":
        notes.append(
            "PgBouncer's version is unknown (give --pgbouncer-version or poolers.version): "
            "the settings turn prepared statements off, which works with every version."
        )
    if pooler.kind == "pgbouncer" and pooler.pool_mode == "session":
        capacity = sizing.pgbouncer_worst_case
        notes.append(
            f"Session pooling: a client connection holds a server connection from its first "
            f"query until it disconnects, while poolkit size sized for transaction pooling. "
            f"These apps open up to {total} connections and PgBouncer's pools hold at most "
            f"{capacity} server connections ({sizing.processes} processes x "
            f"{sizing.server_connections_per_process} pool + reserve)"
            + ("; clients beyond them wait up to query_wait_timeout." if total > capacity else ".")
        )
    if pooler.kind == "pgpool" and sizing.topology.pgpool is not None:
        nodes = sizing.topology.pgpool.nodes
        sessions = nodes * int(sizing.num_init_children or 0)
        if total > sessions:
            notes.append(
                f"Pgpool-II admits {sessions} client sessions ({nodes} node(s) x "
                f"num_init_children {sizing.num_init_children}); these apps can open {total}: "
                "the rest wait for a free child (or are refused with reserved_connections > 0). "
                "Idle connections close (one warm per process), but at peak put these apps "
                "behind PgBouncer or raise pgpool.budget_percent."
            )
    for app in apps:
        if app.flagged:
            notes.append(
                f"{app.name}: serverless by --serverless: each of its {app.units} processes "
                f"is counted as one invocation holding at most {app.per_unit}."
            )
    return notes


def plan_clients(
    sizing: Sizing,
    pooler: Pooler,
    *,
    apps: tuple[str, ...] = (),
    serverless: tuple[str, ...] = (),
    libraries: tuple[str, ...] = (),
) -> ClientPlan:
    """The client settings of every app of `sizing` (or those named in `apps`), for every
    library (or those in `libraries`), behind `pooler`; apps named in `serverless` are
    treated as serverless. PoolkitError for a name that does not exist."""
    topology = sizing.topology
    names = tuple(a.name for a in topology.apps)
    _names("--app", apps, names, "application in the topology")
    _names("--serverless", serverless, names, "application in the topology")
    _names("--library", libraries, tuple(LIBRARIES), "library")
    keys = tuple(k for k in LIBRARIES if not libraries or k in libraries)
    prepared, reason = prepared_support(topology, pooler)
    recycle, recycle_reason = connection_lifetime(pooler)
    ctx = Context(
        pooler=pooler,
        prepared=prepared,
        psycopg_prepares=psycopg_prepares(pooler, prepared),
        recycle=recycle,
        idle=idle_lifetime(pooler),
    )
    plans = _app_plans(sizing, apps, serverless, keys, ctx)
    if pooler.kind == "pgpool":
        caveats = PGPOOL
    elif pooler.multiplexed:
        caveats = TRANSACTION_POOLING
    else:
        caveats = ()
    return ClientPlan(
        pooler=pooler,
        prepared=prepared,
        prepared_reason=reason,
        psycopg_prepares=ctx.psycopg_prepares,
        recycle=recycle,
        recycle_reason=recycle_reason,
        apps=plans,
        caveats=caveats,
        library_notes=tuple(library_notes(ctx, reason, keys, plans)),
        notes=tuple(_notes(sizing, ctx, plans)),
    )
