"""A planned Patroni switchover: which member takes over, or why not (playbooks/switchover.yml).

Pure functions over what Patroni's REST API answers (``GET /cluster``) and what each pooler
host's follower wrote to its state file (``poolkit follow``). The playbook calls them through
the ``poolkit_switchover_*`` filters before it changes anything: a refusal names what is
wrong and leaves every host as it was.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from poolkit import PoolkitError

# Replica roles a switchover may promote ("sync_standby": synchronous_mode's standby;
# Patroni 4 also says "quorum_standby" in quorum mode).
REPLICA_ROLES = ("replica", "sync_standby", "quorum_standby")
SYNC_ROLES = ("sync_standby", "quorum_standby")
#: A replica's /cluster state from its WAL receiver (Patroni 3.0.4 and later).
RECEIVER_STATES = ("streaming", "in archive recovery")


def reports_receivers(members: list[Any]) -> bool:
    """Whether a /cluster answer's replicas report their WAL receiver's state (Patroni
    3.0.4 and later)."""
    return any(isinstance(m, Mapping) and m.get("state") in RECEIVER_STATES for m in members)


def streams(
    member: Mapping[str, Any], members: list[Any], replication: list[Any] | None = None
) -> bool:
    """Whether a replica of a /cluster answer (`members`, all of them) streams from the
    leader. Patroni 3.0.4 and later say so: state ``streaming``, from the replica's WAL
    receiver. Patroni 3.0.2 (Debian 12) gives a replica only its Patroni state
    (``running``); in an answer where no replica reports a WAL receiver state:

    - with `replication`, the leader's pg_stat_replication rows from its ``GET /patroni``
      (``[{application_name, state, ...}]``; Patroni names each member's connection after
      it), a running replica streams when its row says ``streaming``;
    - without them, a running synchronous standby counts as streaming (Patroni names one
      only while the leader's pg_stat_replication shows it ``sync``); a running asynchronous
      replica cannot be told from one whose receiver is down, and does not count."""
    state = member.get("state")
    if state == "streaming":
        return True
    if state != "running" or reports_receivers(members):
        return False
    if replication is not None:
        return any(
            isinstance(row, Mapping)
            and row.get("application_name") == member.get("name")
            and row.get("state") == "streaming"
            for row in replication
        )
    return member.get("role") in SYNC_ROLES


@dataclass(frozen=True)
class Plan:
    leader: str
    candidate: str
    lag: int

    def as_dict(self) -> dict[str, Any]:
        return {"leader": self.leader, "candidate": self.candidate, "lag": self.lag}


def _members(cluster: Any) -> list[Mapping[str, Any]]:
    members = cluster.get("members") if isinstance(cluster, Mapping) else None
    if not isinstance(members, list) or not all(
        isinstance(m, Mapping) and isinstance(m.get("name"), str) for m in members
    ):
        raise PoolkitError(
            "Patroni's /cluster answer has no member list ({members: [{name, role, state,"
            f" lag}}]}}): {str(cluster)[:200]}"
        )
    return members


def _lag(member: Mapping[str, Any]) -> int | None:
    lag = member.get("lag")
    return lag if isinstance(lag, int) and not isinstance(lag, bool) and lag >= 0 else None


def _describe(member: Mapping[str, Any]) -> str:
    return (
        f"{member['name']} ({member.get('role', '?')}, {member.get('state', '?')},"
        f" lag {member.get('lag', '?')})"
    )


def _unhealthy(cluster: Mapping[str, Any], members: list[Mapping[str, Any]]) -> str | None:
    leaders = [m for m in members if m.get("role") == "leader"]
    if len(leaders) != 1 or leaders[0].get("state") != "running":
        return "it has no running leader"
    if cluster.get("pause"):
        return "it is in maintenance mode (patronictl pause): resume it first"
    if cluster.get("scheduled_switchover"):
        return f"a switchover is already scheduled: {cluster['scheduled_switchover']}"
    return None


def _refusal(
    member: Mapping[str, Any],
    max_lag: int,
    sync: bool,
    members: list[Any],
    replication: list[Any] | None = None,
) -> str | None:
    if member.get("role") not in REPLICA_ROLES:
        return f"its role is {member.get('role')!r}, not a replica"
    if not streams(member, members, replication):
        return f"its state is {member.get('state')!r}, not streaming"
    tags = member.get("tags") if isinstance(member.get("tags"), Mapping) else {}
    if tags.get("nofailover"):
        return "it is tagged nofailover"
    if sync and member.get("role") not in SYNC_ROLES:
        return "the cluster replicates synchronously and it is not a synchronous standby"
    lag = _lag(member)
    if lag is None:
        return f"its lag is unknown ({member.get('lag')!r})"
    if lag > max_lag:
        return f"it lags {lag} bytes behind, more than switchover_max_lag ({max_lag})"
    return None


def plan(
    cluster: Any, candidate: str = "", max_lag: int = 1048576, replication: Any = None
) -> Plan:
    """The switchover to run: the running leader and the member to promote.

    `replication` is the leader's pg_stat_replication from its ``GET /patroni`` (its
    ``replication`` key), or None when it was not read: Patroni 3.0.2 needs it to tell a
    streaming asynchronous replica (`streams`).

    `candidate` names the member (``switchover_candidate``); empty picks the streaming
    replica with the least lag (ties by name). Refused, naming the reason, when the cluster
    has no running leader, is paused or has a switchover scheduled, or when the candidate is
    not a member, is the leader, does not stream, is tagged nofailover, is not a synchronous
    standby of a synchronous cluster, or lags more than `max_lag` bytes.
    """
    if isinstance(max_lag, bool) or not isinstance(max_lag, int) or max_lag < 0:
        raise PoolkitError(f"switchover_max_lag: {max_lag!r} is not a number of bytes (>= 0)")
    if not isinstance(candidate, str):
        raise PoolkitError(f"switchover_candidate: {candidate!r} is not a member name")
    if replication is not None and not isinstance(replication, list):
        raise PoolkitError(
            "the leader's replication rows (GET /patroni: replication) are not a list: "
            f"{str(replication)[:200]}"
        )
    members = _members(cluster)
    names = ", ".join(_describe(m) for m in members)
    if problem := _unhealthy(cluster, members):
        raise PoolkitError(
            f"the Patroni cluster is not ready for a switchover: {problem} (members: {names})"
        )
    leader = next(m for m in members if m.get("role") == "leader")
    sync = any(m.get("role") in SYNC_ROLES for m in members)
    if candidate:
        chosen = next((m for m in members if m["name"] == candidate), None)
        if chosen is None:
            raise PoolkitError(
                f"switchover_candidate: {candidate!r} is not a member of the Patroni cluster"
                f" (members: {names})"
            )
        if chosen is leader:
            raise PoolkitError(
                f"switchover_candidate: {candidate!r} is already the leader; name a replica"
                f" (members: {names})"
            )
        if reason := _refusal(chosen, max_lag, sync, members, replication):
            raise PoolkitError(
                f"switchover_candidate: {candidate!r} cannot take over: {reason} (members: {names})"
            )
    else:
        fit = [
            m
            for m in members
            if m is not leader and _refusal(m, max_lag, sync, members, replication) is None
        ]
        if not fit:
            reasons = "; ".join(
                f"{m['name']}: {_refusal(m, max_lag, sync, members, replication)}"
                for m in members
                if m is not leader
            )
            raise PoolkitError(
                "no replica can take over (switchover_candidate is empty, so poolkit looked"
                f" for a streaming replica within switchover_max_lag): {reasons or 'none'}"
            )
        chosen = min(fit, key=lambda m: (_lag(m), m["name"]))
    return Plan(str(leader["name"]), str(chosen["name"]), _lag(chosen) or 0)


def followers_problems(states: Mapping[str, Any], leader: str) -> list[str]:
    """Pooler hosts whose follower is not ready for a switchover from `leader`: no state,
    not healthy, or pointing elsewhere. `states` maps each pooler host to its follower's
    state file (a dict), or to None when it has none."""
    problems = []
    for host, state in sorted(states.items()):
        if not isinstance(state, Mapping):
            problems.append(f"{host}: no follower state (is a database following the leader?)")
        elif not state.get("healthy"):
            problems.append(f"{host}: the follower is not healthy ({state.get('reason')})")
        elif state.get("target_host") != leader:
            problems.append(
                f"{host}: the follower points at {state.get('target_host')}, not at the"
                f" leader {leader}"
            )
    return problems


def pgpool_state(state: Any, leader: str, detached_before: Any = ()) -> dict[str, Any]:
    """Where a pooler host's Pgpool-II stands for a switchover that ends with `leader`
    leading, from its follower's state file (`poolkit pgpool-follow`; None: no file).

    ``on_leader``: Pgpool-II agrees with Patroni and Patroni's leader is `leader`.
    ``settled``: also no backend is detached but those in `detached_before` (the ones
    detached before the switchover): attaching a backend restarts Pgpool-II's children,
    which ends every session through them, so the databases PgBouncer holds in front of
    Pgpool-II (``hold_at_switchover``) are resumed only once that is over. ``reason``
    says which, for the play's output."""
    if not isinstance(state, Mapping):
        return {
            "on_leader": False,
            "settled": False,
            "reason": "no Pgpool-II follower state (is pgpool_follow_patroni set on this host?)",
        }
    name = state.get("leader_name") or state.get("leader_host")
    if not state.get("healthy"):
        reason = f"Pgpool-II does not follow Patroni yet ({state.get('reason')})"
    elif name != leader:
        reason = f"Pgpool-II's follower sees {name} leading, not {leader}"
    else:
        before = set(detached_before or [])
        extra = sorted(set(state.get("detached") or []) - before)
        if extra:
            return {
                "on_leader": True,
                "settled": False,
                "reason": f"Pgpool-II's primary is {leader}; {', '.join(extra)} not attached yet",
            }
        return {
            "on_leader": True,
            "settled": True,
            "reason": f"Pgpool-II's primary is {leader}, its backends attached as before",
        }
    return {"on_leader": False, "settled": False, "reason": reason}
