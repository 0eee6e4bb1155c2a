"""Pool sizing from an application topology: pure integer arithmetic, explained as data.

`size(topology)` returns a `Sizing`; `size_dict(data)` validates a plain dict and returns
the JSON-ready structure that `poolkit size` prints and the `poolkit_size` Ansible filter
returns. The model, its sources and a worked example are in docs/sizing.md; the
properties it guarantees are tested with hypothesis in tests/unit/test_sizing_properties.py.

`size` reads as the method: one call a step, each step in `poolkit.sizing_steps`. The
constants, sources and the records the steps produce are in `poolkit.sizing_base`; this
module re-exports the public ones, so `poolkit.sizing` stays the one import.

Pool mode assumed: transaction pooling.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any

from poolkit import sizing_base
from poolkit.sizing_base import *  # noqa: F403 -- re-exported, as asyncio/__init__.py does
from poolkit.sizing_base import (
    FD_ROUND,
    POOL_MODE,
    RESERVE_POOL_TIMEOUT,
    AppClient,
    DatabaseEntry,
    Derivation,
    DerivationLog,
    PoolSizing,
    UserEntry,
    _cancel_factor,
    _ceil_div,
    _plural,
)
from poolkit.sizing_steps import (
    app_clients,
    database_caps,
    ini_entries,
    max_client_conn,
    max_db_connections,
    nofile_limit,
    pgbouncer_defaults,
    pgpool_children,
    prepared_statements,
    record_pgbouncer_worst_case,
    record_pgpool_worst_case,
    server_budget,
    size_pools,
    target_demand,
)
from poolkit.topology import Topology, parse_topology

__all__ = [*sizing_base.__all__, "Sizing", "size", "size_dict"]


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
        return _cancel_factor(self.topology.pgpool)

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
        if topo.calibration is not None:
            result["budget"]["useful_concurrency_source"] = topo.calibration.source
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


# ----------------------------------------------------------------- the model


def size(topology: Topology) -> Sizing:
    """Size PgBouncer (and Pgpool-II) for `topology`. Raises PoolkitError if impossible."""
    derive = DerivationLog()
    budget, pgbouncer_share, pgpool_share = server_budget(topology, derive)
    useful, little, demand = target_demand(topology, derive)
    pools = size_pools(topology, demand, pgbouncer_share, derive)
    default_pool, min_pool, reserve_default = pgbouncer_defaults(pools, derive)
    db_caps = database_caps(pools)
    processes = topology.poolers.processes
    max_db = max_db_connections(db_caps, processes, pgbouncer_share, derive)
    databases, users, ini_notes = ini_entries(topology, pools, db_caps)
    max_client = max_client_conn(topology, derive)
    max_pool, children = pgpool_children(topology.pgpool, pgpool_share, derive)
    record_pgbouncer_worst_case(processes, pools, pgbouncer_share, derive)
    record_pgpool_worst_case(topology.pgpool, max_pool, children, pgpool_share, derive)
    nofile = nofile_limit(max_client, pools, derive)
    prepared, reason = prepared_statements(topology)
    sizing = Sizing(
        topology=topology,
        server_connections=budget,
        pgbouncer_budget=pgbouncer_share,
        pgpool_budget=pgpool_share,
        useful_concurrency=useful,
        littles_law=little,
        demand=demand,
        pools=pools,
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
        apps=app_clients(topology),
        derivations=tuple(derive.derivations),
        notes=(),
    )
    return replace(sizing, notes=(*ini_notes, *_notes(sizing)))


def _client_settings(s: Sizing) -> dict[str, Any]:
    """The settings and advice for the applications' drivers, from the sizing's apps and
    its prepared statement support."""
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
    """The notes on a finished sizing: its demand and budget, then its fleet."""
    return [*_demand_notes(s), *_fleet_notes(s)]


def _demand_notes(s: Sizing) -> list[str]:
    """Notes on the pools against the demand, from the sizing's pools, demand and clients:
    defaulted pools, a demand that is only the floor or beyond the database's useful
    concurrency, pools the budget caps, clients far above the active connections."""
    topo = s.topology
    notes: list[str] = []
    if topo.pools_defaulted:
        notes.append(
            "No pools listed: the figures assume one database/user pair; every further pair "
            f"gets its own default_pool_size of {s.default_pool_size} per process, outside "
            "the budget. List every pair under pools."
        )
    calibration = topo.calibration
    if s.demand == s.useful_concurrency and calibration is not None:
        notes.append(
            f"Demand {s.demand} is the measured useful concurrency (calibration: "
            f"{calibration.source}). Measure again with poolkit calibrate when the database's "
            "hardware, version or workload changes."
        )
    elif s.demand == s.useful_concurrency:
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
    return notes


def _fleet_notes(s: Sizing) -> list[str]:
    """Notes on running the sizing, from its fleet and figures: spare hosts down, the file
    descriptor limit, cancel requests across processes, Pgpool-II's sessions and max_pool,
    unused server connections."""
    topo = s.topology
    fleet = topo.poolers
    notes: list[str] = []
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
