"""Pool sizing from an application topology: pure integer arithmetic, explained as data.

`size(topology)` returns a `Sizing`; `size_dict(data)` validates a plain dict and returns
the JSON-ready structure that `poolkit size` prints and the `poolkit_size` Ansible filter
returns. The model, its sources and a worked example are in docs/sizing.md; the
properties it guarantees are tested with hypothesis in tests/unit/test_sizing_properties.py.

Pool mode assumed: transaction pooling.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any

from poolkit import PoolkitError
from poolkit.topology import Pool, Topology, parse_topology

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


@dataclass(frozen=True)
class Sizing:
    topology: Topology
    server_connections: int
    pgbouncer_budget: int
    pgpool_budget: int
    useful_concurrency: int
    littles_law: int | None
    demand: int
    pools: tuple[PoolSizing, ...]
    default_pool_size: int
    min_pool_size: int
    reserve_pool_size: int
    reserve_pool_timeout: int
    max_client_conn: int
    max_db_connections: int
    databases: tuple[DatabaseEntry, ...]
    users: tuple[UserEntry, ...]
    num_init_children: int | None
    max_pool: int | None
    nofile: int
    prepared_statements: str  # "supported", "unsupported" or "unknown"
    prepared_reason: str
    apps: tuple[AppClient, ...]
    derivations: tuple[Derivation, ...]
    notes: tuple[str, ...]

    # ------------------------------------------------------------ derived figures
    @property
    def processes(self) -> int:
        return self.topology.poolers.processes

    @property
    def surviving_processes(self) -> int:
        return self.topology.poolers.surviving_processes

    @property
    def server_connections_per_process(self) -> int:
        return sum(p.server_connections for p in self.pools)

    @property
    def pgbouncer_worst_case(self) -> int:
        return self.processes * self.server_connections_per_process

    @property
    def pgpool_cancel_factor(self) -> int:
        pgpool = self.topology.pgpool
        return 2 if pgpool is not None and pgpool.query_cancel else 1

    @property
    def pgpool_worst_case(self) -> int:
        pgpool = self.topology.pgpool
        if pgpool is None or self.num_init_children is None or self.max_pool is None:
            return 0
        return pgpool.nodes * self.num_init_children * self.max_pool * self.pgpool_cancel_factor

    @property
    def unused(self) -> int:
        return self.server_connections - self.pgbouncer_worst_case - self.pgpool_worst_case

    @property
    def active_all_up(self) -> int:
        return self.processes * sum(p.pool_size for p in self.pools)

    @property
    def active_spares_down(self) -> int:
        return self.surviving_processes * sum(p.pool_size for p in self.pools)

    @property
    def with_reserve_spares_down(self) -> int:
        return self.surviving_processes * self.server_connections_per_process

    @property
    def total_clients(self) -> int:
        return self.topology.total_clients

    def to_dict(self, explain: bool = False) -> dict[str, Any]:
        """The JSON/YAML structure (integers, strings, lists, dicts only)."""
        topo = self.topology
        db = topo.database
        result: dict[str, Any] = {
            "pgbouncer": {
                "pool_mode": POOL_MODE,
                "default_pool_size": self.default_pool_size,
                "min_pool_size": self.min_pool_size,
                "reserve_pool_size": self.reserve_pool_size,
                "reserve_pool_timeout": self.reserve_pool_timeout,
                "max_client_conn": self.max_client_conn,
                "max_db_connections": self.max_db_connections,
                "pools": [
                    {
                        "database": p.database,
                        "user": p.user,
                        "share": p.share,
                        "pool_size": p.pool_size,
                        "reserve_pool_size": p.reserve_pool_size,
                        "demand": p.demand,
                        "ceiling": p.ceiling,
                    }
                    for p in self.pools
                ],
                "databases": [
                    {
                        "database": e.database,
                        "pool_size": e.pool_size,
                        "reserve_pool_size": e.reserve_pool_size,
                        "max_db_connections": e.max_db_connections,
                    }
                    for e in self.databases
                ],
                "users": [
                    {
                        "user": u.user,
                        "pool_size": u.pool_size,
                        "reserve_pool_size": u.reserve_pool_size,
                    }
                    for u in self.users
                ],
            },
            "pgpool": None,
            "limits": {"nofile": self.nofile},
            "budget": {
                "max_connections": db.max_connections,
                "superuser_reserved_connections": db.superuser_reserved_connections,
                "reserved_connections": db.reserved_connections,
                "other_connections": db.other_connections,
                "server_connections": self.server_connections,
                "pgbouncer_processes": self.processes,
                "pgbouncer_surviving_processes": self.surviving_processes,
                "pgbouncer_share": self.pgbouncer_budget,
                "pgbouncer_worst_case": self.pgbouncer_worst_case,
                "pgpool_share": self.pgpool_budget,
                "pgpool_worst_case": self.pgpool_worst_case,
                "unused": self.unused,
                "useful_concurrency": self.useful_concurrency,
                "demand": self.demand,
                "active_all_up": self.active_all_up,
                "active_spares_down": self.active_spares_down,
                "with_reserve_spares_down": self.with_reserve_spares_down,
            },
            "clients": {
                "total": self.total_clients,
                "per_process_spares_down": _ceil_div(self.total_clients, self.surviving_processes),
                "apps": [{"name": a.name, "connections": a.connections} for a in self.apps],
            },
            "client_settings": _client_settings(self),
            "notes": list(self.notes),
        }
        if self.littles_law is not None:
            result["budget"]["littles_law"] = self.littles_law
        if topo.pgpool is not None:
            result["pgpool"] = {
                "num_init_children": self.num_init_children,
                "max_pool": self.max_pool,
                "nodes": topo.pgpool.nodes,
            }
        else:
            del result["pgpool"]  # only present when the topology has a pgpool section
        if explain:
            result["explain"] = [
                {"name": d.name, "value": d.value, "formula": d.formula, "source": d.source}
                for d in self.derivations
            ]
        return result


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


# ----------------------------------------------------------------- budget split


def _split(total: int, percent: int | None) -> tuple[int, int]:
    """(PgBouncer share, Pgpool-II share) of the server budget. Both monotone in `total`."""
    if percent is None or total <= 0:
        return total, 0
    pgpool = total * percent // 100
    return total - pgpool, pgpool


def _min_total(pgbouncer_needed: int, pgpool_needed: int, percent: int | None) -> int:
    """Smallest budget B whose split gives at least the two amounts."""
    if percent is None:
        total = pgbouncer_needed
    else:
        total = max(
            (pgbouncer_needed - 1) * 100 // (100 - percent) + 1 if pgbouncer_needed > 0 else 0,
            _ceil_div(pgpool_needed * 100, percent),
        )
    total = max(total, 1)
    while True:  # the closed forms above are exact; this only guards the boundaries
        a, b = _split(total, percent)
        if a >= pgbouncer_needed and b >= pgpool_needed:
            break
        total += 1
    while total > 1:
        a, b = _split(total - 1, percent)
        if a < pgbouncer_needed or b < pgpool_needed:
            break
        total -= 1
    return total


# ----------------------------------------------------------------- the model


def size(topology: Topology) -> Sizing:
    """Size PgBouncer (and Pgpool-II) for `topology`. Raises PoolkitError if impossible."""
    topo = topology
    db = topo.database
    fleet = topo.poolers
    pgpool = topo.pgpool
    pools = topo.pools
    out: list[Derivation] = []
    notes: list[str] = []

    def derive(name: str, value: int, formula: str, source: str) -> int:
        out.append(Derivation(name, value, formula, SOURCES[source]))
        return value

    # 1. Server budget --------------------------------------------------------------
    overhead = db.superuser_reserved_connections + db.reserved_connections + db.other_connections
    budget = db.max_connections - overhead
    processes = fleet.processes
    survivors = fleet.surviving_processes
    percent = pgpool.budget_percent if pgpool is not None else None
    cancel = 2 if pgpool is not None and pgpool.query_cancel else 1
    pgpool_minimum = pgpool.nodes * PGPOOL_MAX_POOL * cancel if pgpool is not None else 0
    pgbouncer_minimum = processes * len(pools)
    pgb_budget, pp_budget = _split(budget, percent)
    if pgb_budget < pgbouncer_minimum or pp_budget < pgpool_minimum:
        raise _too_small(topo, budget, pgbouncer_minimum, pgpool_minimum, percent, overhead)

    derive(
        "budget.server_connections",
        budget,
        f"max_connections - superuser_reserved_connections - reserved_connections - "
        f"other_connections = {db.max_connections} - {db.superuser_reserved_connections} - "
        f"{db.reserved_connections} - {db.other_connections} = {budget}",
        "postgres",
    )
    derive(
        "budget.pgbouncer_processes",
        processes,
        f"poolers.hosts x poolers.processes_per_host = {fleet.hosts} x "
        f"{fleet.processes_per_host} = {processes}",
        "pgb_pool",
    )
    if pgpool is not None:
        derive(
            "budget.pgpool_share",
            pp_budget,
            f"floor(server_connections x pgpool.budget_percent / 100) = "
            f"floor({budget} x {percent} / 100) = {pp_budget}",
            "poolkit",
        )
        derive(
            "budget.pgbouncer_share",
            pgb_budget,
            f"server_connections - pgpool_share = {budget} - {pp_budget} = {pgb_budget}",
            "poolkit",
        )

    # 2. Demand ----------------------------------------------------------------------
    useful = derive(
        "budget.useful_concurrency",
        db.cpu_cores * 2 + db.effective_spindle_count,
        f"cpu_cores x 2 + effective_spindle_count = {db.cpu_cores} x 2 + "
        f"{db.effective_spindle_count} = {db.cpu_cores * 2 + db.effective_spindle_count} "
        f"(a floor, not the optimum)",
        "hikari",
    )
    little: int | None = None
    if topo.workload is not None:
        wl = topo.workload
        load = wl.busy_connections
        little = derive(
            "budget.littles_law",
            square_root_staffing(load),
            f"L = peak_tps x mean_transaction_ms / 1000 = {_fmt(wl.peak_tps)} x "
            f"{_fmt(wl.mean_transaction_ms)} / 1000 = {_fmt(load)}; "
            f"ceil(L + {STAFFING_BETA} x sqrt(L)) = {square_root_staffing(load)}",
            "little",
        )
        demand = derive(
            "budget.demand",
            max(useful, little),
            f"max(useful_concurrency, littles_law) = max({useful}, {little}) = "
            f"{max(useful, little)}",
            "poolkit",
        )
    else:
        demand = derive(
            "budget.demand",
            useful,
            f"useful_concurrency = {useful} (no workload section: nothing better to aim at)",
            "hikari",
        )

    # 3. Pools, per process ---------------------------------------------------------
    shares = sum(p.share for p in pools)
    spare_room = pgb_budget - pgbouncer_minimum  # after 1 per pool per process
    sized: list[PoolSizing] = []
    for pool in pools:
        sized.append(
            _size_pool(
                pool, demand, shares, processes, spare_room, fleet.hosts, fleet.spare_hosts, derive
            )
        )

    default_pool = min(p.pool_size for p in sized)
    derive(
        "pgbouncer.default_pool_size",
        default_pool,
        f"min(pool_size over pools) = {default_pool} (for pairs not listed in pools; "
        f"listed pools get explicit pool_size overrides)",
        "pgb_pool",
    )
    min_pool = derive(
        "pgbouncer.min_pool_size",
        _ceil_div(default_pool, 2),
        f"ceil(default_pool_size / 2) = ceil({default_pool} / 2) = "
        f"{_ceil_div(default_pool, 2)} (<= every pool_size; warm connections after idle)",
        "pgb_min",
    )
    reserve_default = min(p.reserve_pool_size for p in sized)
    derive(
        "pgbouncer.reserve_pool_size",
        reserve_default,
        f"min(reserve_pool_size over pools) = {reserve_default} (for pairs not listed)",
        "pgb_reserve",
    )
    derive(
        "pgbouncer.reserve_pool_timeout",
        RESERVE_POOL_TIMEOUT,
        f"{RESERVE_POOL_TIMEOUT} s: reserve connections open once a client waited this "
        f"long (PgBouncer's default is 5; shorter, so the reserve helps before clients "
        f"with short timeouts give up)",
        "pgb_reserve",
    )

    # max_db_connections: the sum of pool_size + reserve of each database's pools, so
    # pools sharing a database are never starved and the cap guards unlisted users.
    per_db: dict[str, list[PoolSizing]] = {}
    for p in sized:
        per_db.setdefault(p.database, []).append(p)
    db_caps = {name: sum(p.server_connections for p in group) for name, group in per_db.items()}
    max_db = max(db_caps.values())
    derive(
        "pgbouncer.max_db_connections",
        max_db,
        "max over databases of sum(pool_size + reserve_pool_size of its pools) = "
        + ", ".join(f"{name}: {cap}" for name, cap in db_caps.items())
        + f" -> {max_db}; x {processes} processes = {max_db * processes} <= {pgb_budget}",
        "pgb_maxdb",
    )
    if topo.pools_defaulted:  # one implicit pair: default_pool_size says it all
        databases, users, unresolved = (), (), []
    else:
        databases, users, unresolved = _ini_plan(sized, per_db, db_caps)
    for p in unresolved:
        notes.append(
            f"pool {p.label}: its database and its user both have pools of other sizes, so "
            f"pgbouncer.ini cannot give it pool_size={p.pool_size} exactly; it gets the "
            f"database's smallest pool_size (safe for the budget). Use a forced-user alias "
            f"entry in [databases] if it needs more."
        )

    # 4. Clients ---------------------------------------------------------------------
    clients = topo.total_clients
    client_formula = " + ".join(
        f"{a.serverless_concurrency} x {a.connections_per_invocation}"
        if a.serverless
        else f"{a.instances} x {a.processes} x {a.connections_per_process}"
        for a in topo.apps
    )
    derive("clients.total", clients, f"{client_formula} = {clients}", "poolkit")
    max_client = derive(
        "pgbouncer.max_client_conn",
        _ceil(Fraction(clients) * CLIENT_MARGIN / survivors) + CLIENT_EXTRA,
        f"ceil(clients x {_fmt(CLIENT_MARGIN)} / surviving processes) + {CLIENT_EXTRA} = "
        f"ceil({clients} x {_fmt(CLIENT_MARGIN)} / (({fleet.hosts} - {fleet.spare_hosts}) x "
        f"{fleet.processes_per_host})) + {CLIENT_EXTRA} = "
        f"{_ceil(Fraction(clients) * CLIENT_MARGIN / survivors) + CLIENT_EXTRA} "
        f"(25% for uneven spreading, {CLIENT_EXTRA} for admin/monitoring)",
        "pgb_client",
    )

    # 5. Pgpool-II -------------------------------------------------------------------
    children: int | None = None
    max_pool: int | None = None
    if pgpool is not None:
        max_pool = derive(
            "pgpool.max_pool",
            PGPOOL_MAX_POOL,
            f"{PGPOOL_MAX_POOL}: each cached pair costs a server connection per child; a "
            f"child serving a different pair reconnects instead",
            "pgpool",
        )
        per_child = pgpool.nodes * max_pool * cancel
        children = derive(
            "pgpool.num_init_children",
            pp_budget // per_child,
            f"floor(pgpool_share / (nodes x max_pool x {cancel} [query_cancel: "
            f"{str(pgpool.query_cancel).lower()}])) = floor({pp_budget} / ({pgpool.nodes} x "
            f"{max_pool} x {cancel})) = {pp_budget // per_child}",
            "pgpool",
        )

    # 6. Worst cases and file descriptors -------------------------------------------
    per_process = sum(p.server_connections for p in sized)
    derive(
        "budget.pgbouncer_worst_case",
        processes * per_process,
        f"processes x sum(pool_size + reserve_pool_size) = {processes} x {per_process} = "
        f"{processes * per_process} <= {pgb_budget}",
        "pgb_pool",
    )
    if pgpool is not None and children is not None and max_pool is not None:
        worst = pgpool.nodes * children * max_pool * cancel
        derive(
            "budget.pgpool_worst_case",
            worst,
            f"nodes x num_init_children x max_pool x {cancel} = {pgpool.nodes} x {children} x "
            f"{max_pool} x {cancel} = {worst} <= {pp_budget}",
            "pgpool",
        )
    nofile = fd_limit(max_client, per_process)
    derive(
        "limits.nofile",
        nofile,
        f"roundup_{FD_ROUND}((max_client_conn + server connections per process) x "
        f"{_fmt(FD_MARGIN)} + {FD_EXTRA}) = roundup_{FD_ROUND}(({max_client} + {per_process}) "
        f"x {_fmt(FD_MARGIN)} + {FD_EXTRA}) = {nofile} (at least {FD_ROUND})",
        "pgb_fd",
    )

    prepared, reason = _prepared_statements(topo)
    apps = tuple(
        AppClient(
            name=a.name,
            serverless=a.serverless,
            connections=a.connections,
            pool_size=int(
                (a.connections_per_invocation if a.serverless else a.connections_per_process) or 0
            ),
        )
        for a in topo.apps
    )

    sizing = Sizing(
        topology=topo,
        server_connections=budget,
        pgbouncer_budget=pgb_budget,
        pgpool_budget=pp_budget,
        useful_concurrency=useful,
        littles_law=little,
        demand=demand,
        pools=tuple(sized),
        default_pool_size=default_pool,
        min_pool_size=min_pool,
        reserve_pool_size=reserve_default,
        reserve_pool_timeout=RESERVE_POOL_TIMEOUT,
        max_client_conn=max_client,
        max_db_connections=max_db,
        databases=databases,
        users=users,
        num_init_children=children,
        max_pool=max_pool,
        nofile=nofile,
        prepared_statements=prepared,
        prepared_reason=reason,
        apps=apps,
        derivations=tuple(out),
        notes=(),
    )
    notes.extend(_notes(sizing))
    return replace(sizing, notes=tuple(notes))


def _size_pool(
    pool: Pool,
    demand: int,
    shares: int,
    processes: int,
    spare_room: int,
    hosts: int,
    spare_hosts: int,
    derive,
) -> PoolSizing:
    """pool_size and reserve_pool_size of one pair on one PgBouncer process."""
    weight = Fraction(pool.share, shares)
    wanted = max(1, _ceil(demand * weight / processes))
    ceiling = 1 + _floor(spare_room * weight / processes)
    pool_size = min(wanted, ceiling)
    burst = _ceil(pool_size * RESERVE_BURST)
    failover = _ceil(Fraction(pool_size * spare_hosts, hosts - spare_hosts))
    reserve = min(max(burst, failover), ceiling - pool_size)
    name = f"pgbouncer.pools[{pool.label}]"
    derive(
        f"{name}.pool_size",
        pool_size,
        f"min(wanted, ceiling); wanted = max(1, ceil(demand x share / shares / processes)) = "
        f"ceil({demand} x {pool.share} / {shares} / {processes}) = {wanted}; ceiling = 1 + "
        f"floor((pgbouncer_share - processes x pools) x share / shares / processes) = 1 + "
        f"floor({spare_room} x {pool.share} / {shares} / {processes}) = {ceiling} "
        f"-> {pool_size}",
        "pgb_pool",
    )
    derive(
        f"{name}.reserve_pool_size",
        reserve,
        f"min(max(ceil(pool_size x {_fmt(RESERVE_BURST)}), ceil(pool_size x spare_hosts / "
        f"(hosts - spare_hosts))), ceiling - pool_size) = min(max({burst}, {failover}), "
        f"{ceiling - pool_size}) = {reserve} (bursts; with spare hosts down the survivors' "
        f"reserve restores the demand)",
        "pgb_reserve",
    )
    return PoolSizing(
        database=pool.database,
        user=pool.user,
        share=pool.share,
        demand=wanted,
        ceiling=ceiling,
        pool_size=pool_size,
        reserve_pool_size=reserve,
    )


def _ini_plan(
    sized: list[PoolSizing],
    per_db: dict[str, list[PoolSizing]],
    db_caps: dict[str, int],
) -> tuple[tuple[DatabaseEntry, ...], tuple[UserEntry, ...], list[PoolSizing]]:
    """Express per-pair sizes with PgBouncer's per-database and per-user settings.

    A database whose pools all have the same size gets pool_size in [databases]. For a
    database with mixed sizes, a user whose pools all have the same size gets [users]
    (which PgBouncer prefers over the database's value); any pair left gets the database's
    smallest size, which only under-uses the budget.
    """
    by_user: dict[str, list[PoolSizing]] = {}
    for p in sized:
        by_user.setdefault(p.user, []).append(p)

    def uniform(group: list[PoolSizing]) -> bool:
        return len({(p.pool_size, p.reserve_pool_size) for p in group}) == 1

    databases: list[DatabaseEntry] = []
    users: dict[str, UserEntry] = {}
    unresolved: list[PoolSizing] = []
    for name, group in per_db.items():
        if uniform(group):
            databases.append(
                DatabaseEntry(name, db_caps[name], group[0].pool_size, group[0].reserve_pool_size)
            )
            continue
        entry = DatabaseEntry(
            name,
            db_caps[name],
            min(p.pool_size for p in group),
            min(p.reserve_pool_size for p in group),
        )
        databases.append(entry)
        for p in group:
            if uniform(by_user[p.user]) and p.user != "*":
                users[p.user] = UserEntry(p.user, p.pool_size, p.reserve_pool_size)
            elif (p.pool_size, p.reserve_pool_size) != (entry.pool_size, entry.reserve_pool_size):
                unresolved.append(p)
    return tuple(databases), tuple(users.values()), unresolved


def _too_small(
    topo: Topology,
    budget: int,
    pgbouncer_minimum: int,
    pgpool_minimum: int,
    percent: int | None,
    overhead: int,
) -> PoolkitError:
    db = topo.database
    fleet = topo.poolers
    needed_budget = _min_total(pgbouncer_minimum, pgpool_minimum, percent)
    needed = needed_budget + overhead
    parts = (
        f"{len(topo.pools)} pool(s) x {fleet.processes} PgBouncer process(es) = "
        f"{pgbouncer_minimum} server connections (one per pool on every process)"
    )
    if topo.pgpool is not None:
        parts += (
            f" plus Pgpool-II's {pgpool_minimum} ({topo.pgpool.nodes} node(s) x 1 child x "
            f"max_pool 1{' x 2 for query cancel' if topo.pgpool.query_cancel else ''}), "
            f"split {100 - topo.pgpool.budget_percent}/{topo.pgpool.budget_percent} by "
            f"pgpool.budget_percent"
        )
    return PoolkitError(
        f"database.max_connections: {db.max_connections} leaves {budget} server "
        f"connection(s) for the poolers ({db.max_connections} - "
        f"{db.superuser_reserved_connections} superuser_reserved - "
        f"{db.reserved_connections} reserved - {db.other_connections} other_connections), "
        f"but the topology needs at least {parts}; expected max_connections >= {needed}"
    )


def _prepared_statements(topo: Topology) -> tuple[str, str]:
    """Whether PgBouncer keeps protocol-level prepared statements working in transaction mode."""
    version = topo.poolers.version
    mps = topo.poolers.max_prepared_statements
    if version is not None and version < PREPARED_SINCE:
        return "unsupported", (
            f"PgBouncer {_version(version)} predates prepared statement support in "
            f"transaction mode (1.21)"
        )
    if mps == 0:
        return "unsupported", "poolers.max_prepared_statements is 0 (support disabled)"
    if mps is not None:
        return "supported", f"poolers.max_prepared_statements is {mps}"
    if version is None:
        return "unknown", (
            "poolers.version is not set: prepared statements work in transaction mode only "
            "with PgBouncer 1.21+ and max_prepared_statements > 0 (the default from 1.24)"
        )
    if version >= PREPARED_DEFAULT_ON_SINCE:
        return "supported", (
            f"PgBouncer {_version(version)} defaults to max_prepared_statements = 200"
        )
    return "unsupported", (
        f"PgBouncer {_version(version)} defaults to max_prepared_statements = 0; set it "
        f"(e.g. 200) in poolers.max_prepared_statements and pgbouncer.ini to enable"
    )


def _client_settings(s: Sizing) -> dict[str, Any]:
    drivers: dict[str, dict[str, Any]] = {}
    advice = [
        "SQLAlchemy: pool_size = the connections per process counted in the topology and "
        "max_overflow = 0; overflow connections are clients the sizing did not count.",
        "Transaction pooling: no session state across transactions (SET without LOCAL, "
        "session advisory locks, LISTEN, WITH HOLD cursors, temporary tables).",
    ]
    if s.prepared_statements == "supported":
        advice.append(
            "Prepared statements work through PgBouncer "
            f"({s.prepared_reason}): keep the drivers' defaults and keep "
            "max_prepared_statements above the number of distinct statements a client "
            "prepares."
        )
    else:
        drivers = {
            "psycopg": {"prepare_threshold": None},
            "asyncpg": {"statement_cache_size": 0},
            "pgjdbc": {"prepareThreshold": 0},
        }
        advice.append(
            f"Prepared statements {s.prepared_statements} ({s.prepared_reason}): disable "
            "them in the drivers (psycopg prepare_threshold=None, asyncpg "
            "statement_cache_size=0, pgjdbc prepareThreshold=0), or run PgBouncer 1.21+ "
            "with max_prepared_statements > 0."
        )
    if any(a.serverless for a in s.apps):
        advice.append(
            "Serverless: create the engine at module scope so warm invocations reuse their "
            "connection; serverless_concurrency x connections_per_invocation is the ceiling."
        )
    return {
        "pool_mode": POOL_MODE,
        "prepared_statements": s.prepared_statements,
        "apps": [
            {
                "name": a.name,
                "form": "serverless" if a.serverless else "processes",
                "sqlalchemy": {"pool_size": a.pool_size, "max_overflow": 0},
            }
            for a in s.apps
        ],
        "drivers": drivers,
        "advice": advice,
    }


def _notes(s: Sizing) -> list[str]:
    topo = s.topology
    fleet = topo.poolers
    notes: list[str] = []
    if topo.pools_defaulted:
        notes.append(
            "No pools listed: the figures assume one database/user pair; every further pair "
            f"gets its own default_pool_size of {s.default_pool_size} per process, outside "
            "the budget. List every pair under pools."
        )
    if s.demand == s.useful_concurrency:
        notes.append(
            f"Demand {s.demand} is cpu_cores x 2 + spindles: a floor for commit-bound OLTP, "
            "not the optimum (pgbench TPC-B on 2 cores peaked at 16-32 connections). Pools "
            "may grow up to their ceiling without breaking the budget; calibrate against "
            "the real database before raising them."
        )
    if s.littles_law is not None and s.littles_law > s.useful_concurrency:
        notes.append(
            f"The workload keeps {s.littles_law} transactions in flight at peak, more than the "
            f"database's useful concurrency of {s.useful_concurrency}: expect the database "
            "to be CPU- or I/O-bound at peak; pooling cannot add capacity."
        )
    capped = [p for p in s.pools if p.pool_size < p.demand]
    if capped:
        listed = ", ".join(f"{p.label} {p.pool_size} < {p.demand}" for p in capped)
        notes.append(
            f"The budget caps pools below their demand ({listed} per process): raise "
            "max_connections, lower other_connections"
            + (" or pgpool.budget_percent" if topo.pgpool is not None else "")
            + "; until then clients queue in PgBouncer."
        )
    if s.total_clients > 2 * s.active_all_up:
        ratio = Fraction(s.total_clients, s.active_all_up)
        notes.append(
            f"{s.total_clients} application connections share {s.active_all_up} active server "
            f"connections (about {round(ratio)}x): fine in transaction mode while clients "
            "are mostly idle between transactions; at peak the excess waits in PgBouncer "
            "(SHOW POOLS: cl_waiting, maxwait)."
        )
    if fleet.spare_hosts:
        if s.with_reserve_spares_down < s.demand:
            notes.append(
                f"With {_plural(fleet.spare_hosts, 'spare host')} down the "
                f"{_plural(s.surviving_processes, 'surviving process', 'es')} run at most "
                f"{s.with_reserve_spares_down} server connections, below the demand of "
                f"{s.demand}: clients queue during the outage (the budget does not allow "
                "larger reserve pools)."
            )
        elif s.active_spares_down < s.demand:
            notes.append(
                f"With {_plural(fleet.spare_hosts, 'spare host')} down the surviving pools "
                f"({s.active_spares_down} connections) reach the demand of {s.demand} only "
                f"through reserve pools, after clients waited reserve_pool_timeout "
                f"({s.reserve_pool_timeout} s)."
            )
    if s.nofile > FD_ROUND:
        notes.append(
            f"Each PgBouncer process needs {s.nofile} file descriptors: raise LimitNOFILE "
            "(systemd) or ulimit -n; the usual soft limit of 1024 is too low."
        )
    if fleet.processes_per_host > 1 or fleet.hosts > 1:
        notes.append(
            f"{fleet.processes} PgBouncer processes: a cancel request can reach another "
            "process than its query; configure peer_id and [peers] (PgBouncer 1.19+) so "
            "cancellation works."
        )
    if topo.pgpool is not None and s.num_init_children is not None:
        sessions = topo.pgpool.nodes * s.num_init_children
        if sessions > s.useful_concurrency:
            notes.append(
                f"Pgpool-II admits {sessions} client sessions and does not multiplex "
                "transactions: each session holds a server connection for its whole life; "
                "put bursty or idle-heavy clients behind PgBouncer."
            )
        if len(topo.pools) > 1 and s.max_pool == 1:
            notes.append(
                "Pgpool-II max_pool = 1: a child serving a different database/user pair "
                "than before reconnects; raising max_pool divides num_init_children."
            )
    if s.unused > 0:
        notes.append(
            f"{s.unused} of {s.server_connections} server connections stay unused: pools aim "
            "at the demand, not at max_connections; the rest is headroom."
        )
    return notes


def size_dict(data: Any, explain: bool = False) -> dict[str, Any]:
    """Validate a topology dict and return the sizing as plain JSON-ready data."""
    return size(parse_topology(data)).to_dict(explain=explain)
