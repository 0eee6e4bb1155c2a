"""What the client settings share: the constants and their reasons, the records a plan is
made of, and the pooler facts every library's settings depend on.

Internal to the client modules: `poolkit.clients` re-exports the public names, and the
library builders in `poolkit.clients_libraries` import the rest from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

#: The names `poolkit.clients` re-exports.
__all__ = [
    "ASYNCPG_MAX_INACTIVE",
    "LIBRARIES",
    "PGBOUNCER_CLIENT_IDLE_TIMEOUT",
    "PGBOUNCER_SERVER_LIFETIME",
    "PGPOOL",
    "PGPOOL_CLIENT_IDLE_LIMIT",
    "POOLERS",
    "POOL_MODES",
    "POOL_TIMEOUT",
    "PSYCOPG_POOL_MAX_IDLE",
    "PSYCOPG_PREPARED_SINCE",
    "RECYCLE_FRACTION",
    "SERVERLESS_CONNECT_TIMEOUT",
    "SHORTEST_LIMIT",
    "SQLALCHEMY_NO_RECYCLE",
    "SSLMODES",
    "TRANSACTION_POOLING",
    "UNIQUE_STATEMENT_NAMES",
    "AppPlan",
    "Caveat",
    "ClientPlan",
    "Code",
    "Context",
    "Library",
    "Pooler",
    "Setting",
    "warm_connections",
]

#: What `--pooler` accepts; the first is the default (every topology has PgBouncer).
POOLERS = ("pgbouncer", "pgpool")
#: What `--pool-mode` accepts; the first is the default, the mode `poolkit size` assumes
#: (sizing.POOL_MODE, tested).
#: PgBouncer's statement pooling is refused: it rejects multi-statement transactions,
#: which SQLAlchemy, Django and psycopg open by default.
POOL_MODES = ("transaction", "session")
#: What `--sslmode` accepts for serverless apps (libpq's names; asyncpg reads them too).
SSLMODES = ("verify-full", "require")
#: The libraries, in the order they are printed, with their names for people.
LIBRARIES = {
    "sqlalchemy": "SQLAlchemy",
    "sqlalchemy_asyncio": "SQLAlchemy asyncio",
    "asyncpg": "asyncpg",
    "psycopg": "psycopg 3",
    "psycopg2": "psycopg2",
    "django": "Django",
}

#: PgBouncer's defaults (pgbouncer.ini docs), which roles/pgbouncer keeps (tested):
#: server_lifetime closes an unused server connection older than this (0: use it once);
#: client_idle_timeout closes a client idle this long (0: never).
PGBOUNCER_SERVER_LIFETIME = 3600
PGBOUNCER_CLIENT_IDLE_TIMEOUT = 0
#: Pgpool-II's client_idle_limit default (0: never), which roles/pgpool keeps (tested).
PGPOOL_CLIENT_IDLE_LIMIT = 0
#: A client's connection lifetime, as a fraction of the pooler's shortest limit: below it,
#: so a connection is replaced before the pooler drops it, with a tenth of margin for the
#: pooler's periodic check and the time between checkout and first query.
RECYCLE_FRACTION = Fraction(9, 10)
#: The shortest pooler limit (seconds, when not 0) below which a lifetime in whole seconds
#: is still at least 1: floor(2 x 9/10) = 1.
SHORTEST_LIMIT = 2
#: Seconds a caller waits for a pooled connection: SQLAlchemy's pool_timeout and
#: psycopg_pool's timeout default; asyncpg's acquire() gets the same instead of forever.
POOL_TIMEOUT = 30
#: libpq connect_timeout / asyncpg timeout for serverless invocations, in seconds: short,
#: so an invocation fails while it still has time to report (libpq reads < 2 as 2).
SERVERLESS_CONNECT_TIMEOUT = 5
#: SQLAlchemy's pool_recycle default: never recycle.
SQLALCHEMY_NO_RECYCLE = -1
#: asyncpg's max_inactive_connection_lifetime and psycopg_pool's max_idle defaults (s).
ASYNCPG_MAX_INACTIVE = 300
PSYCOPG_POOL_MAX_IDLE = 600
#: psycopg 3 keeps prepared statements through PgBouncer from 1.22 (its docs).
PSYCOPG_PREPARED_SINCE = (1, 22, 0)


class Code(str):
    """A Python expression (NullPool, a lambda) printed as it is, not as a string."""


#: SQLAlchemy's asyncpg dialect, "Prepared Statement Name with PGBouncer".
UNIQUE_STATEMENT_NAMES = Code('lambda: f"__asyncpg_{uuid4()}__"')


@dataclass(frozen=True)
class Caveat:
    """A feature the pooler breaks (or changes), and what to do instead."""

    feature: str
    instead: str


#: What breaks in PgBouncer's transaction pooling (PgBouncer docs, "SQL feature map for
#: pooling modes"), with the client-side way around it. docs/transaction-pooling.md.
TRANSACTION_POOLING = (
    Caveat(
        "SET / RESET of session parameters",
        "SET LOCAL inside the transaction, or ALTER ROLE / DATABASE ... SET; PgBouncer keeps "
        "only client_encoding, DateStyle, IntervalStyle, TimeZone, "
        "standard_conforming_strings and application_name per client (track_extra_parameters "
        "adds more from 1.20)",
    ),
    Caveat(
        "session advisory locks (pg_advisory_lock)",
        "pg_advisory_xact_lock / pg_try_advisory_xact_lock, released at commit or rollback",
    ),
    Caveat(
        "LISTEN",
        "a dedicated connection straight to PostgreSQL or through a session-mode pool "
        "(NOTIFY works through transaction pooling)",
    ),
    Caveat(
        "WITH HOLD cursors, server-side cursors across transactions",
        "cursors inside one transaction only: Django DISABLE_SERVER_SIDE_CURSORS=True; "
        "SQLAlchemy stream_results and psycopg named cursors within a transaction, never "
        "withhold=True",
    ),
    Caveat(
        "temporary tables that outlive a transaction",
        "CREATE TEMP TABLE ... ON COMMIT DROP in the transaction that uses it",
    ),
    Caveat(
        "SQL-level PREPARE / EXECUTE / DEALLOCATE",
        "the drivers' protocol-level prepared statements, which PgBouncer 1.21+ tracks when "
        "max_prepared_statements > 0; below that the settings above turn them off",
    ),
    Caveat("LOAD", "shared_preload_libraries or session_preload_libraries on the server"),
)

#: How Pgpool-II differs for clients (Pgpool-II docs: num_init_children, load balancing,
#: reset_query_list, restrictions).
PGPOOL = (
    Caveat(
        "no transaction pooling",
        "each client connection holds a Pgpool-II child and its backend connection until it "
        "disconnects: session state (SET, advisory locks, LISTEN, WITH HOLD cursors, "
        "temporary tables, prepared statements) works, and reset_query_list (ABORT; DISCARD "
        "ALL) clears it at disconnect; keep idle client connections few",
    ),
    Caveat(
        "load balancing",
        "a SELECT outside an explicit transaction may run on a standby that lags; writes, "
        "SELECT ... FOR UPDATE, LISTEN / NOTIFY and cursors go to the primary; "
        "read-your-writes: read in the writing transaction, or put a comment before the "
        "SELECT (allow_sql_comments = off, the default)",
    ),
)


@dataclass(frozen=True)
class Pooler:
    """What the clients connect through."""

    kind: str  # "pgbouncer" or "pgpool"
    pool_mode: str  # PgBouncer's; "session" for Pgpool-II, which does not multiplex
    version: tuple[int, int, int] | None  # PgBouncer's; None: not known
    max_prepared_statements: int | None  # PgBouncer's; None: the version's default
    server_lifetime: int  # PgBouncer's server_lifetime; 0 for Pgpool-II
    client_idle_timeout: int  # PgBouncer's client_idle_timeout or Pgpool-II's client_idle_limit
    sslmode: str  # what serverless apps ask for

    @property
    def multiplexed(self) -> bool:
        """Whether idle client connections hold no server connection (transaction pooling)."""
        return self.kind == "pgbouncer" and self.pool_mode == "transaction"

    @property
    def idle_setting(self) -> str:
        return "client_idle_timeout" if self.kind == "pgbouncer" else "client_idle_limit"


@dataclass(frozen=True)
class Setting:
    """One argument of a library call, or one entry of the dict argument `group` holds
    (connect_args, kwargs, OPTIONS, acquire). `env` names it in `--format env`
    (POOLKIT_<APP>_<env>); None for code, which an env file cannot carry."""

    name: str
    value: Any
    env: str | None
    group: str = ""


@dataclass(frozen=True)
class Library:
    """One library's settings for one app, and the most connections they let one process
    (or one serverless invocation) open."""

    key: str
    serverless: bool
    settings: tuple[Setting, ...]
    max_connections: int
    bound: str  # how that maximum follows from the settings
    enforced: bool  # False: the code (or the app server) keeps it, not a pool setting

    def value(self, name: str, group: str = "") -> Any:
        """The value of setting `name` (in `group`); KeyError when it is not set."""
        for s in self.settings:
            if (s.name, s.group) == (name, group):
                return s.value
        raise KeyError(f"{self.key}: no setting {group + '.' if group else ''}{name}")


@dataclass(frozen=True)
class AppPlan:
    """One application: how many processes (or concurrent invocations) hold how many
    connections each, and each library's settings for one of them."""

    name: str
    serverless: bool
    flagged: bool  # serverless because of --serverless, not the topology
    units: int  # processes, or concurrent invocations
    how: str  # how `units` comes from the topology
    per_unit: int  # the connections `poolkit size` counted per process / invocation
    libraries: tuple[Library, ...]

    @property
    def connections(self) -> int:
        return self.units * self.per_unit


@dataclass(frozen=True)
class ClientPlan:
    pooler: Pooler
    prepared: str  # protocol-level prepared statements: "supported", "unsupported", "unknown"
    prepared_reason: str
    psycopg_prepares: bool  # psycopg 3 may keep prepare_threshold (it needs PgBouncer 1.22+)
    recycle: int | None  # a client connection's lifetime in seconds; None: no limit needed
    recycle_reason: str
    apps: tuple[AppPlan, ...]
    caveats: tuple[Caveat, ...]
    library_notes: tuple[tuple[str, str], ...]  # (library key, note)
    notes: tuple[str, ...]


@dataclass(frozen=True)
class Context:
    """What every library's settings depend on besides the app: the pooler, whether
    protocol-level prepared statements survive it (for asyncpg and for psycopg), and the
    connection lifetime and idle time its limits allow."""

    pooler: Pooler
    prepared: str
    psycopg_prepares: bool
    recycle: int | None
    idle: int | None


def warm_connections(per_unit: int, pooler: Pooler) -> int:
    """Connections one process keeps open while idle.

    Transaction pooling: all of them, as the sizing counted them; an idle client connection
    holds no server connection, and keeping it saves a reconnect (and its authentication)
    per checkout. Session pooling and Pgpool-II: one; an idle client connection holds a
    server connection (or a Pgpool-II child) until it closes, so the rest close when idle.
    """
    return per_unit if pooler.multiplexed else 1
