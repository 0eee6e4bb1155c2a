"""Pgpool-II following a Patroni leader: the decisions of `poolkit pgpool-follow`, as pure
functions (docs/ha.md, "Pgpool-II behind Patroni").

Pgpool-II promotes nothing here (no failover_command, no follow_primary_command): Patroni
decides. But Pgpool-II looks for its primary only when a backend goes down or comes back, and
only among the backends it has attached. Measured in the `ha` lab (Pgpool-II 4.6.1), that
leaves it wrong for good in two common cases:

- the leader's PostgreSQL is restarted in place (a crash Patroni recovers from, or
  `patronictl restart`): Pgpool-II detaches it at its shutdown, then searches the standbys for
  a primary, forever with search_primary_node_timeout 0 (no child serves a client meanwhile),
  or gives up and sends writes to a standby ("read-only transaction");
- a switchover whose old leader comes back as a replica before a health check fails: nothing
  went down, so Pgpool-II keeps calling it the primary.

The follower compares Patroni's leader (a majority of the endpoints, out of recovery: the
same rules as `poolkit.follower`) with Pgpool-II's view (`pcp_node_info`) and closes the gap
with one PCP request:

- the leader's backend is detached: attach it (`pcp_attach_node`); Pgpool-II searches for the
  primary again and finds it (a search already running ends first: search_primary_node_timeout
  must be finite);
- the leader's backend is attached but Pgpool-II's primary is another backend, or none:
  tell Pgpool-II it is the primary (`pcp_promote_node` without --switchover: with no
  failover or follow-primary command set, this changes Pgpool-II's view only; it detaches the
  other backends, which auto_failback attaches again once they stream).

With no agreed leader, or a leader that is no backend of this Pgpool-II, it does nothing and
says why. A request is repeated only after `retry` seconds: Pgpool-II queues them.
"""

from __future__ import annotations

from dataclasses import dataclass

from poolkit import PoolkitError
from poolkit.follower import Target, config_with_endpoints

#: pcp_node_info --verbose keys this module reads.
_KEYS = {"Hostname": "host", "Port": "port", "Status Name": "status", "Role": "role"}


@dataclass(frozen=True)
class PgpoolNode:
    """One backend as Pgpool-II sees it (pcp_node_info)."""

    node_id: int
    host: str
    port: int
    status: str  # up, waiting, down, unused, quarantine
    role: str  # Pgpool-II's view: primary or standby

    @property
    def attached(self) -> bool:
        return self.status in ("up", "waiting")

    def __str__(self) -> str:
        return f"node {self.node_id} ({self.host}:{self.port}, {self.status}, {self.role})"


@dataclass(frozen=True)
class Action:
    """One PCP request: `kind` is "attach" or "promote"."""

    kind: str
    node: PgpoolNode
    reason: str

    def pcp_command(self) -> str:
        return {"attach": "pcp_attach_node", "promote": "pcp_promote_node"}[self.kind]


def parse_node_info(node_id: int, text: str) -> PgpoolNode:
    """A backend from `pcp_node_info --verbose -n <node_id>`'s "Key : value" lines."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() in _KEYS:
            values[_KEYS[key.strip()]] = value.strip()
    missing = sorted(set(_KEYS.values()) - set(values))
    if missing:
        raise PoolkitError(
            f"pcp_node_info for node {node_id}: no {', '.join(missing)} in its answer "
            f"(expected the --verbose form, 'Hostname : ...'): {text.strip()[:200]!r}"
        )
    try:
        port = int(values["port"])
    except ValueError as exc:
        raise PoolkitError(
            f"pcp_node_info for node {node_id}: port {values['port']!r} is not a number"
        ) from exc
    return PgpoolNode(node_id, values["host"], port, values["status"].lower(), values["role"])


def primary_of(nodes: list[PgpoolNode]) -> PgpoolNode | None:
    """Pgpool-II's primary: the attached backend it calls primary, if any."""
    return next((n for n in nodes if n.attached and n.role == "primary"), None)


def as_target(node: PgpoolNode | None) -> Target | None:
    return Target(node.host, node.port) if node else None


def _is_leader(node: PgpoolNode, leader: Target) -> bool:
    return (node.host, node.port) in ((leader.host, leader.port), (leader.name, leader.port))


def agrees(leader: Target | None, nodes: list[PgpoolNode]) -> bool:
    """Pgpool-II's primary is Patroni's leader."""
    primary = primary_of(nodes)
    return leader is not None and primary is not None and _is_leader(primary, leader)


def decide_action(leader: Target | None, nodes: list[PgpoolNode]) -> tuple[Action | None, str]:
    """The PCP request that makes Pgpool-II's primary Patroni's `leader`, or None, and a
    sentence for the journal and the state file."""
    if leader is None:
        return None, "no agreed Patroni leader: Pgpool-II left as it is"
    node = next((n for n in nodes if _is_leader(n, leader)), None)
    if node is None:
        backends = ", ".join(f"{n.host}:{n.port}" for n in nodes) or "none"
        return None, f"Patroni's leader {leader} is no Pgpool-II backend ({backends})"
    if not node.attached:
        return Action("attach", node, f"Patroni's leader {leader} is detached in Pgpool-II"), ""
    primary = primary_of(nodes)
    if primary is None or primary.node_id != node.node_id:
        named = f"{primary.host}:{primary.port}" if primary else "no backend"
        reason = f"Pgpool-II's primary is {named}, Patroni's leader is {leader}"
        return Action("promote", node, reason), ""
    return None, f"Pgpool-II's primary is Patroni's leader {leader}"


def due(action: Action, last: tuple[str, int, float] | None, now: float, retry: float) -> bool:
    """Whether to send `action` now: not when the same request for the same backend went
    out less than `retry` seconds ago (Pgpool-II queues requests while it searches)."""
    if last is None:
        return True
    kind, node_id, at = last
    return (kind, node_id) != (action.kind, action.node.node_id) or now - at >= retry


@dataclass(frozen=True)
class PgpoolFollowerConfig:
    """The Pgpool-II follower's configuration file (JSON, written by roles/pgpool)."""

    endpoints: tuple[str, ...]
    nodes: int
    pcp_host: str
    pcp_port: int
    pcp_user: str
    state_file: str
    ca_file: str = ""
    interval: float = 1.0
    timeout: float = 1.0
    retry: float = 5.0


def load_config(
    text: str, source: str = "Pgpool-II follower configuration"
) -> PgpoolFollowerConfig:
    """Parse and check the JSON configuration; errors name the key."""
    data, endpoints = config_with_endpoints(text, source)
    nodes, port = data.get("nodes"), data.get("pcp_port")
    for key, value, low, high in (("nodes", nodes, 1, 128), ("pcp_port", port, 1, 65535)):
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise PoolkitError(
                f"{source}: {key} must be an integer in [{low}, {high}], got {value!r}"
            )
    for key in ("pcp_host", "pcp_user"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise PoolkitError(f"{source}: {key} must be a non-empty string, got {data.get(key)!r}")
    if not isinstance(data.get("state_file"), str) or not data["state_file"].startswith("/"):
        raise PoolkitError(
            f"{source}: state_file must be an absolute path, got {data.get('state_file')!r}"
        )
    seconds = {
        key: data.get(key, default)
        for key, default in (("interval", 1.0), ("timeout", 1.0), ("retry", 5.0))
    }
    for key, value in seconds.items():
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 < value <= 60:
            raise PoolkitError(f"{source}: {key} must be seconds in (0, 60], got {value!r}")
    return PgpoolFollowerConfig(
        endpoints=endpoints,
        nodes=nodes,
        pcp_host=data["pcp_host"],
        pcp_port=port,
        pcp_user=data["pcp_user"],
        state_file=data["state_file"],
        ca_file=str(data.get("ca_file", "")),
        interval=float(seconds["interval"]),
        timeout=float(seconds["timeout"]),
        retry=float(seconds["retry"]),
    )
