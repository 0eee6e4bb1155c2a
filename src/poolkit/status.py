"""`poolkit status`: what PgBouncer's admin console and Pgpool-II's SHOW commands say,
turned into findings an on-call engineer can act on, with an exit code.

Pure functions: the CLI (poolkit/cli/status.py) runs the SHOW commands and passes their rows
here as ``{column: value}`` mappings, with the time to measure ages against. Columns are read
by name, so the rows of PgBouncer 1.18 and 1.24 (which adds columns) and of Pgpool-II 4.3 and
4.6 all fit; a column a version lacks is simply not used.

Findings and their severity (exit code 0 ok, 1 warning, 2 critical):

* **clients waiting** in a pool (SHOW POOLS cl_waiting, maxwait): critical once the longest
  wait reaches ``wait_critical`` seconds, a warning before that: every server connection of
  the pool is busy and clients queue (PgBouncer disconnects them at query_wait_timeout).
* **pool nearly full**: server connections in use (sv_active + sv_tested + sv_login;
  sv_idle and sv_used are free) at or above ``pool_full`` (90 %) of pool_size +
  reserve_pool_size (SHOW DATABASES): a warning.
* **leak suspects**: a client holding a server connection (SHOW CLIENTS state active with a
  link) whose last request is older than ``leak_after`` seconds. In transaction and statement
  mode a client keeps a server only inside a transaction, so this is a transaction left open
  (idle in transaction) or a query that long. A warning, critical while the same pool has
  clients waiting (the leak is what they wait for). In session mode holding a server is
  normal: only reported while the pool has clients waiting.
* **client connections** (SHOW CLIENTS count against SHOW CONFIG max_client_conn): a
  warning from ``clients_warning`` (80 %), critical from ``clients_critical`` (95 %): new
  clients are refused at 100 %.
* Pgpool-II **backend down** (SHOW POOL_NODES status down): critical for the primary (or
  every node down), a warning for a standby (reads go elsewhere); **frontend slots**
  (SHOW POOL_PROCESSES: children serving a client against num_init_children): a warning
  from ``frontend_warning`` (90 %), critical when every child is busy (new clients queue in
  the listen backlog); children **idle in transaction** longer than ``leak_after`` are leak
  suspects (a warning).
* **advisories** (SHOW VERSION / SHOW POOL_VERSION with SHOW CONFIG / PGPOOL SHOW ALL): a
  warning per advisory of `poolkit.advisories` the running release is vulnerable to with the
  settings it runs, unless accepted (``--accept-advisory``). The console shows the release,
  not the package: a fix Debian backported into the running release is named in the summary,
  not warned about. Hba rules
  are not visible, so advisories that need a pool_hba.conf rule count as not exploitable.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from poolkit import PoolkitError, advisories

OK, WARNING, CRITICAL = "ok", "warning", "critical"
SEVERITIES = (OK, WARNING, CRITICAL)
EXIT_CODES = {OK: 0, WARNING: 1, CRITICAL: 2}


@dataclass(frozen=True)
class Thresholds:
    """When a figure becomes a warning or critical finding (seconds, or fractions)."""

    wait_critical: float = 5.0
    leak_after: float = 10.0
    pool_full: float = 0.9
    clients_warning: float = 0.8
    clients_critical: float = 0.95
    frontend_warning: float = 0.9

    def __post_init__(self) -> None:
        problems = []
        for name in ("wait_critical", "leak_after"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                problems.append(f"--{name.replace('_', '-')}: {value!r}; expected seconds >= 0")
        for name in ("pool_full", "clients_warning", "clients_critical", "frontend_warning"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0 < value <= 1:
                problems.append(
                    f"--{name.replace('_', '-')}: {value!r}; expected a fraction in (0, 1]"
                )
        if not problems and self.clients_warning > self.clients_critical:
            problems.append(
                f"--clients-warning {self.clients_warning} is above --clients-critical "
                f"{self.clients_critical}"
            )
        if problems:
            raise PoolkitError("\n".join(problems))


@dataclass(frozen=True)
class Finding:
    severity: str
    source: str  # "pgbouncer 127.0.0.1:6432" or "pgpool ..."
    subject: str  # "pool app/app", "client connections", "node 1 (standby)"
    message: str
    advice: str
    details: tuple[str, ...] = ()  # one line per item (the leak suspects: client, app, age)


@dataclass
class PoolUsage:
    """One PgBouncer pool, as the report's table shows it."""

    database: str
    user: str
    pool_mode: str
    clients_active: int
    clients_waiting: int
    servers_active: int
    servers_idle: int
    servers_used: int
    servers_in_use: int
    capacity: int | None  # pool_size + reserve_pool_size (None: unknown)
    max_wait: float
    leak_suspects: list[dict[str, Any]] = field(default_factory=list)

    @property
    def utilisation(self) -> float | None:
        if not self.capacity:
            return None
        return self.servers_in_use / self.capacity


@dataclass
class Report:
    checked_at: datetime
    sources: list[str] = field(default_factory=list)
    pools: dict[str, list[PoolUsage]] = field(default_factory=dict)
    summaries: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def severity(self) -> str:
        return worst(f.severity for f in self.findings)

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.severity]


def worst(severities: Iterable[str]) -> str:
    found = set(severities)
    for severity in (CRITICAL, WARNING):
        if severity in found:
            return severity
    return OK


# ------------------------------------------------------------------------- values


def _int(row: Mapping[str, Any], key: str) -> int:
    value = row.get(key)
    if value in (None, ""):
        return 0
    try:
        return int(value)
    except (TypeError, ValueError):
        raise PoolkitError(f"{key}: {value!r} is not a whole number") from None


def parse_time(value: Any) -> datetime | None:
    """A PgBouncer console time ('2026-11-21 12:41:47 UTC') or a datetime, as aware UTC."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    text = str(value).strip()
    for fmt in ("%Y-%m-%d %H:%M:%S %Z", "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise PoolkitError(f"time {text!r}: expected 'YYYY-MM-DD HH:MM:SS UTC' as PgBouncer prints")


def _seconds(text: str | float) -> str:
    return f"{float(text):.1f} s"


def _pct(fraction: float) -> str:
    return f"{fraction * 100:.0f}%"


# ------------------------------------------------------------------------- PgBouncer


#: SHOW POOLS columns of server connections that are taken: linked to a client (active),
#: running the reset or check query (tested), or logging in. sv_idle and sv_used (idle
#: longer than server_check_delay) are free for the next client.
_IN_USE = ("sv_active", "sv_tested", "sv_login")


def _max_wait(row: Mapping[str, Any]) -> float:
    return _int(row, "maxwait") + _int(row, "maxwait_us") / 1_000_000


def _capacities(databases: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """pool_size + reserve_pool_size of each [databases] entry (SHOW DATABASES)."""
    return {
        str(row["name"]): _int(row, "pool_size") + _int(row, "reserve_pool_size")
        for row in databases
        if row.get("name") is not None
    }


def _database_caps(databases: Sequence[Mapping[str, Any]]) -> dict[str, tuple[int, int]]:
    """(current_connections, max_connections) of each [databases] entry whose
    max_db_connections is set (SHOW DATABASES max_connections > 0): the cap shared by all
    the users' pools of that database."""
    return {
        str(row["name"]): (_int(row, "current_connections"), _int(row, "max_connections"))
        for row in databases
        if row.get("name") is not None and _int(row, "max_connections") > 0
    }


def _config(rows: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    return {str(row["key"]): row.get("value") for row in rows if "key" in row}


def pgbouncer_report(
    report: Report,
    source: str,
    *,
    pools: Sequence[Mapping[str, Any]],
    clients: Sequence[Mapping[str, Any]],
    databases: Sequence[Mapping[str, Any]],
    config: Sequence[Mapping[str, Any]],
    thresholds: Thresholds,
) -> None:
    """Add one PgBouncer process's pools, summary and findings to `report`."""
    now = report.checked_at
    capacity = _capacities(databases)
    caps = _database_caps(databases)
    settings = _config(config)
    usages: list[PoolUsage] = []
    for row in pools:
        database, user = str(row.get("database")), str(row.get("user"))
        if database == "pgbouncer":  # the admin console's own pseudo-pool
            continue
        usage = PoolUsage(
            database=database,
            user=user,
            pool_mode=str(row.get("pool_mode") or settings.get("pool_mode") or "?"),
            clients_active=_int(row, "cl_active"),
            clients_waiting=_int(row, "cl_waiting"),
            servers_active=_int(row, "sv_active"),
            servers_idle=_int(row, "sv_idle"),
            servers_used=_int(row, "sv_used"),
            servers_in_use=sum(_int(row, k) for k in _IN_USE),
            capacity=capacity.get(database),
            max_wait=_max_wait(row),
        )
        usages.append(usage)
    by_pool = {(u.database, u.user): u for u in usages}

    for client in clients:
        if client.get("state") != "active" or not client.get("link"):
            continue
        usage = by_pool.get((str(client.get("database")), str(client.get("user"))))
        last = parse_time(client.get("request_time"))
        if usage is None or last is None:
            continue
        idle = (now - last).total_seconds()
        if idle < thresholds.leak_after:
            continue
        if usage.pool_mode == "session" and not usage.clients_waiting:
            continue
        usage.leak_suspects.append(
            {
                "client": f"{client.get('addr')}:{client.get('port')}",
                "application_name": client.get("application_name") or "",
                "user": usage.user,
                "database": usage.database,
                "seconds": round(idle, 1),
            }
        )

    findings = report.findings
    for usage in usages:
        subject = f"pool {usage.database}/{usage.user}"
        size = (
            f"{usage.servers_in_use} of {usage.capacity} server connections in use "
            "(pool_size + reserve_pool_size)"
            if usage.capacity
            else f"{usage.servers_in_use} server connections in use"
        )
        if usage.clients_waiting:
            severity = CRITICAL if usage.max_wait >= thresholds.wait_critical else WARNING
            current, cap = caps.get(usage.database, (0, 0))
            if cap and current >= cap and usage.servers_in_use < (usage.capacity or cap):
                size += (
                    f"; the database is at max_db_connections {cap} ({current} server "
                    "connections across all its users' pools), so this pool cannot open more"
                )
            findings.append(
                Finding(
                    severity,
                    source,
                    subject,
                    f"{usage.clients_waiting} client(s) waiting for a server connection, "
                    f"longest {_seconds(usage.max_wait)}; {size}",
                    "Look at the leak suspects below first (a transaction left open keeps "
                    "its server connection). If every server connection runs real work, "
                    "the pool is too small for the load: raise the pool (pooler_topology, "
                    "or pgbouncer_default_pool_size / the database's pool_size; check "
                    "`poolkit size` for the server's budget) or reduce the clients' "
                    "concurrency. Clients are disconnected after query_wait_timeout.",
                )
            )
        elif usage.utilisation is not None and usage.utilisation >= thresholds.pool_full:
            findings.append(
                Finding(
                    WARNING,
                    source,
                    subject,
                    f"{size}, {_pct(usage.utilisation)}: the next burst will queue",
                    "Normal at peaks; if it stays high, size the pool from the current "
                    "load (`poolkit size`) before clients start waiting.",
                )
            )
        if usage.leak_suspects:
            suspects = sorted(usage.leak_suspects, key=lambda x: -x["seconds"])
            count = len(suspects)
            findings.append(
                Finding(
                    CRITICAL if usage.clients_waiting else WARNING,
                    source,
                    subject,
                    f"{count} leak suspect{'s' if count > 1 else ''}: client"
                    f"{'s' if count > 1 else ''} holding a server connection without a "
                    f"request for {_seconds(thresholds.leak_after)} or more",
                    "Probably idle in transaction (or one query that long): find that "
                    "code path by application_name and make it commit or roll back; "
                    "pgbouncer_idle_transaction_timeout (or PostgreSQL's "
                    "idle_in_transaction_session_timeout) cuts such clients off.",
                    tuple(
                        f"{x['client']}  {x['application_name'] or '(no application_name)'}"
                        f"  {_seconds(x['seconds'])}"
                        for x in suspects
                    ),
                )
            )

    connected = len(clients)
    max_client = settings.get("max_client_conn")
    if max_client not in (None, "") and int(max_client) > 0:
        limit = int(max_client)
        ratio = connected / limit
        summary = f"{connected} client connections of max_client_conn {limit} ({_pct(ratio)})"
        if ratio >= thresholds.clients_warning:
            findings.append(
                Finding(
                    CRITICAL if ratio >= thresholds.clients_critical else WARNING,
                    source,
                    "client connections",
                    summary,
                    "New clients are refused at max_client_conn: look for a client that "
                    "opens connections without closing them, or raise it with the "
                    "application topology (`poolkit size` gives max_client_conn and the "
                    "matching file limit).",
                )
            )
    else:
        summary = f"{connected} client connections"
    report.sources.append(source)
    report.pools[source] = usages
    report.summaries.append(f"{source}: {summary}")


# ------------------------------------------------------------------------- advisories


def advisory_report(
    report: Report,
    source: str,
    product: str,
    version: str,
    settings: Mapping[str, str],
    accepted: Iterable[str] = (),
) -> None:
    """Add the advisories the running `version` is vulnerable to with `settings`.

    The console shows the release, not the package: an advisory that a Debian package of
    this very release fixes (1.24.1-1+deb13u2 for PgBouncer 1.24.1) is named in the summary
    as fixed there, not raised as a warning (the roles' preflight checks the package)."""
    release_tuple = advisories.release_of(version)
    release = ".".join(str(part) for part in release_tuple)
    name = advisories.PRODUCTS[product]
    exposed, packaged = [], []
    accepted_ids = []
    for result in advisories.assess(product, release, settings, accepted):
        backport = [
            fixed
            for fixed in result.advisory.debian_fixed
            if advisories.release_of(fixed) == release_tuple
        ]
        if result.state == advisories.ACCEPTED:
            accepted_ids.append(result.advisory.id)
        elif result.state == advisories.EXPOSED and backport:
            packaged.append(f"{result.advisory.id} (Debian {backport[0]})")
        elif result.state == advisories.EXPOSED:
            exposed.append(result)
    summary = f"{source}: {name} {release}, {len(exposed)} advisories exposed"
    if accepted_ids:
        summary += f"; accepted: {', '.join(accepted_ids)}"
    if packaged:
        summary += f"; fixed in Debian's package of this release: {', '.join(packaged)}"
    report.summaries.append(summary)
    for result in exposed:
        adv = result.advisory
        mitigation = f", or set {adv.mitigation}" if adv.mitigation else ""
        report.findings.append(
            Finding(
                WARNING,
                source,
                f"advisory {adv.id}",
                f"{name} {release}: {adv.summary} (exploitable by {adv.attacker}), because"
                f" {result.reason}",
                f"Install {name} {adv.fixed} or newer{mitigation}; or, knowing the risk,"
                f" pass --accept-advisory {adv.id}.",
            )
        )


# ------------------------------------------------------------------------- Pgpool-II

_WAITING_CHILD = "wait for connection"


def pgpool_report(
    report: Report,
    source: str,
    *,
    nodes: Sequence[Mapping[str, Any]],
    processes: Sequence[Mapping[str, Any]],
    thresholds: Thresholds,
) -> None:
    """Add one Pgpool-II's node states, frontend usage and findings to `report`."""
    findings = report.findings
    up = [n for n in nodes if str(n.get("status", "")).lower() in ("up", "waiting")]
    down = [n for n in nodes if str(n.get("status", "")).lower() == "down"]
    for node in down:
        # pg_role / pg_status (4.3+) are what PostgreSQL itself says ("unknown" when it does
        # not answer); role is Pgpool-II's view.
        pg_role = str(node.get("pg_role") or "").lower()
        role = pg_role if pg_role in ("primary", "standby") else str(node.get("role") or "?")
        role = role.lower()
        answers = str(node.get("pg_status", "")).lower() == "up"
        findings.append(
            Finding(
                CRITICAL if role == "primary" or not up else WARNING,
                source,
                f"node {node.get('node_id')} ({role})",
                f"backend {node.get('hostname')}:{node.get('port')} is detached (down)"
                + ("; PostgreSQL there answers" if answers else ""),
                (
                    "PostgreSQL answers, Pgpool-II just does not use it (a health check "
                    "failed earlier, or pgpool_status kept the state over a restart): attach "
                    "it with ansible-playbook playbooks/pgpool-attach.yml."
                    if answers
                    else "Check that PostgreSQL runs there (pg_isready); once it answers, "
                    "attach it with ansible-playbook playbooks/pgpool-attach.yml (Pgpool-II "
                    "does not fail back by itself)."
                )
                + (" Until then writes through Pgpool-II fail." if role == "primary" else ""),
            )
        )
    roles = {str(n.get("role", "")).lower() for n in nodes}
    if (
        up
        and "standby" in roles
        and not any(str(n.get("role", "")).lower() == "primary" for n in up)
    ):
        findings.append(
            Finding(
                CRITICAL,
                source,
                "primary",
                "no attached node is the primary: writes through Pgpool-II fail",
                "Attach the primary (playbooks/pgpool-attach.yml) or promote a standby.",
            )
        )
    children = [p for p in processes if p.get("pool_pid") not in (None, "")]
    pids = {str(p["pool_pid"]) for p in children}
    busy_pids = set()
    idle_in_tx: list[Mapping[str, Any]] = []
    for row in children:
        status = str(row.get("status") or "").strip().lower()
        if status:
            if status != _WAITING_CHILD:
                busy_pids.add(str(row["pool_pid"]))
            if status == "idle in transaction":
                idle_in_tx.append(row)
        elif row.get("database") or row.get("username"):
            # Pgpool-II without a status column: a child with a cached session counts.
            busy_pids.add(str(row["pool_pid"]))
    total = len(pids)
    summary = f"{len(nodes) - len(down)} of {len(nodes)} backends up"
    if total:
        ratio = len(busy_pids) / total
        summary += f"; {len(busy_pids)} of {total} frontend slots in use ({_pct(ratio)})"
        if ratio >= thresholds.frontend_warning:
            findings.append(
                Finding(
                    CRITICAL if len(busy_pids) >= total else WARNING,
                    source,
                    "frontend slots",
                    f"{len(busy_pids)} of {total} Pgpool-II children serve a client "
                    f"({_pct(ratio)}); when all are busy new clients wait in the listen queue",
                    "Raise pgpool_num_init_children within the backends' budget "
                    "(`poolkit size`; the role's preflight checks it), or put PgBouncer in "
                    "front for clients that hold connections idle.",
                )
            )
    for row in idle_in_tx:
        findings.append(
            Finding(
                WARNING,
                source,
                "frontend slots",
                f"leak suspect: child {row.get('pool_pid')} is idle in transaction "
                f"({row.get('username')}@{row.get('database')})",
                "A client left a transaction open through Pgpool-II: find it by user and "
                "database; PostgreSQL's idle_in_transaction_session_timeout cuts it off.",
            )
        )
    report.sources.append(source)
    report.summaries.append(f"{source}: {summary}")


# ------------------------------------------------------------------------- output


def render_text(report: Report) -> str:
    stamp = report.checked_at.strftime("%Y-%m-%d %H:%M:%S UTC")
    lines = [f"poolkit status: {report.severity.upper()} at {stamp}"]
    lines += [f"  {summary}" for summary in report.summaries]
    order = {CRITICAL: 0, WARNING: 1}
    findings = sorted(report.findings, key=lambda f: order.get(f.severity, 2))
    if findings:
        lines.append("")
        for finding in findings:
            lines.append(f"{finding.severity.upper():9} {finding.subject} ({finding.source})")
            lines.append(f"          {finding.message}")
            lines += [f"            {detail}" for detail in finding.details]
            lines.append(f"          advice: {finding.advice}")
    else:
        lines.append("\nNo finding: no client waits, no pool near full, no leak suspect.")
    for source, usages in report.pools.items():
        if not usages:
            continue
        lines += ["", f"Pools of {source}"]
        header = ("database/user", "mode", "clients act/wait", "servers act/idle/used",
                  "in use/capacity", "max wait")  # fmt: skip
        rows = [header]
        for u in usages:
            capacity = (
                f"{u.servers_in_use}/{u.capacity} ({_pct(u.utilisation or 0)})"
                if u.capacity
                else f"{u.servers_in_use}/?"
            )
            rows.append(
                (
                    f"{u.database}/{u.user}",
                    u.pool_mode,
                    f"{u.clients_active}/{u.clients_waiting}",
                    f"{u.servers_active}/{u.servers_idle}/{u.servers_used}",
                    capacity,
                    _seconds(u.max_wait),
                )
            )
        widths = [max(len(str(r[i])) for r in rows) for i in range(len(header))]
        for row in rows:
            cells = (str(cell).ljust(width) for cell, width in zip(row, widths, strict=True))
            lines.append(("  " + "  ".join(cells)).rstrip())
    return "\n".join(lines) + "\n"


def render_json(report: Report) -> str:
    data = {
        "status": report.severity,
        "exit_code": report.exit_code,
        "checked_at": report.checked_at.isoformat(),
        "summaries": report.summaries,
        "findings": [asdict(f) for f in report.findings],
        "pools": {
            source: [{**asdict(u), "utilisation": u.utilisation} for u in usages]
            for source, usages in report.pools.items()
        },
    }
    return json.dumps(data, indent=2, sort_keys=False) + "\n"
