"""`poolkit status`: ask PgBouncer's admin console and Pgpool-II, print what is wrong.

All I/O lives here: connecting (libpq connection strings; passwords from PGPASSWORD,
~/.pgpass or the string), running the SHOW commands, printing, and the exit code. The
reading of the rows is `poolkit.status`.

Exit status: 0 ok, 1 warning, 2 critical (also when an endpoint cannot be reached), so the
command works as a health check for load balancers and cron.
"""

from __future__ import annotations

import json
import ssl
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from poolkit import PoolkitError, advisories, cluster_status
from poolkit.cli._console import show
from poolkit.cli.follow import ask
from poolkit.status import (
    CRITICAL,
    Finding,
    Report,
    Thresholds,
    advisory_report,
    pgbouncer_report,
    pgpool_report,
    render_json,
    render_text,
)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "status",
        help="diagnose PgBouncer and Pgpool-II: waiting clients, full pools, leak suspects",
        description=(
            "Read PgBouncer's admin console (SHOW POOLS, CLIENTS, DATABASES, CONFIG; a "
            "stats_users member is enough) and Pgpool-II (SHOW POOL_NODES, POOL_PROCESSES) "
            "and report per pool utilisation, waiting clients, the longest wait and leak "
            "suspects, with advice. Exit status 0 ok, 1 warning, 2 critical."
        ),
    )
    parser.add_argument(
        "--pgbouncer",
        action="append",
        default=[],
        metavar="CONNINFO",
        help="libpq connection string of a PgBouncer process, e.g. 'host=10.0.0.7 "
        "port=6432 user=pgbouncer_monitor' (dbname defaults to pgbouncer); repeatable",
    )
    parser.add_argument(
        "--pgpool",
        action="append",
        default=[],
        metavar="CONNINFO",
        help="libpq connection string of a Pgpool-II, e.g. 'host=10.0.0.7 port=9999 "
        "user=app dbname=app'; repeatable",
    )
    parser.add_argument(
        "--patroni",
        action="append",
        default=[],
        metavar="URL",
        help="a Patroni REST API, e.g. https://pg1:8008: report the cluster's leader and "
        "members, and whether every PgBouncer and follower points at the leader; repeatable",
    )
    parser.add_argument(
        "--patroni-ca",
        default="",
        metavar="FILE",
        help="CA certificate that signed the REST APIs' certificates (default: the system's)",
    )
    parser.add_argument(
        "--follow-state",
        action="append",
        default=[],
        metavar="FILE",
        help="a poolkit follow state file (/var/lib/poolkit/pgbouncer-follow.json on a "
        "pooler host): where it points, and whether that is the leader; repeatable",
    )
    parser.add_argument(
        "--lag-warning",
        type=int,
        default=cluster_status.LAG_WARNING,
        metavar="BYTES",
        help=f"replica lag that warns (default {cluster_status.LAG_WARNING})",
    )
    parser.add_argument("--json", action="store_true", help="print JSON for machines")
    parser.add_argument(
        "--accept-advisory",
        action="append",
        default=[],
        metavar="CVE",
        help="an advisory whose risk you accept (reported, not a warning); repeatable",
    )
    defaults = Thresholds()
    for name, unit in (
        ("leak_after", "seconds a client may hold a server connection without a request"),
        ("wait_critical", "seconds of the longest client wait that make a pool critical"),
        ("pool_full", "fraction of pool_size + reserve_pool_size in use that warns"),
        ("clients_warning", "fraction of max_client_conn connected that warns"),
        ("clients_critical", "fraction of max_client_conn connected that is critical"),
        ("frontend_warning", "fraction of Pgpool-II children busy that warns"),
    ):
        parser.add_argument(
            f"--{name.replace('_', '-')}",
            type=float,
            default=getattr(defaults, name),
            help=f"{unit} (default {getattr(defaults, name):g})",
        )
    parser.add_argument(
        "--connect-timeout",
        type=int,
        default=5,
        help="seconds to wait for each connection (default 5)",
    )
    parser.set_defaults(handler=run)


def run(args) -> int:
    if not (args.pgbouncer or args.pgpool or args.patroni or args.follow_state):
        raise PoolkitError(
            "nothing to check: give --pgbouncer CONNINFO (a PgBouncer admin console), "
            "--pgpool CONNINFO, --patroni URL and/or --follow-state FILE, e.g. --pgbouncer "
            "'host=127.0.0.1 port=6432 user=stats'"
        )
    for url in args.patroni:
        if not url.startswith(("http://", "https://")):
            raise PoolkitError(
                f"--patroni {url!r}: not a Patroni REST API URL; expected e.g. https://pg1:8008"
            )
    if args.lag_warning < 0:
        raise PoolkitError(f"--lag-warning {args.lag_warning}: expected bytes >= 0")
    thresholds = Thresholds(
        wait_critical=args.wait_critical,
        leak_after=args.leak_after,
        pool_full=args.pool_full,
        clients_warning=args.clients_warning,
        clients_critical=args.clients_critical,
        frontend_warning=args.frontend_warning,
    )
    report = Report(checked_at=datetime.now(UTC).replace(microsecond=0))
    for unknown in advisories.unknown_accepted(None, args.accept_advisory):
        ids = ", ".join(a.id for a in advisories.ADVISORIES)
        raise PoolkitError(f"--accept-advisory {unknown}: not an advisory poolkit knows ({ids})")
    answers, leader = [], None
    if args.patroni:
        answers = _ask_patroni(args.patroni, args.patroni_ca, args.connect_timeout)
        leader = cluster_status.cluster_report(report, answers, args.lag_warning)
    read_only: set[str] = set()  # the followers' `follow: replicas` databases
    for path in args.follow_state:
        state = _read_state(path)
        cluster_status.follower_report(report, path, state, leader, time.time())
        read_only.update(map(str, (state or {}).get("replica_databases") or []))
    for conninfo in args.pgbouncer:
        _check(
            report,
            "pgbouncer",
            conninfo,
            args.connect_timeout,
            thresholds,
            args.accept_advisory,
            (answers, leader, read_only),
        )
    for conninfo in args.pgpool:
        _check(
            report,
            "pgpool",
            conninfo,
            args.connect_timeout,
            thresholds,
            args.accept_advisory,
            (answers, leader, read_only),
        )
    sys.stdout.write(render_json(report) if args.json else render_text(report))
    return report.exit_code


def _ask_patroni(urls: list[str], ca_file: str, timeout: int) -> list:
    try:
        context = ssl.create_default_context(cafile=ca_file or None)
    except OSError as exc:
        raise PoolkitError(f"--patroni-ca {ca_file!r}: cannot read it ({exc})") from None
    with ThreadPoolExecutor(max_workers=len(urls)) as pool:
        return list(pool.map(lambda url: ask(url.rstrip("/"), context, timeout), urls))


def _read_state(path: str) -> dict | None:
    try:
        with open(path) as handle:
            state = json.load(handle)
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) else None


def _check(
    report: Report,
    kind: str,
    conninfo: str,
    timeout: int,
    thresholds,
    accepted=(),
    cluster=((), None, ()),
) -> None:
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    try:
        params = conninfo_to_dict(conninfo)
    except psycopg.ProgrammingError as exc:
        raise PoolkitError(
            f"--{kind} {conninfo!r}: not a libpq connection string ({exc}); expected e.g. "
            "'host=127.0.0.1 port=6432 user=stats'"
        ) from None
    if kind == "pgbouncer":
        params.setdefault("dbname", "pgbouncer")
    params.setdefault("connect_timeout", timeout)
    params.setdefault("application_name", "poolkit-status")
    source = f"{kind} {params.get('host', 'localhost')}:{params.get('port', 5432)}"
    try:
        with psycopg.connect(autocommit=True, prepare_threshold=None, **params) as conn:
            if kind == "pgbouncer":
                config = show(conn, "SHOW CONFIG")
                databases = show(conn, "SHOW DATABASES")
                pgbouncer_report(
                    report,
                    source,
                    pools=show(conn, "SHOW POOLS"),
                    clients=show(conn, "SHOW CLIENTS"),
                    databases=databases,
                    config=config,
                    thresholds=thresholds,
                )
                cluster_status.pgbouncer_leader_report(report, source, databases, *cluster)
                version = show(conn, "SHOW VERSION")[0]["version"] or ""
                settings = {str(row["key"]): str(row["value"] or "") for row in config}
            else:
                nodes = show(conn, "SHOW POOL_NODES")
                pgpool_report(
                    report,
                    source,
                    nodes=nodes,
                    processes=show(conn, "SHOW POOL_PROCESSES"),
                    thresholds=thresholds,
                )
                cluster_status.pgpool_leader_report(report, source, nodes, cluster[1])
                version = show(conn, "SHOW POOL_VERSION")[0]["pool_version"] or ""
                settings = {
                    str(row["item"]): str(row["value"] or "")
                    for row in show(conn, "PGPOOL SHOW ALL")
                }
            advisory_report(report, source, kind, _release(version), settings, accepted)
    except psycopg.Error as exc:
        message = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        report.sources.append(source)
        report.findings.append(
            Finding(
                CRITICAL,
                source,
                "connection",
                f"cannot query it: {message}",
                "Is the service up and listening there (systemctl status, ss -ltn)? For "
                "PgBouncer the user must be in admin_users or stats_users; the password "
                "comes from PGPASSWORD, ~/.pgpass or the connection string.",
            )
        )


def _release(text: str) -> str:
    """ "1.24.1" from "PgBouncer 1.24.1" or "4.6.1 (kiyoshigahama)"."""
    words = [word for word in text.split() if word[:1].isdigit()]
    return words[0] if words else text
