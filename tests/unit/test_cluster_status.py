"""`poolkit status` for a Patroni cluster: poolkit.cluster_status's findings, and the CLI
against a real HTTP server answering like Patroni's /cluster and real state files."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest

from poolkit.cli import main
from poolkit.cluster_status import (
    cluster_report,
    follower_report,
    pgbouncer_leader_report,
    pgpool_leader_report,
)
from poolkit.follower import Answer, Target
from poolkit.status import CRITICAL, WARNING, Report

MEMBERS = [
    {"name": "pg1", "role": "leader", "state": "running", "host": "10.0.0.1", "port": 5432},
    {"name": "pg2", "role": "replica", "state": "streaming", "host": "10.0.0.2", "port": 5432,
     "lag": 0},
    {"name": "pg3", "role": "replica", "state": "streaming", "host": "10.0.0.3", "port": 5432,
     "lag": 4096},
]  # fmt: skip
LEADER = Target("10.0.0.1", 5432, "pg1")


def report() -> Report:
    return Report(checked_at=datetime(2026, 11, 30, tzinfo=UTC))


def answers(members=MEMBERS, n=3):
    return [Answer(f"https://pg{i}:8008", {"members": members}) for i in range(1, n + 1)]


def findings(rep, severity=None):
    return [(f.subject, f.message) for f in rep.findings if severity in (None, f.severity)]


def test_a_healthy_cluster_has_no_finding_and_names_its_members():
    rep = report()
    assert cluster_report(rep, answers()) == LEADER
    assert findings(rep) == []
    assert rep.summaries == [
        "Patroni cluster: leader pg1; pg1 leader running; pg2 replica streaming lag 0 B; "
        "pg3 replica streaming lag 4.0 KiB"
    ]


def test_no_running_leader_is_critical():
    members = [{**MEMBERS[0], "state": "starting"}, *MEMBERS[1:]]
    rep = report()
    assert cluster_report(rep, answers(members)) is None
    assert findings(rep, CRITICAL) == [
        ("cluster leader", "no running leader: the cluster has no running leader")
    ]


def test_a_member_that_neither_runs_nor_streams_and_a_lagging_one_warn():
    members = [MEMBERS[0], {**MEMBERS[1], "state": "stopped"}, {**MEMBERS[2], "lag": 50 << 20}]
    rep = report()
    cluster_report(rep, answers(members))
    assert findings(rep, WARNING) == [
        ("member pg2", "is stopped (replica)"),
        ("member pg3", "lags 50.0 MiB behind the leader (warning above 16.0 MiB)"),
    ]


def test_an_endpoint_that_does_not_answer_warns_and_the_majority_still_names_the_leader():
    rep = report()
    replies = [*answers(n=2), Answer("https://pg3:8008", None, "connection refused")]
    assert cluster_report(rep, replies) == LEADER
    assert findings(rep, WARNING) == [
        ("endpoint https://pg3:8008", "does not answer GET /cluster: connection refused")
    ]


def state(target="10.0.0.1", healthy=True, age=1.0, reason="leader 10.0.0.1:5432 (pg1)"):
    return {
        "target_host": target,
        "healthy": healthy,
        "reason": reason,
        "checked_at": 1000.0 - age,
    }


def test_a_follower_pointing_at_the_leader_has_no_finding():
    rep = report()
    follower_report(rep, "f.json", state(), LEADER, now=1000.0)
    assert findings(rep) == []
    assert rep.summaries == ["follower f.json: points at 10.0.0.1"]


def test_a_follower_pointing_at_a_replica_is_critical():
    rep = report()
    follower_report(rep, "f.json", state(target="10.0.0.2"), LEADER, now=1000.0)
    assert findings(rep, CRITICAL) == [
        ("follower target", "points at 10.0.0.2, not at the leader pg1")
    ]


def test_a_follower_that_stopped_checking_is_critical():
    rep = report()
    follower_report(rep, "f.json", state(age=30), LEADER, now=1000.0)
    assert findings(rep, CRITICAL) == [("follower", "has not checked the cluster for 30 s")]


def test_a_follower_keeping_its_target_warns_with_its_reason():
    rep = report()
    follower_report(
        rep, "f.json", state(healthy=False, reason="no Patroni endpoint answered"), LEADER, 1000.0
    )
    assert findings(rep, WARNING) == [
        ("follower", "keeps its last target 10.0.0.1: no Patroni endpoint answered")
    ]


def test_an_unreadable_follower_state_is_critical():
    rep = report()
    follower_report(rep, "f.json", None, LEADER, now=1000.0)
    assert [f.subject for f in rep.findings if f.severity == CRITICAL] == ["follower state"]


@pytest.mark.parametrize("host", ["10.0.0.2", "pg3"])
def test_a_pgbouncer_database_on_a_replica_is_critical(host):
    rep = report()
    databases = [{"name": "app", "host": host}, {"name": "other", "host": "10.9.9.9"}]
    pgbouncer_leader_report(rep, "pgbouncer b1:6432", databases, answers(), LEADER)
    assert findings(rep, CRITICAL) == [
        ("database app", f"points at {host}, a member that is not the leader (pg1)")
    ]


def test_pgbouncer_databases_on_the_leader_have_no_finding():
    rep = report()
    databases = [{"name": "app", "host": "10.0.0.1"}, {"name": "pg1", "host": "pg1"}]
    pgbouncer_leader_report(rep, "pgbouncer b1:6432", databases, answers(), LEADER)
    assert findings(rep) == []


def test_a_read_only_database_on_a_replica_has_no_finding():
    rep = report()
    databases = [{"name": "app_ro", "host": "10.0.0.2"}]
    pgbouncer_leader_report(rep, "pgbouncer b1:6432", databases, answers(), LEADER, {"app_ro"})
    assert findings(rep) == []


def pool_node(hostname, role, status="up"):
    return {"hostname": hostname, "role": role, "status": status}


@pytest.mark.parametrize("leader_host", ["pg1", "10.0.0.1"])
def test_pgpool_with_the_leader_as_primary_has_no_finding(leader_host):
    rep = report()
    nodes = [pool_node(leader_host, "primary", "waiting"), pool_node("pg2", "standby")]
    pgpool_leader_report(rep, "pgpool p1:9999", nodes, LEADER)
    assert findings(rep) == []


@pytest.mark.parametrize(
    ("nodes", "named"),
    [
        ([pool_node("pg1", "standby"), pool_node("pg2", "primary")], "pg2"),
        ([pool_node("pg1", "primary", "down"), pool_node("pg2", "standby")], "no attached backend"),
    ],
)
def test_pgpool_whose_primary_is_not_the_leader_is_critical(nodes, named):
    rep = report()
    pgpool_leader_report(rep, "pgpool p1:9999", nodes, LEADER)
    assert findings(rep, CRITICAL) == [
        ("primary", f"Pgpool-II's primary is {named}, not the leader (pg1)")
    ]


def test_pgpool_is_not_judged_without_a_leader():
    rep = report()
    pgpool_leader_report(rep, "pgpool p1:9999", [pool_node("pg2", "primary")], None)
    assert findings(rep) == []


CLUSTER = {"members": MEMBERS}


@pytest.fixture
def patroni(patroni_server):
    return patroni_server(CLUSTER)


def write_state(tmp_path, **kwargs):
    path = tmp_path / "state.json"
    path.write_text(json.dumps({**state(**kwargs), "checked_at": time.time()}))
    return str(path)


def test_the_cli_reports_the_cluster_and_a_follower_on_the_leader(patroni, tmp_path, capsys):
    code = main(["status", "--patroni", patroni, "--follow-state", write_state(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "Patroni cluster: leader pg1; pg1 leader running" in out
    assert "follower " in out and "points at 10.0.0.1" in out


def test_the_cli_exits_2_when_a_follower_points_at_a_replica(patroni, tmp_path, capsys):
    code = main(
        ["status", "--json", "--patroni", patroni, "--follow-state",
         write_state(tmp_path, target="10.0.0.3")]
    )  # fmt: skip
    data = json.loads(capsys.readouterr().out)
    assert code == 2
    assert [f["subject"] for f in data["findings"]] == ["follower target"]


def test_the_cli_exits_2_when_no_endpoint_answers(tmp_path, capsys):
    code = main(["status", "--patroni", "http://127.0.0.1:9", "--connect-timeout", "1"])
    out = capsys.readouterr().out
    assert code == 2
    assert "no running leader: no Patroni endpoint answered" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--patroni", "pg1:8008"], "--patroni 'pg1:8008': not a Patroni REST API URL"),
        (["--patroni", "http://x", "--lag-warning", "-1"], "--lag-warning -1: expected bytes"),
        (["--patroni", "http://x", "--patroni-ca", "/nonexistent"], "--patroni-ca"),
    ],
)
def test_bad_cluster_arguments_are_named(args, message, capsys):
    assert main(["status", *args]) == 2
    captured = capsys.readouterr()
    assert message in captured.err
    assert captured.out == ""
