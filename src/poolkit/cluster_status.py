"""`poolkit status` for a Patroni cluster: its members, and whether the poolers point at its
leader. Pure functions that add to a `poolkit.status.Report`; the CLI fetches the inputs.

- The cluster, from the endpoints' ``GET /cluster`` answers: the running leader a majority
  names (`poolkit.follower.decide`, the follower's own rule), each member's role, state and
  lag. No running leader is critical; a member neither running nor streaming, or lagging
  more than the threshold, is a warning.
- Each follower, from its state file: pointing anywhere but the leader is critical, a state
  not refreshed for a while (the follower is not running) is critical, "keeping the last
  target" (Patroni not answering or not agreeing) is a warning with the follower's reason.
- Each PgBouncer's databases (SHOW DATABASES): one whose host is a member other than the
  leader sends its clients to a replica: critical.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from poolkit.follower import Answer, Target, decide
from poolkit.status import CRITICAL, WARNING, Finding, Report

#: A follower checks every 0.5 s by default: a state this old means it is not running.
STALE_AFTER = 10.0
#: Bytes of WAL a replica may lag before the report warns (16 MiB, one WAL segment).
LAG_WARNING = 16 * 1024 * 1024


def _members(answers: Sequence[Answer]) -> list[Mapping[str, Any]]:
    for answer in answers:
        members = (answer.cluster or {}).get("members")
        if isinstance(members, list):
            return [m for m in members if isinstance(m, Mapping) and "name" in m]
    return []


def _size(lag: Any) -> str:
    if not isinstance(lag, int) or isinstance(lag, bool):
        return str(lag)
    for unit, size in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if lag >= size:
            return f"{lag / size:.1f} {unit}"
    return f"{lag} B"


def cluster_report(
    report: Report, answers: Sequence[Answer], lag_warning: int = LAG_WARNING
) -> Target | None:
    """Add the cluster's summary and findings to `report`; return its running leader (the
    one a majority of the answering endpoints names), or None."""
    source = "patroni " + ", ".join(a.endpoint for a in answers)
    report.sources.append(source)
    for answer in answers:
        if answer.cluster is None:
            report.findings.append(
                Finding(
                    WARNING,
                    source,
                    f"endpoint {answer.endpoint}",
                    f"does not answer GET /cluster: {answer.error}",
                    "Is Patroni running on that member, and is its REST API reachable from "
                    "here (port, firewall, the CA given with --patroni-ca)?",
                )
            )
    decision = decide(None, list(answers))
    leader = decision.target if decision.healthy else None
    if leader is None:
        report.findings.append(
            Finding(
                CRITICAL,
                source,
                "cluster leader",
                f"no running leader: {decision.reason}",
                "patronictl list on a member shows what Patroni sees; writes fail until a "
                "leader runs.",
            )
        )
    members = _members(answers)
    parts = []
    for member in members:
        role, state = member.get("role", "?"), member.get("state", "?")
        lag = member.get("lag")
        text = f"{member['name']} {role} {state}"
        if role != "leader":
            text += f" lag {_size(lag)}"
        parts.append(text)
        subject = f"member {member['name']}"
        if state not in ("running", "streaming"):
            report.findings.append(
                Finding(
                    WARNING,
                    source,
                    subject,
                    f"is {state} ({role})",
                    "A member that neither runs nor streams cannot take over: see its "
                    "Patroni journal.",
                )
            )
        elif role != "leader" and isinstance(lag, int) and lag > lag_warning:
            report.findings.append(
                Finding(
                    WARNING,
                    source,
                    subject,
                    f"lags {_size(lag)} behind the leader (warning above {_size(lag_warning)})",
                    "A lagging replica is a poor switchover candidate and serves stale reads;"
                    " check its disk and network, and the leader's write rate.",
                )
            )
    report.summaries.append(
        f"Patroni cluster: leader {leader.name or leader.host if leader else 'none'}; "
        + ("; ".join(parts) or "no member list")
    )
    return leader


def follower_report(
    report: Report,
    path: str,
    state: Mapping[str, Any] | None,
    leader: Target | None,
    now: float,
    stale_after: float = STALE_AFTER,
) -> None:
    """Add what the follower state file at `path` says to `report`: where it points, and
    whether that is the leader."""
    source = f"follower {path}"
    report.sources.append(source)
    if not isinstance(state, Mapping):
        report.findings.append(
            Finding(
                CRITICAL,
                source,
                "follower state",
                "cannot be read (no file, or not the follower's JSON)",
                "Is poolkit-pgbouncer-follow installed and running (systemctl status)? It "
                "writes the file every check.",
            )
        )
        return
    target = state.get("target_host")
    age = now - float(state.get("checked_at") or 0)
    report.summaries.append(
        f"follower {path}: points at {target or 'nothing'}"
        + ("" if state.get("healthy") else f", keeping it: {state.get('reason')}")
    )
    if age > stale_after:
        report.findings.append(
            Finding(
                CRITICAL,
                source,
                "follower",
                f"has not checked the cluster for {age:.0f} s",
                "systemctl status poolkit-pgbouncer-follow; journalctl -u "
                "poolkit-pgbouncer-follow. Until it runs, PgBouncer does not follow a failover.",
            )
        )
    if leader is not None and target not in (leader.host, leader.name):
        report.findings.append(
            Finding(
                CRITICAL,
                source,
                "follower target",
                f"points at {target or 'nothing'}, not at the leader {leader.name or leader.host}",
                "Clients of the followed databases reach a replica or nothing: look at the "
                "follower's journal (can it reach the Patroni endpoints?).",
            )
        )
    elif not state.get("healthy"):
        report.findings.append(
            Finding(
                WARNING,
                source,
                "follower",
                f"keeps its last target {target}: {state.get('reason')}",
                "It follows again once a majority of the endpoints answers with a running "
                "leader; meanwhile a failover would not be followed.",
            )
        )


def pgbouncer_leader_report(
    report: Report,
    source: str,
    databases: Sequence[Mapping[str, Any]],
    answers: Sequence[Answer],
    leader: Target | None,
    read_only: Collection[str] = (),
) -> None:
    """A PgBouncer database whose host is a cluster member other than the leader: its
    clients reach a replica (read-only) — critical, unless it is one of `read_only` (the
    followers' `follow: replicas` databases, meant for replicas)."""
    if leader is None:
        return
    others = {
        str(value)
        for member in _members(answers)
        if member.get("name") not in (leader.name, leader.host)
        for value in (member.get("name"), member.get("host"))
        if value
    }
    for row in databases:
        host = str(row.get("host") or "")
        if host in others and str(row.get("name")) not in read_only:
            report.findings.append(
                Finding(
                    CRITICAL,
                    source,
                    f"database {row.get('name')}",
                    f"points at {host}, a member that is not the leader "
                    f"({leader.name or leader.host})",
                    "Writes through it fail as read-only. Use `follow: leader` for the "
                    "database (poolkit follow), or check why its follower did not repoint.",
                )
            )


def pgpool_leader_report(
    report: Report, source: str, nodes: Sequence[Mapping[str, Any]], leader: Target | None
) -> None:
    """Pgpool-II's primary (SHOW POOL_NODES, an attached node with role primary) is not the
    Patroni leader: writes through it fail or go nowhere — critical."""
    if leader is None:
        return
    names = {leader.host, leader.name} - {""}
    primary = next(
        (
            row
            for row in nodes
            if str(row.get("role")) == "primary" and str(row.get("status")) in ("up", "waiting")
        ),
        None,
    )
    if primary is not None and str(primary.get("hostname")) in names:
        return
    where = str(primary.get("hostname")) if primary is not None else "no attached backend"
    report.findings.append(
        Finding(
            CRITICAL,
            source,
            "primary",
            f"Pgpool-II's primary is {where}, not the leader ({leader.name or leader.host})",
            "Writes through Pgpool-II fail as read-only or find no primary. With "
            "pgpool_follow_patroni the follower corrects it within seconds: journalctl -u "
            "poolkit-pgpool-follow; without it, playbooks/pgpool-attach.yml or pcp_promote_node.",
        )
    )
