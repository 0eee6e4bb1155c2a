"""What every sizing step shares: the model's constants and sources, the records the steps
produce, and the exact integer arithmetic they use.

Internal to the sizing modules: `poolkit.sizing` re-exports the public names, and the steps
in `poolkit.sizing_steps` import the rest from here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from poolkit.topology import Pgpool

#: The names `poolkit.sizing` re-exports.
__all__ = [
    "CLIENT_EXTRA",
    "CLIENT_MARGIN",
    "FD_EXTRA",
    "FD_MARGIN",
    "FD_ROUND",
    "PGPOOL_MAX_POOL",
    "POOL_MODE",
    "PREPARED_DEFAULT_ON_SINCE",
    "PREPARED_SINCE",
    "RESERVE_BURST",
    "RESERVE_POOL_TIMEOUT",
    "SOURCES",
    "STAFFING_BETA",
    "AppClient",
    "DatabaseEntry",
    "Derivation",
    "PoolSizing",
    "UserEntry",
    "fd_limit",
    "square_root_staffing",
]

# ----------------------------------------------------------------- model constants
# Each is a documented design choice (docs/sizing.md, "Constants").

#: Reserve pool for bursts, as a fraction of pool_size (rounded up).
RESERVE_BURST = Fraction(1, 2)
#: Seconds a client waits before PgBouncer opens reserve connections.
RESERVE_POOL_TIMEOUT = 3
#: max_client_conn margin for uneven spreading (so_reuseport, DNS, load balancers).
CLIENT_MARGIN = Fraction(5, 4)
#: max_client_conn slots for the admin console, stats users and exporters.
CLIENT_EXTRA = 10
#: File descriptor margin on top of clients + server connections of one process.
FD_MARGIN = Fraction(5, 4)
#: Fixed descriptors: listen sockets, log, pidfile, DNS, TLS files, peers.
FD_EXTRA = 64
#: limits.nofile is rounded up to a multiple of this, and is never below it.
FD_ROUND = 1024
#: Square-root staffing safety factor: N = L + beta * sqrt(L).
STAFFING_BETA = 2
#: Pgpool-II cached connections per child: one, so num_init_children gets the budget.
PGPOOL_MAX_POOL = 1
#: PgBouncer's pool mode this model assumes.
POOL_MODE = "transaction"

#: PgBouncer versions for prepared statements in transaction mode.
PREPARED_SINCE = (1, 21, 0)
PREPARED_DEFAULT_ON_SINCE = (1, 24, 0)

SOURCES = {
    "postgres": "PostgreSQL docs, Connections and Authentication: max_connections, "
    "superuser_reserved_connections, reserved_connections (PostgreSQL 16+)",
    "pgb_pool": "PgBouncer docs (pgbouncer.ini): pool_size / default_pool_size are per "
    "user/database pair, and every PgBouncer process has its own pools (so_reuseport)",
    "pgb_reserve": "PgBouncer docs: reserve_pool_size, reserve_pool_timeout",
    "pgb_min": "PgBouncer docs: min_pool_size (effectively capped at the pool size)",
    "pgb_maxdb": "PgBouncer docs: max_db_connections (all pools of one database, per process)",
    "pgb_client": "PgBouncer docs: max_client_conn",
    "pgb_fd": "PgBouncer docs, max_client_conn: file descriptors needed are max_client_conn "
    "+ max pool_size x databases x users; set the limit to a safely high number",
    "pgpool": "Pgpool-II docs, num_init_children / max_pool: max_pool * num_init_children "
    "<= max_connections - superuser_reserved_connections, and x2 when query canceling "
    "is needed",
    "hikari": "HikariCP wiki, About Pool Sizing: connections = core_count x 2 + "
    "effective_spindle_count. A floor for commit-bound OLTP, not the optimum: pgbench "
    "TPC-B on a 2-core machine with 200 clients peaked at 16-32 server connections and 4 "
    "reached only 62% of the best; calibrate against the real database",
    "calibrate": "poolkit calibrate: the Universal Scalability Law (Gunther) fitted to "
    "pgbench throughput at 1, 2, 4, ... clients; the smallest concurrency reaching 95% of "
    "the fitted peak (docs/sizing.md, Calibrating the useful concurrency)",
    "little": "Little's law L = lambda x W; square-root staffing N = L + beta x sqrt(L), "
    "beta = 2 (Halfin-Whitt: about 3% of transactions wait for a connection)",
    "poolkit": "poolkit model, docs/sizing.md",
}


@dataclass(frozen=True)
class Derivation:
    """How one figure was computed: the formula with its numbers, and where it comes from."""

    name: str
    value: int
    formula: str
    source: str


@dataclass(frozen=True)
class PoolSizing:
    """One database/user pair, per PgBouncer process."""

    database: str
    user: str
    share: int
    demand: int  # per-process target from the demand model
    ceiling: int  # per-process pool_size + reserve_pool_size the budget allows
    pool_size: int
    reserve_pool_size: int

    @property
    def label(self) -> str:
        return f"{self.database}/{self.user}"

    @property
    def server_connections(self) -> int:
        return self.pool_size + self.reserve_pool_size


@dataclass(frozen=True)
class DatabaseEntry:
    """One `[databases]` line (a [users] line, when present, wins for its user)."""

    database: str
    max_db_connections: int
    pool_size: int
    reserve_pool_size: int


@dataclass(frozen=True)
class UserEntry:
    """One `[users]` line, used only when pools of one database differ in size."""

    user: str
    pool_size: int
    reserve_pool_size: int


@dataclass(frozen=True)
class AppClient:
    name: str
    serverless: bool
    connections: int
    pool_size: int  # SQLAlchemy pool_size per process (or per invocation)


class DerivationLog:
    """The derivations of one sizing, in the order the steps compute the figures.

    A step calls it with a figure's name, value, formula and source key (of SOURCES); the
    call records a Derivation and returns the value.
    """

    def __init__(self) -> None:
        self.derivations: list[Derivation] = []

    def __call__(self, name: str, value: int, formula: str, source: str) -> int:
        self.derivations.append(Derivation(name, value, formula, SOURCES[source]))
        return value


# ----------------------------------------------------------------- integer helpers


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _ceil(x: Fraction) -> int:
    return math.ceil(x)


def _floor(x: Fraction) -> int:
    return math.floor(x)


def fd_limit(max_client_conn: int, server_connections: int) -> int:
    """File descriptors one PgBouncer process needs (its `LimitNOFILE`).

    roundup_FD_ROUND((max_client_conn + server connections of the process) x FD_MARGIN
    + FD_EXTRA), and never below FD_ROUND. The single definition of `limits.nofile`:
    `poolkit.pgbouncer.nofile` and the role's preflight check use it too.
    """
    need = max_client_conn + server_connections
    return max(FD_ROUND, _ceil_div(_ceil(need * FD_MARGIN) + FD_EXTRA, FD_ROUND) * FD_ROUND)


def square_root_staffing(load: Fraction, beta: int = STAFFING_BETA) -> int:
    """Smallest integer N >= 1 with N >= load + beta * sqrt(load), computed exactly."""
    if load <= 0:
        return 1
    n = max(_ceil(load), math.floor(float(load) + beta * math.sqrt(float(load))) - 2)
    target = beta * beta * load

    def enough(m: int) -> bool:
        return m >= load and (m - load) ** 2 >= target

    while not enough(n):
        n += 1
    while n - 1 >= 1 and enough(n - 1):
        n -= 1
    return max(n, 1)


def _fmt(x: Fraction) -> str:
    """A fraction for humans: integer, short decimal, or p/q."""
    if x.denominator == 1:
        return str(x.numerator)
    for digits in range(1, 4):
        scaled = x * 10**digits
        if scaled.denominator == 1:
            return f"{float(x):.{digits}f}"
    return f"{float(x):.2f}"


def _plural(n: int, word: str, suffix: str = "s") -> str:
    return f"{n} {word}{suffix if n != 1 else ''}"


def _version(v: tuple[int, int, int]) -> str:
    return ".".join(str(part) for part in v)


def _cancel_factor(pgpool: Pgpool | None) -> int:
    """Server connections per Pgpool-II cached connection: 2 when query cancel is needed."""
    return 2 if pgpool is not None and pgpool.query_cancel else 1
