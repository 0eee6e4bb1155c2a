"""Prometheus metrics of a Pgpool-II, named as the upstream pgpool2_exporter names them.

Debian packages no Pgpool-II exporter; ``poolkit pgpool-exporter`` (poolkit/cli/
pgpool_exporter.py) serves these. Pure functions: the CLI runs SHOW POOL_NODES,
SHOW POOL_PROCESSES and SHOW POOL_POOLS through Pgpool-II at each scrape and passes the
rows (``{column: value}``) here. Names, labels and meanings follow pgpool/pgpool2_exporter
(pgpool2_exporter.go; see `poolkit.monitoring` for the list verified there), so its
dashboards work, and so do the rules and dashboard `poolkit alerts` / `poolkit dashboard`
write:

* ``pgpool2_up``: 1 when the SHOW commands worked, else 0 (and nothing else is exported).
* ``pgpool2_frontend_total``: Pgpool-II child processes (num_init_children);
  ``pgpool2_frontend_used{username, database}``: children serving a client, per user and
  database; ``pgpool2_frontend_used_ratio``: children serving a client / all children.
  A child serves a client while SHOW POOL_PROCESSES shows its database and user and its
  status (4.2+) is not "Wait for connection".
* ``pgpool2_backend_total``: connection slots (children x max_pool x backends, the rows
  of SHOW POOL_POOLS); ``pgpool2_backend_used``: slots holding a backend connection
  (pool_backendpid set); ``pgpool2_backend_used_ratio``.
* ``pgpool2_pool_nodes_status{hostname, port, role}``: 1 up or waiting, 0 down or unused;
  ``pgpool2_pool_nodes_select_cnt``: SELECTs load-balanced to the node since Pgpool-II
  started (a counter, exported untyped under upstream's name, which has no _total);
  ``pgpool2_pool_nodes_replication_delay``: the standby's delay as Pgpool-II shows it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from poolkit import PoolkitError

GAUGE, UNTYPED = "gauge", "untyped"
_WAITING_CHILD = "wait for connection"


@dataclass
class Family:
    """One metric family: its samples are (labels, value) pairs."""

    name: str
    kind: str
    help: str
    labels: tuple[str, ...] = ()
    samples: list[tuple[tuple[str, ...], float]] = field(default_factory=list)


def _number(row: Mapping[str, Any], key: str) -> float:
    value = row.get(key)
    if value in (None, ""):
        return 0.0
    try:
        return float(value)
    except (TypeError, ValueError):
        raise PoolkitError(f"{key}: {value!r} is not a number") from None


def _serving(row: Mapping[str, Any]) -> bool:
    """A child (SHOW POOL_PROCESSES row) serving a client."""
    if str(row.get("status") or "").strip().lower() == _WAITING_CHILD:
        return False
    return bool(row.get("database")) and bool(row.get("username"))


def _node_up(row: Mapping[str, Any]) -> float:
    return 1.0 if str(row.get("status", "")).lower() in ("up", "waiting") else 0.0


def metrics(
    nodes: Sequence[Mapping[str, Any]],
    processes: Sequence[Mapping[str, Any]],
    pools: Sequence[Mapping[str, Any]],
) -> list[Family]:
    """The families for one scrape that worked (pgpool2_up 1)."""
    children = {str(p.get("pool_pid")) for p in processes if p.get("pool_pid") not in (None, "")}
    per_session: dict[tuple[str, str], float] = {}
    for row in processes:
        if _serving(row):
            key = (str(row["username"]), str(row["database"]))
            per_session[key] = per_session.get(key, 0.0) + 1
    serving = sum(per_session.values())
    slots = len(pools)
    connected = sum(1 for row in pools if _number(row, "pool_backendpid") > 0)

    families = [
        Family(
            "pgpool2_up",
            GAUGE,
            "Whether the SHOW commands through Pgpool-II worked.",
            samples=[((), 1.0)],
        ),
        Family(
            "pgpool2_frontend_total",
            GAUGE,
            "Pgpool-II child processes.",
            samples=[((), float(len(children)))],
        ),
        Family(
            "pgpool2_frontend_used",
            GAUGE,
            "Child processes serving a client, per user and database.",
            ("username", "database"),
            [(key, value) for key, value in sorted(per_session.items())],
        ),
        Family(
            "pgpool2_frontend_used_ratio",
            GAUGE,
            "Child processes serving a client, as a fraction of all children.",
            samples=[((), serving / len(children) if children else 0.0)],
        ),
        Family(
            "pgpool2_backend_total",
            GAUGE,
            "Backend connection slots of all children.",
            samples=[((), float(slots))],
        ),
        Family(
            "pgpool2_backend_used",
            GAUGE,
            "Backend connection slots holding a connection.",
            samples=[((), float(connected))],
        ),
        Family(
            "pgpool2_backend_used_ratio",
            GAUGE,
            "Backend connection slots holding a connection, as a fraction of all slots.",
            samples=[((), connected / slots if slots else 0.0)],
        ),
    ]
    labels = ("hostname", "port", "role")
    status = Family(
        "pgpool2_pool_nodes_status", GAUGE, "Backend status: 1 up or waiting, 0 down.", labels
    )
    selects = Family(
        "pgpool2_pool_nodes_select_cnt",
        UNTYPED,
        "SELECT statements load-balanced to the backend (a counter).",
        labels,
    )
    delay = Family(
        "pgpool2_pool_nodes_replication_delay",
        GAUGE,
        "Replication delay of the standby as Pgpool-II reports it.",
        labels,
    )
    for node in nodes:
        key = (str(node.get("hostname")), str(node.get("port")), str(node.get("role", "")))
        status.samples.append((key, _node_up(node)))
        selects.samples.append((key, _number(node, "select_cnt")))
        delay.samples.append((key, _number(node, "replication_delay")))
    return [*families, status, selects, delay]


def down() -> list[Family]:
    """What a scrape exports when Pgpool-II cannot be queried."""
    return [Family("pgpool2_up", GAUGE, "Whether the SHOW commands through Pgpool-II worked.",
                   samples=[((), 0.0)])]  # fmt: skip
