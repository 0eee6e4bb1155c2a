"""Following a Patroni leader: the decisions of `poolkit follow`, as pure functions.

The follower asks every Patroni REST endpoint it knows for `GET /cluster`, decides which
member PgBouncer's databases should point at, and (in the CLI) rewrites the `[databases]`
include file and reloads the PgBouncer processes. Everything here is pure: the answers come
in, a decision comes out (docs/ha.md has the design and the reasons).

Rules:
- The target is the member that holds the leader lock **and** whose PostgreSQL runs
  (`role: leader`, `state: running` in /cluster): a leader still starting is not a target.
- Holding the lock is not yet being writable: Patroni takes the lock, then promotes. A new
  leader becomes the target only once its own REST API says its PostgreSQL is out of recovery
  (GET its `api_url`: `role: primary`, from `pg_is_in_recovery()`); until then the follower
  keeps the last target and asks again (`promoted`, `await_promotion`). Writes sent to a
  leader still promoting fail with "read-only transaction"; writes held by the old target
  fail or wait only as long as the promotion.
- Endpoints answer from their own view of the DCS; the target is the leader named by a
  majority of the endpoints that answered. No majority, no answer, or no running leader:
  keep the last target (never point at nothing) and say why.
- Read-only databases (`follow: replicas`) point at every replica that streams from that
  leader within `max_replica_lag` bytes and is not tagged `noloadbalance` (PgBouncer
  round-robins over a host list); with none, at the leader, so reads still work. When the
  leader is kept, so are the replicas. Where a host list cannot connect (PgBouncer before
  1.25 with verify-full, `poolkit.pgbouncer.host_lists_connect`), at one of them: the one
  already used while it qualifies, else the first by name.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field

from poolkit import PoolkitError
from poolkit.pgbouncer import host_lists_connect
from poolkit.switchover import REPLICA_ROLES, reports_receivers, streams

#: Bytes of WAL a replica may lag and still serve `follow: replicas` databases.
DEFAULT_MAX_REPLICA_LAG = 1048576


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
    replicas: tuple[Target, ...] = ()
    #: The new leader's REST API (its /cluster `api_url`) when `changed`: ask it whether its
    #: PostgreSQL is out of recovery before pointing at it (`promoted`).
    leader_api: str = ""
    #: True while the last target is kept for a new leader still promoting (`await_promotion`).
    promoting: bool = False


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


def member_api_url(cluster: dict, target: Target) -> str:
    """The `api_url` of the /cluster member at `target`'s address ("" when not given)."""
    for member in cluster.get("members") or []:
        if (
            isinstance(member, dict)
            and str(member.get("host")) == target.host
            and str(member.get("port")) == str(target.port)
            and isinstance(member.get("api_url"), str)
        ):
            return member["api_url"]
    return ""


def replication_source(answers: list[Answer]) -> str:
    """The running leader's `api_url` when the first /cluster answer shows a running
    replica and no WAL receiver state (Patroni before 3.0.4): its GET /patroni lists the
    connections that stream (`streams`' `replication`). "" when /cluster says enough."""
    view = next((a.cluster for a in answers if a.cluster is not None), None)
    if view is None:
        return ""
    members = view.get("members") if isinstance(view.get("members"), list) else []
    leader = running_leader(view)
    running = any(
        isinstance(m, dict) and m.get("role") in REPLICA_ROLES and m.get("state") == "running"
        for m in members
    )
    if leader is None or not running or reports_receivers(members):
        return ""
    return member_api_url(view, leader)


#: The roles GET /patroni reports for a PostgreSQL out of recovery (Patroni 4, and before 4).
PRIMARY_ROLES = ("primary", "master")


def promoted(status: object) -> bool:
    """Whether a member's GET /patroni answer says its PostgreSQL runs out of recovery:
    Patroni derives `role` from `pg_is_in_recovery()` there, while /cluster's `role: leader`
    only says who holds the lock."""
    return (
        isinstance(status, dict)
        and status.get("role") in PRIMARY_ROLES
        and status.get("state") == "running"
    )


def await_promotion(
    decision: Decision, current: Target | None, current_replicas: tuple[Target, ...], detail: str
) -> Decision:
    """Keep `current` while the new leader `decision` names is still promoting (or its API
    did not say): not healthy, the reason names the leader and what its API answered."""
    reason = f"new leader {decision.target} is not out of recovery yet ({detail})"
    return Decision(current, False, False, reason, decision.votes, current_replicas, promoting=True)


def streaming_replicas(
    cluster: dict, max_lag: int, replication: list | None = None
) -> tuple[Target, ...]:
    """The members of a /cluster answer that may serve reads: a replica role, streaming
    (`poolkit.switchover.streams`: Patroni 3.0.2 says only `running`, and `replication`, the
    leader's pg_stat_replication rows, tells which of those stream), lag known and at
    most `max_lag` bytes, not tagged `noloadbalance`; sorted by name. Only those on the
    most common port (PgBouncer gives one port to a host list)."""
    readable = []
    members = cluster.get("members") or []
    for member in members:
        if not isinstance(member, dict) or member.get("role") not in REPLICA_ROLES:
            continue
        lag, tags = member.get("lag"), member.get("tags")
        if (
            not streams(member, members, replication)
            or not isinstance(lag, int)
            or isinstance(lag, bool)
            or not 0 <= lag <= max_lag
            or (isinstance(tags, dict) and tags.get("noloadbalance"))
        ):
            continue
        try:
            readable.append(
                Target(str(member["host"]), int(member["port"]), str(member.get("name", "")))
            )
        except (KeyError, TypeError, ValueError):
            continue
    if not readable:
        return ()
    ports = Counter(t.port for t in readable)
    port = max(ports, key=lambda p: (ports[p], -p))
    return tuple(sorted((t for t in readable if t.port == port), key=lambda t: (t.name, t.host)))


def decide(
    current: Target | None,
    answers: list[Answer],
    current_replicas: tuple[Target, ...] = (),
    max_replica_lag: int = DEFAULT_MAX_REPLICA_LAG,
    single_replica: bool = False,
    replication: list | None = None,
) -> Decision:
    """The next target, and the replicas for reads (one of them with `single_replica`),
    from the endpoints' answers (see the module's rules); `replication` as in
    `streaming_replicas`."""
    answered = [a for a in answers if a.cluster is not None]
    if not answered:
        errors = "; ".join(f"{a.endpoint}: {a.error}" for a in answers) or "no endpoint"
        reason = f"no Patroni endpoint answered ({errors})"
        return Decision(current, False, False, reason, replicas=current_replicas)
    votes: Counter[Target | None] = Counter(running_leader(a.cluster) for a in answered)
    tally = {str(t) if t else "no running leader": n for t, n in votes.items()}
    leader, count = max(votes.items(), key=lambda item: (item[1], item[0] is not None))
    if count * 2 <= len(answered):
        reason = f"endpoints disagree on the leader: {tally}"
        return Decision(current, False, False, reason, tally, current_replicas)
    if leader is None:
        reason = "the cluster has no running leader"
        return Decision(current, False, False, reason, tally, current_replicas)
    view = next(a.cluster for a in answered if running_leader(a.cluster) == leader)
    replicas = streaming_replicas(view, max_replica_lag, replication) or (leader,)
    if single_replica:
        replicas = tuple(t for t in current_replicas[:1] if t in replicas) or replicas[:1]
    if current is not None and (leader.host, leader.port) == (current.host, current.port):
        return Decision(current, False, True, f"leader {leader}", tally, replicas)
    before = str(current) if current else "nothing"
    reason = f"leader changed: {before} -> {leader}"
    return Decision(leader, True, True, reason, tally, replicas, member_api_url(view, leader))


def describe_replicas(replicas: tuple[Target, ...], leader: Target | None) -> str:
    """How the follower names its read targets in its log and state."""
    if replicas == (leader,) or not replicas:
        return f"no replica streams within the lag bound: reads go to the leader {leader}"
    return "reads on " + ", ".join(str(t) for t in replicas)


def render_databases(
    lines: dict[str, str],
    target: Target,
    replica_lines: dict[str, str] | None = None,
    replicas: tuple[Target, ...] = (),
) -> str:
    """The [databases] include file: each followed database's settings (everything but the
    address, as the role rendered them) pointed at `target`; each read-only database's at
    the `replicas` (the leader when there are none)."""
    out = [
        "; Written by `poolkit follow`: the databases that follow the Patroni cluster.",
        f"; target = {target.host}:{target.port} {target.name}".rstrip(),
    ]
    for name, settings in sorted(lines.items()):
        rest = f" {settings}" if settings else ""
        out.append(f"{name} = host={target.host} port={target.port}{rest}")
    if replica_lines:
        readers = replicas or (target,)
        listed = ", ".join(f"{t.host}:{t.port} {t.name}".rstrip() for t in readers)
        out.insert(2, f"; replicas = {listed}")
        hosts = ",".join(t.host for t in readers)
        for name, settings in sorted(replica_lines.items()):
            rest = f" {settings}" if settings else ""
            out.append(f"{name} = host={hosts} port={readers[0].port}{rest}")
    return "\n".join(out) + "\n"


def _parse_target(text: str) -> Target | None:
    address, _, name = text.strip().partition(" ")
    host, _, port = address.rpartition(":")
    try:
        return Target(host, int(port), name.strip())
    except ValueError:
        return None


def target_of_include(text: str) -> Target | None:
    """The target a previous `render_databases` wrote (its `; target =` line), so a restarted
    follower starts from the last good target."""
    for line in text.splitlines():
        if line.startswith("; target = "):
            return _parse_target(line[len("; target = ") :])
    return None


def replicas_of_include(text: str) -> tuple[Target, ...]:
    """The read targets a previous `render_databases` wrote (its `; replicas =` line)."""
    for line in text.splitlines():
        if line.startswith("; replicas = "):
            parsed = [_parse_target(part) for part in line[len("; replicas = ") :].split(",")]
            return tuple(t for t in parsed if t is not None)
    return ()


@dataclass(frozen=True)
class Resume:
    """How the follower RESUMEs its host's PgBouncer processes at a planned switchover:
    playbooks/switchover.yml writes `request_file` (``{"target_host": candidate, "limit":
    seconds}``) before it PAUSEs; once the followed databases point at that host, the follower
    RESUMEs them at once on every process (the play's own RESUME comes later and finds
    nothing paused), so clients wait for the switch, not for the play's next tasks."""

    request_file: str
    user: str
    sockets: tuple[str, ...]
    port: int
    databases: tuple[str, ...]

    def commands(self) -> list[list[str]]:
        """One psql per process on its admin console, as the service's Unix user: RELOAD
        first (it completes before the command returns, so the process has the new
        address whatever became of the follower's SIGHUP), then RESUME."""
        resumes = ["-c", "RELOAD"]
        resumes += [arg for name in self.databases for arg in ("-c", f"RESUME {name}")]
        psql = ["runuser", "-u", self.user, "--", "psql", "-X", "-q", "--no-password"]
        console = ["-p", str(self.port), "-U", "pgbouncer", "-d", "pgbouncer"]
        return [[*psql, "-h", socket, *console, *resumes] for socket in self.sockets]


def resume_due(request: dict | None, target: Target | None, age: float) -> bool:
    """Whether a switchover's RESUME request (see `Resume`), written `age` seconds ago, is
    due: the followed databases point at its target host and it is at most `limit` seconds
    old (a play that died leaves a request that expires; pause.yml's timer RESUMEs that
    host anyway)."""
    if not isinstance(request, dict) or target is None:
        return False
    limit = request.get("limit")
    if not isinstance(limit, (int, float)) or isinstance(limit, bool) or not 0 <= age <= limit:
        return False
    return request.get("target_host") in (target.host, target.name)


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
    replica_databases: dict[str, str] = field(default_factory=dict)
    max_replica_lag: int = DEFAULT_MAX_REPLICA_LAG
    single_replica: bool = False
    resume: Resume | None = None


def _resume(value: object, source: str) -> Resume | None:
    """The ``resume`` key: null, or {request_file, user, sockets, port, databases}."""
    if value is None:
        return None
    shape = (
        "resume must be null or {request_file: an absolute path, user: the service's user,"
        " sockets: [its unix socket directories], port: its listen port, databases: [names]}"
    )
    if not isinstance(value, dict):
        raise PoolkitError(f"{source}: {shape}, got {value!r}")
    request, user, sockets = value.get("request_file"), value.get("user"), value.get("sockets")
    port, databases = value.get("port"), value.get("databases")
    if (
        not isinstance(request, str)
        or not request.startswith("/")
        or not isinstance(user, str)
        or not user
        or not isinstance(sockets, list)
        or not sockets
        or not all(isinstance(x, str) and x.startswith("/") for x in sockets)
        or not isinstance(port, int)
        or isinstance(port, bool)
        or not 0 < port < 65536
        or not isinstance(databases, list)
        or not databases
        or not all(isinstance(x, str) and x for x in databases)
    ):
        raise PoolkitError(f"{source}: {shape}, got {value!r}")
    return Resume(request, user, tuple(sockets), port, tuple(databases))


def config_with_endpoints(text: str, source: str) -> tuple[dict, tuple[str, ...]]:
    """A follower configuration's JSON object and its Patroni endpoints (checked: a
    non-empty list of http(s) URLs, trailing slashes removed); errors name the key."""
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
    return data, tuple(e.rstrip("/") for e in endpoints)


def load_config(text: str, source: str = "follower configuration") -> FollowerConfig:
    """Parse and check the follower's JSON configuration; errors name the key."""
    data, endpoints = config_with_endpoints(text, source)
    databases = data.get("databases", {})
    replica_databases = data.get("replica_databases", {})
    for key, value in (("databases", databases), ("replica_databases", replica_databases)):
        if not isinstance(value, dict):
            raise PoolkitError(
                f"{source}: {key} must map each followed database to its settings, got {value!r}"
            )
    if not databases and not replica_databases:
        raise PoolkitError(
            f"{source}: databases (following the leader) and replica_databases (following "
            "the replicas) are both empty: name at least one database to follow"
        )
    max_lag = data.get("max_replica_lag", DEFAULT_MAX_REPLICA_LAG)
    if not isinstance(max_lag, int) or isinstance(max_lag, bool) or max_lag < 0:
        raise PoolkitError(f"{source}: max_replica_lag must be bytes >= 0, got {max_lag!r}")
    single = False
    if replica_databases:
        version, sslmode = data.get("pgbouncer_version"), data.get("server_tls_sslmode", "")
        if not isinstance(version, str) or not isinstance(sslmode, str):
            raise PoolkitError(
                f"{source}: replica_databases need pgbouncer_version (the installed release, "
                f'"1.24.1") and server_tls_sslmode (a string), got {version!r} and {sslmode!r}'
            )
        try:
            single = not host_lists_connect(version, sslmode)
        except PoolkitError as exc:
            raise PoolkitError(f"{source}: pgbouncer_version: {exc}") from exc
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
        endpoints=endpoints,
        databases={str(k): str(v) for k, v in databases.items()},
        include_file=data["include_file"],
        state_file=data["state_file"],
        ca_file=str(data.get("ca_file", "")),
        interval=float(interval),
        timeout=float(timeout),
        units=tuple(units),
        replica_databases={str(k): str(v) for k, v in replica_databases.items()},
        max_replica_lag=max_lag,
        single_replica=single,
        resume=_resume(data.get("resume"), source),
    )
