"""Following a Patroni leader: the decisions of `poolkit follow`, as pure functions.

The follower asks every Patroni REST endpoint it knows for `GET /cluster`, decides which
member PgBouncer's databases should point at, and (in the CLI) rewrites the `[databases]`
include file and reloads the PgBouncer processes. Everything here is pure: the answers come
in, a decision comes out (docs/ha.md has the design and the reasons).

Rules:
- The target is the member that holds the leader lock **and** whose PostgreSQL runs
  (`role: leader`, `state: running` in /cluster): a leader still starting is not a target.
- Endpoints answer from their own view of the DCS; the target is the leader named by a
  majority of the endpoints that answered. No majority, no answer, or no running leader:
  keep the last target (never point at nothing) and say why.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field

from poolkit import PoolkitError


@dataclass(frozen=True, order=True)
class Target:
    """Where PgBouncer's followed databases point: a member's PostgreSQL address."""

    host: str
    port: int
    name: str = ""

    def __str__(self) -> str:
        label = f" ({self.name})" if self.name and self.name != self.host else ""
        return f"{self.host}:{self.port}{label}"


@dataclass(frozen=True)
class Answer:
    """One endpoint's answer to GET /cluster: its parsed JSON, or the error."""

    endpoint: str
    cluster: dict | None = None
    error: str = ""


@dataclass(frozen=True)
class Decision:
    """What the follower does next: point at `target` (changed or not), or keep the last
    target because the endpoints did not agree on a running leader (`reason` says why)."""

    target: Target | None
    changed: bool
    healthy: bool
    reason: str
    votes: dict[str, int] = field(default_factory=dict)


def running_leader(cluster: dict) -> Target | None:
    """The member of a /cluster answer that holds the leader lock with PostgreSQL running."""
    members = cluster.get("members")
    if not isinstance(members, list):
        return None
    leaders = [
        m
        for m in members
        if isinstance(m, dict) and m.get("role") == "leader" and m.get("state") == "running"
    ]
    if len(leaders) != 1:
        return None
    leader = leaders[0]
    try:
        return Target(str(leader["host"]), int(leader["port"]), str(leader.get("name", "")))
    except (KeyError, TypeError, ValueError):
        return None


def decide(current: Target | None, answers: list[Answer]) -> Decision:
    """The next target from the endpoints' answers (see the module's rules)."""
    answered = [a for a in answers if a.cluster is not None]
    if not answered:
        errors = "; ".join(f"{a.endpoint}: {a.error}" for a in answers) or "no endpoint"
        return Decision(current, False, False, f"no Patroni endpoint answered ({errors})")
    votes: Counter[Target | None] = Counter(running_leader(a.cluster) for a in answered)
    tally = {str(t) if t else "no running leader": n for t, n in votes.items()}
    leader, count = max(votes.items(), key=lambda item: (item[1], item[0] is not None))
    if count * 2 <= len(answered):
        return Decision(current, False, False, f"endpoints disagree on the leader: {tally}", tally)
    if leader is None:
        return Decision(current, False, False, "the cluster has no running leader", tally)
    if current is not None and (leader.host, leader.port) == (current.host, current.port):
        return Decision(current, False, True, f"leader {leader}", tally)
    before = str(current) if current else "nothing"
    return Decision(leader, True, True, f"leader changed: {before} -> {leader}", tally)


def render_databases(lines: dict[str, str], target: Target) -> str:
    """The [databases] include file: each followed database's settings (everything but the
    address, as the role rendered them) pointed at `target`."""
    out = [
        "; Written by `poolkit follow`: the databases that follow the Patroni leader.",
        f"; target = {target.host}:{target.port} {target.name}".rstrip(),
    ]
    for name, settings in sorted(lines.items()):
        rest = f" {settings}" if settings else ""
        out.append(f"{name} = host={target.host} port={target.port}{rest}")
    return "\n".join(out) + "\n"


def target_of_include(text: str) -> Target | None:
    """The target a previous `render_databases` wrote (its `; target =` line), so a restarted
    follower starts from the last good target."""
    for line in text.splitlines():
        if line.startswith("; target = "):
            address, _, name = line[len("; target = ") :].partition(" ")
            host, _, port = address.rpartition(":")
            try:
                return Target(host, int(port), name.strip())
            except ValueError:
                return None
    return None


@dataclass(frozen=True)
class FollowerConfig:
    """The follower's configuration file (JSON, written by roles/pgbouncer)."""

    endpoints: tuple[str, ...]
    databases: dict[str, str]
    include_file: str
    state_file: str
    ca_file: str = ""
    interval: float = 0.5
    timeout: float = 1.0
    units: tuple[str, ...] = ()


def load_config(text: str, source: str = "follower configuration") -> FollowerConfig:
    """Parse and check the follower's JSON configuration; errors name the key."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PoolkitError(f"{source}: not JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise PoolkitError(f"{source}: must be a JSON object")
    endpoints = data.get("endpoints")
    if (
        not isinstance(endpoints, list)
        or not endpoints
        or not all(isinstance(e, str) and e.startswith(("http://", "https://")) for e in endpoints)
    ):
        raise PoolkitError(
            f"{source}: endpoints must be a non-empty list of Patroni REST API URLs "
            f"(https://host:8008), got {endpoints!r}"
        )
    databases = data.get("databases")
    if not isinstance(databases, dict) or not databases:
        raise PoolkitError(
            f"{source}: databases must map each followed database to its settings, "
            f"got {databases!r}"
        )
    for key in ("include_file", "state_file"):
        if not isinstance(data.get(key), str) or not data[key].startswith("/"):
            raise PoolkitError(f"{source}: {key} must be an absolute path, got {data.get(key)!r}")
    interval = data.get("interval", 0.5)
    timeout = data.get("timeout", 1.0)
    for key, value in (("interval", interval), ("timeout", timeout)):
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 < value <= 60:
            raise PoolkitError(f"{source}: {key} must be seconds in (0, 60], got {value!r}")
    units = data.get("units", [])
    if not isinstance(units, list) or not all(isinstance(u, str) for u in units):
        raise PoolkitError(f"{source}: units must be a list of systemd unit names")
    return FollowerConfig(
        endpoints=tuple(e.rstrip("/") for e in endpoints),
        databases={str(k): str(v) for k, v in databases.items()},
        include_file=data["include_file"],
        state_file=data["state_file"],
        ca_file=str(data.get("ca_file", "")),
        interval=float(interval),
        timeout=float(timeout),
        units=tuple(units),
    )
