"""The steps of the sizing model, one function each, in the order `poolkit.sizing.size`
calls them: server budget, demand, pools, PgBouncer's defaults and caps, the pgbouncer.ini
entries, clients, Pgpool-II, worst cases and file descriptors, prepared statements, apps.

Each step is pure: it reads the topology and earlier steps' figures, records how it
computed its own in the `DerivationLog` it is given, and returns them.
"""

from __future__ import annotations

from fractions import Fraction

from poolkit import PoolkitError
from poolkit.sizing_base import (
    CLIENT_EXTRA,
    CLIENT_MARGIN,
    FD_EXTRA,
    FD_MARGIN,
    FD_ROUND,
    PGPOOL_MAX_POOL,
    PREPARED_DEFAULT_ON_SINCE,
    PREPARED_SINCE,
    RESERVE_BURST,
    RESERVE_POOL_TIMEOUT,
    STAFFING_BETA,
    AppClient,
    DatabaseEntry,
    DerivationLog,
    PoolSizing,
    UserEntry,
    _cancel_factor,
    _ceil,
    _ceil_div,
    _floor,
    _fmt,
    _version,
    fd_limit,
    square_root_staffing,
)
from poolkit.topology import Pgpool, Pool, Topology

# ----------------------------------------------------------------- 1. server budget


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


def server_budget(topo: Topology, derive: DerivationLog) -> tuple[int, int, int]:
    """The server connections the poolers may open, and PgBouncer's and Pgpool-II's shares.

    From database.max_connections less the superuser-reserved, reserved and other
    connections, split by pgpool.budget_percent. Returns (server_connections,
    pgbouncer_share, pgpool_share); raises PoolkitError when a share cannot give every
    PgBouncer pool on every process, or every Pgpool-II node, one connection.
    """
    db = topo.database
    fleet = topo.poolers
    pgpool = topo.pgpool
    overhead = db.superuser_reserved_connections + db.reserved_connections + db.other_connections
    budget = db.max_connections - overhead
    processes = fleet.processes
    percent = pgpool.budget_percent if pgpool is not None else None
    cancel = _cancel_factor(pgpool)
    pgpool_minimum = pgpool.nodes * PGPOOL_MAX_POOL * cancel if pgpool is not None else 0
    pgbouncer_minimum = processes * len(topo.pools)
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
    return budget, pgb_budget, pp_budget


def _too_small(
    topo: Topology,
    budget: int,
    pgbouncer_minimum: int,
    pgpool_minimum: int,
    percent: int | None,
    overhead: int,
) -> PoolkitError:
    """The error for a budget below the topology's minimums: the max_connections that works."""
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


# ----------------------------------------------------------------- 2. demand


def _useful_concurrency(topo: Topology, derive: DerivationLog) -> tuple[int, str]:
    """The measured useful concurrency when the topology has one, else the floor; with the
    key of its source."""
    db = topo.database
    floor = db.cpu_cores * 2 + db.effective_spindle_count
    floor_formula = (
        f"cpu_cores x 2 + effective_spindle_count = {db.cpu_cores} x 2 + "
        f"{db.effective_spindle_count} = {floor}"
    )
    calibration = topo.calibration
    if calibration is None:
        value, formula, source = floor, f"{floor_formula} (a floor, not the optimum)", "hikari"
    else:
        value = calibration.useful_concurrency
        formula = (
            f"calibration.useful_concurrency = {value}, measured: {calibration.source} "
            f"(instead of the floor {floor_formula})"
        )
        source = "calibrate"
    return derive("budget.useful_concurrency", value, formula, source), source


def target_demand(topo: Topology, derive: DerivationLog) -> tuple[int, int | None, int]:
    """The active server connections the pools aim at, all processes together.

    From the database's useful concurrency (calibration.useful_concurrency when measured,
    else the floor cpu_cores x 2 + effective_spindle_count), raised to Little's law with
    square-root staffing when the topology has a workload.
    Returns (useful_concurrency, littles_law or None, demand).
    """
    useful, source = _useful_concurrency(topo, derive)
    if topo.workload is None:
        demand = derive(
            "budget.demand",
            useful,
            f"useful_concurrency = {useful} (no workload section: nothing better to aim at)",
            source,
        )
        return useful, None, demand
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
        f"max(useful_concurrency, littles_law) = max({useful}, {little}) = {max(useful, little)}",
        "poolkit",
    )
    return useful, little, demand


# ----------------------------------------------------------------- 3. pools, per process


def size_pools(
    topo: Topology, demand: int, pgbouncer_share: int, derive: DerivationLog
) -> tuple[PoolSizing, ...]:
    """pool_size and reserve_pool_size of every listed pair, per PgBouncer process.

    The demand is split by share over the processes; each pair's ceiling is its share of
    what the PgBouncer share leaves after one connection per pool on every process.
    """
    fleet = topo.poolers
    shares = sum(p.share for p in topo.pools)
    spare_room = pgbouncer_share - fleet.processes * len(topo.pools)  # after 1 per pool per process
    return tuple(
        _size_pool(
            pool,
            demand,
            shares,
            fleet.processes,
            spare_room,
            fleet.hosts,
            fleet.spare_hosts,
            derive,
        )
        for pool in topo.pools
    )


def _size_pool(
    pool: Pool,
    demand: int,
    shares: int,
    processes: int,
    spare_room: int,
    hosts: int,
    spare_hosts: int,
    derive: DerivationLog,
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


# ----------------------------------------------------------------- 4. PgBouncer settings


def pgbouncer_defaults(
    pools: tuple[PoolSizing, ...], derive: DerivationLog
) -> tuple[int, int, int]:
    """The [pgbouncer] pool settings for pairs not listed in pools, from the listed pools.

    default_pool_size and reserve_pool_size are the smallest of the pools', min_pool_size
    half of default_pool_size; reserve_pool_timeout is the constant RESERVE_POOL_TIMEOUT.
    Returns (default_pool_size, min_pool_size, reserve_pool_size).
    """
    default_pool = min(p.pool_size for p in pools)
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
    reserve_default = min(p.reserve_pool_size for p in pools)
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
    return default_pool, min_pool, reserve_default


def _by_database(pools: tuple[PoolSizing, ...]) -> dict[str, list[PoolSizing]]:
    """The pools of each database, databases in the order their first pool is listed."""
    per_db: dict[str, list[PoolSizing]] = {}
    for p in pools:
        per_db.setdefault(p.database, []).append(p)
    return per_db


def database_caps(pools: tuple[PoolSizing, ...]) -> dict[str, int]:
    """Each database's max_db_connections per process, from its pools.

    The sum of pool_size + reserve_pool_size of the database's pools, so pools sharing a
    database are never starved and the cap guards unlisted users.
    """
    return {
        name: sum(p.server_connections for p in group)
        for name, group in _by_database(pools).items()
    }


def max_db_connections(
    db_caps: dict[str, int], processes: int, pgbouncer_share: int, derive: DerivationLog
) -> int:
    """[pgbouncer] max_db_connections: the largest of the databases' caps."""
    max_db = max(db_caps.values())
    derive(
        "pgbouncer.max_db_connections",
        max_db,
        "max over databases of sum(pool_size + reserve_pool_size of its pools) = "
        + ", ".join(f"{name}: {cap}" for name, cap in db_caps.items())
        + f" -> {max_db}; x {processes} processes = {max_db * processes} <= {pgbouncer_share}",
        "pgb_maxdb",
    )
    return max_db


def ini_entries(
    topo: Topology, pools: tuple[PoolSizing, ...], db_caps: dict[str, int]
) -> tuple[tuple[DatabaseEntry, ...], tuple[UserEntry, ...], tuple[str, ...]]:
    """The [databases] and [users] lines that give the pools their sizes, from the pools and
    the databases' caps, and a note for each pool they cannot give its exact size.

    None when the topology lists no pools: for its one implicit pair, default_pool_size
    says it all.
    """
    if topo.pools_defaulted:
        return (), (), ()
    databases, users, unresolved = _ini_plan(pools, db_caps)
    notes = tuple(
        f"pool {p.label}: its database and its user both have pools of other sizes, so "
        f"pgbouncer.ini cannot give it pool_size={p.pool_size} exactly; it gets the "
        f"database's smallest pool_size (safe for the budget). Use a forced-user alias "
        f"entry in [databases] if it needs more."
        for p in unresolved
    )
    return databases, users, notes


def _ini_plan(
    pools: tuple[PoolSizing, ...], db_caps: dict[str, int]
) -> tuple[tuple[DatabaseEntry, ...], tuple[UserEntry, ...], list[PoolSizing]]:
    """Express per-pair sizes with PgBouncer's per-database and per-user settings.

    A database whose pools all have the same size gets pool_size in [databases]. For a
    database with mixed sizes, a user whose pools all have the same size gets [users]
    (which PgBouncer prefers over the database's value); any pair left gets the database's
    smallest size, which only under-uses the budget.
    """
    by_user: dict[str, list[PoolSizing]] = {}
    for p in pools:
        by_user.setdefault(p.user, []).append(p)

    def uniform(group: list[PoolSizing]) -> bool:
        return len({(p.pool_size, p.reserve_pool_size) for p in group}) == 1

    databases: list[DatabaseEntry] = []
    users: dict[str, UserEntry] = {}
    unresolved: list[PoolSizing] = []
    for name, group in _by_database(pools).items():
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


# ----------------------------------------------------------------- 5. clients


def max_client_conn(topo: Topology, derive: DerivationLog) -> int:
    """[pgbouncer] max_client_conn of one process, from the applications' connections.

    All clients spread over the processes that survive the spare hosts' loss, with
    CLIENT_MARGIN for uneven spreading and CLIENT_EXTRA slots for admin and monitoring.
    """
    fleet = topo.poolers
    clients = topo.total_clients
    client_formula = " + ".join(
        f"{a.serverless_concurrency} x {a.connections_per_invocation}"
        if a.serverless
        else f"{a.instances} x {a.processes} x {a.connections_per_process}"
        for a in topo.apps
    )
    derive("clients.total", clients, f"{client_formula} = {clients}", "poolkit")
    survivors = fleet.surviving_processes
    return derive(
        "pgbouncer.max_client_conn",
        _ceil(Fraction(clients) * CLIENT_MARGIN / survivors) + CLIENT_EXTRA,
        f"ceil(clients x {_fmt(CLIENT_MARGIN)} / surviving processes) + {CLIENT_EXTRA} = "
        f"ceil({clients} x {_fmt(CLIENT_MARGIN)} / (({fleet.hosts} - {fleet.spare_hosts}) x "
        f"{fleet.processes_per_host})) + {CLIENT_EXTRA} = "
        f"{_ceil(Fraction(clients) * CLIENT_MARGIN / survivors) + CLIENT_EXTRA} "
        f"(25% for uneven spreading, {CLIENT_EXTRA} for admin/monitoring)",
        "pgb_client",
    )


# ----------------------------------------------------------------- 6. Pgpool-II


def pgpool_children(
    pgpool: Pgpool | None, pgpool_share: int, derive: DerivationLog
) -> tuple[int | None, int | None]:
    """Pgpool-II's max_pool and num_init_children, from the Pgpool-II share of the budget.

    max_pool is PGPOOL_MAX_POOL; the children take the whole share, each costing
    nodes x max_pool server connections, twice that with query cancel. Returns
    (max_pool, num_init_children), or (None, None) without a pgpool section.
    """
    if pgpool is None:
        return None, None
    cancel = _cancel_factor(pgpool)
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
        pgpool_share // per_child,
        f"floor(pgpool_share / (nodes x max_pool x {cancel} [query_cancel: "
        f"{str(pgpool.query_cancel).lower()}])) = floor({pgpool_share} / ({pgpool.nodes} x "
        f"{max_pool} x {cancel})) = {pgpool_share // per_child}",
        "pgpool",
    )
    return max_pool, children


# ----------------------------------------------------------------- 7. worst cases, descriptors


def record_pgbouncer_worst_case(
    processes: int, pools: tuple[PoolSizing, ...], pgbouncer_share: int, derive: DerivationLog
) -> None:
    """Record PgBouncer's worst case, every pool and reserve full on every process, against
    its share. Decides nothing: `Sizing.pgbouncer_worst_case` is the figure."""
    per_process = sum(p.server_connections for p in pools)
    derive(
        "budget.pgbouncer_worst_case",
        processes * per_process,
        f"processes x sum(pool_size + reserve_pool_size) = {processes} x {per_process} = "
        f"{processes * per_process} <= {pgbouncer_share}",
        "pgb_pool",
    )


def record_pgpool_worst_case(
    pgpool: Pgpool | None,
    max_pool: int | None,
    num_init_children: int | None,
    pgpool_share: int,
    derive: DerivationLog,
) -> None:
    """Record Pgpool-II's worst case, every child holding its cached connections, against
    its share. Decides nothing: `Sizing.pgpool_worst_case` is the figure."""
    if pgpool is None or num_init_children is None or max_pool is None:
        return
    cancel = _cancel_factor(pgpool)
    worst = pgpool.nodes * num_init_children * max_pool * cancel
    derive(
        "budget.pgpool_worst_case",
        worst,
        f"nodes x num_init_children x max_pool x {cancel} = {pgpool.nodes} x "
        f"{num_init_children} x {max_pool} x {cancel} = {worst} <= {pgpool_share}",
        "pgpool",
    )


def nofile_limit(max_client_conn: int, pools: tuple[PoolSizing, ...], derive: DerivationLog) -> int:
    """limits.nofile of one PgBouncer process, from its max_client_conn and the server
    connections of its pools (`fd_limit`)."""
    per_process = sum(p.server_connections for p in pools)
    nofile = fd_limit(max_client_conn, per_process)
    return derive(
        "limits.nofile",
        nofile,
        f"roundup_{FD_ROUND}((max_client_conn + server connections per process) x "
        f"{_fmt(FD_MARGIN)} + {FD_EXTRA}) = roundup_{FD_ROUND}(({max_client_conn} + "
        f"{per_process}) x {_fmt(FD_MARGIN)} + {FD_EXTRA}) = {nofile} (at least {FD_ROUND})",
        "pgb_fd",
    )


# ----------------------------------------------------------------- 8. clients' settings


def prepared_statements(topo: Topology) -> tuple[str, str]:
    """Whether PgBouncer keeps protocol-level prepared statements working in transaction mode.

    From poolers.version and poolers.max_prepared_statements. Returns (status, reason):
    status "supported", "unsupported" or "unknown", the reason a sentence for the advice.
    """
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


def app_clients(topo: Topology) -> tuple[AppClient, ...]:
    """Each application's connections to PgBouncer and the SQLAlchemy pool_size of one of
    its processes (or serverless invocations), from the topology's apps."""
    return tuple(
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
