"""poolkit.status: SHOW rows in, findings and an exit code out (one behaviour per test).
The rows are shaped like PgBouncer 1.24's and Pgpool-II 4.6's (column names measured in the
lab); the molecule scenarios run the command against the real services."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime, timedelta

import pytest

from poolkit import PoolkitError
from poolkit import status as st
from poolkit.cli import main

NOW = datetime(2026, 11, 21, 12, 0, 0, tzinfo=UTC)
SRC = "pgbouncer 10.0.0.7:6432"


def ago(seconds: float) -> str:
    return (NOW - timedelta(seconds=seconds)).strftime("%Y-%m-%d %H:%M:%S UTC")


def pool(database="app", user="app", **columns):
    row = {"database": database, "user": user, "cl_active": 0, "cl_waiting": 0,
           "sv_active": 0, "sv_idle": 0, "sv_used": 0, "sv_tested": 0, "sv_login": 0,
           "maxwait": 0, "maxwait_us": 0, "pool_mode": "transaction"}  # fmt: skip
    row.update(columns)
    return row


def client(addr="10.1.0.5", port=40112, app="billing", idle=0.0, linked=True, **columns):
    row = {"database": "app", "user": "app", "state": "active", "addr": addr, "port": port,
           "request_time": ago(idle), "link": "0x55" if linked else "",
           "application_name": app}  # fmt: skip
    row.update(columns)
    return row


DATABASES = [{"name": "app", "pool_size": 4, "reserve_pool_size": 1}]
CONFIG = [{"key": "max_client_conn", "value": "100"}, {"key": "pool_mode", "value": "session"}]


def bouncer(pools=None, clients=(), databases=DATABASES, config=CONFIG, **thresholds):
    report = st.Report(checked_at=NOW)
    st.pgbouncer_report(
        report,
        SRC,
        pools=[pool()] if pools is None else pools,
        clients=list(clients),
        databases=databases,
        config=config,
        thresholds=st.Thresholds(**thresholds),
    )
    return report


def severities(report):
    return [(f.severity, f.subject) for f in report.findings]


# ------------------------------------------------------------------------- PgBouncer


def test_a_quiet_pool_is_ok():
    report = bouncer()
    assert (report.severity, report.exit_code, report.findings) == ("ok", 0, [])


def test_waiting_clients_below_the_critical_wait_warn():
    report = bouncer([pool(cl_waiting=3, sv_active=5, maxwait=2)])
    assert severities(report) == [("warning", "pool app/app")]
    assert "3 client(s) waiting" in report.findings[0].message
    assert report.exit_code == 1


def test_waiting_clients_past_the_critical_wait_are_critical():
    report = bouncer([pool(cl_waiting=3, sv_active=5, maxwait=5, maxwait_us=200_000)])
    assert severities(report) == [("critical", "pool app/app")]
    assert "longest 5.2 s" in report.findings[0].message
    assert report.exit_code == 2


def test_the_wait_threshold_is_configurable():
    report = bouncer([pool(cl_waiting=1, maxwait=2)], wait_critical=1)
    assert report.severity == "critical"


def test_capacity_is_pool_size_plus_reserve():
    (usage,) = bouncer().pools[SRC]
    assert usage.capacity == 5


def test_waiting_behind_another_users_pool_names_max_db_connections():
    databases = [{"name": "app", "pool_size": 4, "reserve_pool_size": 2, "max_connections": 6,
                  "current_connections": 6}]  # fmt: skip
    pools = [pool(sv_active=6), pool(user="health", cl_waiting=2, maxwait=1)]
    report = bouncer(pools, databases=databases)
    (finding,) = [f for f in report.findings if f.subject == "pool app/health"]
    assert "the database is at max_db_connections 6 (6 server connections" in finding.message


def test_a_pool_at_ninety_percent_warns():
    databases = [{"name": "app", "pool_size": 4, "reserve_pool_size": 0}]
    report = bouncer([pool(sv_active=4, sv_idle=1)], databases=databases)
    assert severities(report) == [("warning", "pool app/app")]
    assert "4 of 4 server connections in use" in report.findings[0].message


def test_idle_and_used_server_connections_are_free():
    report = bouncer([pool(sv_active=1, sv_idle=2, sv_used=2)])
    (usage,) = report.pools[SRC]
    assert usage.servers_in_use == 1
    assert report.findings == []


def test_a_client_holding_a_server_without_requests_is_a_leak_suspect():
    report = bouncer([pool(cl_active=1, sv_active=1)], [client(idle=42)])
    (finding,) = report.findings
    assert (finding.severity, finding.subject) == ("warning", "pool app/app")
    assert finding.message.startswith("1 leak suspect: client holding a server connection")
    assert finding.details == ("10.1.0.5:40112  billing  42.0 s",)


def test_leak_suspects_of_a_pool_are_one_finding_longest_first():
    clients = [client(port=1, idle=20), client(port=2, app="", idle=90)]
    (finding,) = bouncer([pool(cl_active=2, sv_active=2)], clients).findings
    assert finding.message.startswith("2 leak suspects: clients holding")
    assert finding.details == (
        "10.1.0.5:2  (no application_name)  90.0 s",
        "10.1.0.5:1  billing  20.0 s",
    )


def test_a_leak_suspect_is_critical_while_clients_wait():
    report = bouncer([pool(cl_active=1, cl_waiting=2, sv_active=1, maxwait=1)], [client(idle=42)])
    assert [f.severity for f in report.findings] == ["warning", "critical"]
    assert "leak suspect" in report.findings[1].message


def test_a_recent_request_is_not_a_leak():
    assert bouncer([pool(sv_active=1)], [client(idle=3)]).findings == []


def test_a_client_without_a_server_is_not_a_leak():
    assert bouncer([pool()], [client(idle=600, linked=False)]).findings == []


def test_the_leak_threshold_is_configurable():
    report = bouncer([pool(sv_active=1)], [client(idle=3)], leak_after=2)
    assert "leak suspect" in report.findings[0].message


def test_session_mode_holding_a_server_is_normal_until_clients_wait():
    quiet = bouncer([pool(pool_mode="session", sv_active=1)], [client(idle=600)])
    assert quiet.findings == []
    waiting = bouncer([pool(pool_mode="session", sv_active=1, cl_waiting=1)], [client(idle=600)])
    assert any("leak suspect" in f.message for f in waiting.findings)


def test_the_admin_console_pool_is_not_reported():
    report = bouncer([pool(database="pgbouncer", user="pgbouncer", cl_waiting=9, maxwait=99)])
    assert report.pools[SRC] == []
    assert report.findings == []


@pytest.mark.parametrize(("connected", "expected"), [(79, []), (80, ["warning"]),
                                                     (95, ["critical"])])  # fmt: skip
def test_client_connections_against_max_client_conn(connected, expected):
    clients = [client(port=n, linked=False) for n in range(connected)]
    report = bouncer([pool()], clients)
    assert [f.severity for f in report.findings] == expected
    assert f"{connected} client connections of max_client_conn 100" in report.summaries[0]


def test_pool_mode_falls_back_to_the_global_setting():
    row = pool()
    del row["pool_mode"]
    (usage,) = bouncer([row]).pools[SRC]
    assert usage.pool_mode == "session"


def test_a_malformed_count_names_the_column():
    with pytest.raises(PoolkitError, match="cl_waiting: 'many' is not a whole number"):
        bouncer([pool(cl_waiting="many")])


# ------------------------------------------------------------------------- Pgpool-II


def node(node_id, status="up", role="standby", pg_status="up", pg_role=None):
    return {"node_id": str(node_id), "hostname": f"pg{node_id}", "port": "5432",
            "status": status, "role": role, "pg_status": pg_status,
            "pg_role": pg_role or role}  # fmt: skip


def child(pid, status="Wait for connection", database="", username=""):
    return {"pool_pid": str(pid), "status": status, "database": database, "username": username}


def pgpool(nodes, processes=(), **thresholds):
    report = st.Report(checked_at=NOW)
    st.pgpool_report(
        report,
        "pgpool 10.0.0.7:9999",
        nodes=nodes,
        processes=list(processes),
        thresholds=st.Thresholds(**thresholds),
    )
    return report


def test_all_backends_up_is_ok():
    report = pgpool([node(0, role="primary"), node(1)], [child(1), child(2)])
    assert report.findings == []
    assert report.summaries == [
        "pgpool 10.0.0.7:9999: 2 of 2 backends up; 0 of 2 frontend slots in use (0%)"
    ]


def test_a_detached_standby_warns_and_says_to_attach():
    report = pgpool([node(0, role="primary"), node(1, status="down", pg_status="down")])
    (finding,) = report.findings
    assert (finding.severity, finding.subject) == ("warning", "node 1 (standby)")
    assert "pgpool-attach.yml" in finding.advice


def test_a_detached_primary_is_critical_even_when_pgpool_calls_it_standby():
    # Measured in the lab: a stale pgpool_status left pg1 down, role 'standby', pg_role primary.
    report = pgpool([node(0, status="down", role="standby", pg_role="primary"), node(1)])
    assert ("critical", "node 0 (primary)") in severities(report)
    assert ("critical", "primary") in severities(report)
    assert "PostgreSQL there answers" in report.findings[0].message


def test_a_stopped_standby_keeps_pgpools_role_when_postgresql_says_unknown():
    # Measured on 4.3.5 and 4.6.1: a stopped node shows pg_status down, pg_role unknown.
    stopped = node(1, status="down", role="standby", pg_status="down", pg_role="unknown")
    report = pgpool([node(0, role="primary"), stopped])
    assert severities(report) == [("warning", "node 1 (standby)")]


def test_every_backend_down_is_critical():
    report = pgpool([node(0, status="down", pg_status="down")])
    assert report.severity == "critical"


def test_frontend_slots_at_ninety_percent_warn():
    busy = [child(n, status="Idle", database="app", username="app") for n in range(9)]
    report = pgpool([node(0, role="primary")], [*busy, child(99)])
    assert severities(report) == [("warning", "frontend slots")]


def test_every_frontend_slot_busy_is_critical():
    busy = [child(n, status="Execute command") for n in range(4)]
    assert pgpool([node(0, role="primary")], busy).severity == "critical"


def test_a_child_idle_in_transaction_is_a_leak_suspect():
    report = pgpool(
        [node(0, role="primary")],
        [child(1, status="Idle in transaction", database="app", username="app")]
        + [child(n) for n in range(2, 10)],
    )
    (finding,) = report.findings
    assert "leak suspect: child 1 is idle in transaction (app@app)" in finding.message


def test_children_without_a_status_column_count_by_their_session():
    rows = [{"pool_pid": "1", "database": "app", "username": "app"}, {"pool_pid": "2"}]
    report = pgpool([node(0, role="primary")], rows)
    assert "1 of 2 frontend slots in use (50%)" in report.summaries[0]


# ------------------------------------------------------------------------- values, output


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"leak_after": -1}, "--leak-after: -1; expected seconds >= 0"),
        ({"pool_full": 1.5}, "--pool-full: 1.5; expected a fraction in (0, 1]"),
        ({"clients_warning": 0.99}, "--clients-warning 0.99 is above --clients-critical 0.95"),
    ],
)
def test_thresholds_are_checked(changes, message):
    with pytest.raises(PoolkitError, match=message.replace("(", r"\(").replace("]", r"\]")):
        st.Thresholds(**changes)


def test_console_times_are_read_as_utc():
    assert st.parse_time("2026-11-21 12:41:47 UTC") == datetime(2026, 11, 21, 12, 41, 47,
                                                                 tzinfo=UTC)  # fmt: skip


def test_a_malformed_time_is_refused():
    with pytest.raises(PoolkitError, match="time 'yesterday'"):
        st.parse_time("yesterday")


def test_text_report_lists_findings_then_the_pool_table():
    text = st.render_text(bouncer([pool(cl_waiting=3, sv_active=5, maxwait=9)], [client(idle=42)]))
    assert text.startswith("poolkit status: CRITICAL at 2026-11-21 12:00:00 UTC")
    assert text.index("CRITICAL  pool app/app") < text.index("Pools of pgbouncer 10.0.0.7:6432")
    assert "app/app        transaction  0/3" in text


def test_json_report_carries_status_exit_code_and_findings():
    data = json.loads(st.render_json(bouncer([pool(cl_waiting=1, maxwait=1)])))
    assert (data["status"], data["exit_code"]) == ("warning", 1)
    assert data["findings"][0]["subject"] == "pool app/app"
    assert data["pools"][SRC][0]["capacity"] == 5


# ------------------------------------------------------------------------- CLI


def test_cli_needs_an_endpoint(capsys):
    assert main(["status"]) == 2
    assert "nothing to check: give --pgbouncer CONNINFO" in capsys.readouterr().err


def test_cli_refuses_a_malformed_conninfo(capsys):
    assert main(["status", "--pgbouncer", "host"]) == 2
    assert "--pgbouncer 'host': not a libpq connection string" in capsys.readouterr().err


def test_cli_reports_an_unreachable_endpoint_as_critical(capsys):
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code = main(["status", "--json", "--pgbouncer", f"host=127.0.0.1 port={port} user=x"])
    data = json.loads(capsys.readouterr().out)
    assert code == 2
    assert data["findings"][0]["subject"] == "connection"
    assert data["findings"][0]["source"] == f"pgbouncer 127.0.0.1:{port}"
