"""poolkit.follower: which member PgBouncer follows, from Patroni's /cluster answers."""

from __future__ import annotations

import json

import pytest

from poolkit import PoolkitError
from poolkit.follower import (
    Answer,
    Resume,
    Target,
    await_promotion,
    decide,
    load_config,
    member_api_url,
    promoted,
    render_databases,
    replicas_of_include,
    replication_source,
    resume_due,
    running_leader,
    streaming_replicas,
    target_of_include,
)

PG1 = Target("pg1", 5432, "pg1")
PG2 = Target("pg2", 5432, "pg2")


def cluster(leader: str | None, state: str = "running", others=("pg2", "pg3")) -> dict:
    members = [
        {"name": name, "role": "replica", "state": "streaming", "host": name, "port": 5432}
        for name in others
    ]
    if leader:
        members.append(
            {"name": leader, "role": "leader", "state": state, "host": leader, "port": 5432}
        )
    return {"members": members}


def answer(endpoint: str, payload: dict | None, error: str = "") -> Answer:
    return Answer(endpoint, payload, error)


def test_the_running_leader_is_the_target():
    assert running_leader(cluster("pg1")) == PG1


@pytest.mark.parametrize("state", ["starting", "stopped", "crashed"])
def test_a_leader_whose_postgres_does_not_run_is_not_a_target(state):
    assert running_leader(cluster("pg1", state)) is None


def test_no_leader_member_means_no_target():
    assert running_leader(cluster(None)) is None
    assert running_leader({}) is None
    assert running_leader({"members": "x"}) is None


def test_a_member_without_an_address_is_not_a_target():
    assert running_leader({"members": [{"role": "leader", "state": "running"}]}) is None


def test_first_answer_points_at_the_leader():
    decision = decide(None, [answer("a", cluster("pg1")), answer("b", cluster("pg1"))])
    assert (decision.target, decision.changed, decision.healthy) == (PG1, True, True)


def test_the_same_leader_changes_nothing():
    decision = decide(PG1, [answer("a", cluster("pg1"))] * 3)
    assert (decision.target, decision.changed, decision.healthy) == (PG1, False, True)


def test_a_new_leader_named_by_a_majority_is_followed():
    answers = [
        answer("a", None, "connection refused"),
        answer("b", cluster("pg2", others=("pg1", "pg3"))),
        answer("c", cluster("pg2", others=("pg1", "pg3"))),
    ]
    decision = decide(PG1, answers)
    assert (decision.target, decision.changed) == (PG2, True)
    assert "pg1:5432" in decision.reason and "pg2:5432" in decision.reason


def test_a_changed_decision_names_the_new_leaders_api():
    view = cluster("pg2", others=("pg1", "pg3"))
    view["members"][-1]["api_url"] = "https://pg2:8008/patroni"
    assert decide(PG1, [answer("a", view)]).leader_api == "https://pg2:8008/patroni"
    assert member_api_url(cluster("pg2"), PG2) == ""


@pytest.mark.parametrize(
    ("status", "out_of_recovery"),
    [
        ({"role": "primary", "state": "running"}, True),
        ({"role": "master", "state": "running"}, True),  # Patroni before 4
        ({"role": "replica", "state": "running"}, False),  # holds the lock, still promoting
        ({"role": "primary", "state": "starting"}, False),
        ({}, False),
        (None, False),
        ("primary", False),
    ],
)
def test_a_leader_is_writable_once_its_own_api_says_primary(status, out_of_recovery):
    assert promoted(status) is out_of_recovery


def test_awaiting_promotion_keeps_the_last_target_and_replicas_and_names_why():
    new = decide(PG1, [answer("a", cluster("pg2", others=("pg1", "pg3")))])
    kept = await_promotion(new, PG1, (PG2,), "role replica")
    assert (kept.target, kept.changed, kept.healthy, kept.promoting) == (PG1, False, False, True)
    assert kept.replicas == (PG2,)
    assert "new leader pg2:5432" in kept.reason and "role replica" in kept.reason


def test_no_answer_keeps_the_last_target_and_says_why():
    decision = decide(PG1, [answer("https://a:8008", None, "timed out")])
    assert (decision.target, decision.changed, decision.healthy) == (PG1, False, False)
    assert "https://a:8008: timed out" in decision.reason


def test_a_split_vote_keeps_the_last_target():
    answers = [answer("a", cluster("pg1")), answer("b", cluster("pg2", others=("pg1", "pg3")))]
    decision = decide(PG1, answers)
    assert (decision.target, decision.changed, decision.healthy) == (PG1, False, False)
    assert "disagree" in decision.reason


def test_a_cluster_between_leaders_keeps_the_last_target():
    decision = decide(PG1, [answer("a", cluster(None)), answer("b", cluster(None))])
    assert (decision.target, decision.changed, decision.healthy) == (PG1, False, False)
    assert decision.reason == "the cluster has no running leader"


def test_never_points_at_nothing_before_a_first_leader():
    decision = decide(None, [answer("a", cluster(None))])
    assert decision.target is None and not decision.changed


def test_the_include_file_points_every_followed_database_at_the_target():
    text = render_databases({"app": "dbname=app pool_size=12", "app_admin": ""}, PG2)
    lines = text.splitlines()
    assert "app = host=pg2 port=5432 dbname=app pool_size=12" in lines
    assert "app_admin = host=pg2 port=5432" in lines


def test_a_restarted_follower_reads_its_last_target_back():
    assert target_of_include(render_databases({"app": ""}, PG2)) == PG2
    assert target_of_include("app = host=x\n") is None


PG3 = Target("pg3", 5432, "pg3")


def with_replicas(**overrides) -> dict:
    """pg1 leads; pg2 and pg3 stream with no lag, each updated by `overrides[name]`."""
    members = [{"name": "pg1", "role": "leader", "state": "running", "host": "pg1", "port": 5432}]
    for name in ("pg3", "pg2"):
        member = {"name": name, "role": "replica", "state": "streaming", "host": name}
        members.append({**member, "port": 5432, "lag": 0, **overrides.get(name, {})})
    return {"members": members}


def test_streaming_replicas_serve_reads_sorted_by_name():
    assert streaming_replicas(with_replicas(pg3={"role": "sync_standby"}), 1024) == (PG2, PG3)


@pytest.mark.parametrize(
    "change",
    [
        {"lag": 2048},
        {"lag": "unknown"},
        {"state": "starting"},
        {"state": "in archive recovery"},
        {"tags": {"noloadbalance": True}},
        {"role": "leader"},
    ],
)
def test_a_replica_that_should_not_serve_reads_is_left_out(change):
    assert streaming_replicas(with_replicas(pg2=change), 1024) == (PG3,)


def test_patroni_3_0_2s_running_synchronous_standbys_serve_reads():
    """Patroni 3.0.2 (Debian 12) shows a replica's Patroni state, `running`, not its WAL
    receiver's: a running sync_standby streams (poolkit.switchover.streams), a running
    asynchronous replica cannot be told from one whose receiver is down."""
    legacy = with_replicas(
        pg2={"role": "sync_standby", "state": "running"}, pg3={"state": "running"}
    )
    assert streaming_replicas(legacy, 1024) == (PG2,)
    # From Patroni 3.0.4 a running replica is one whose receiver does not stream.
    current = with_replicas(pg2={"role": "sync_standby", "state": "running"})
    assert streaming_replicas(current, 1024) == (PG3,)


def leader_row(name, state="streaming", sync_state="async"):
    """One row of the `replication` list in the leader's GET /patroni (Patroni 3.0.2)."""
    return {
        "usename": "replicator",
        "application_name": name,
        "client_addr": "10.0.0.9",
        "state": state,
        "sync_state": sync_state,
        "sync_priority": 0,
    }


def test_patroni_3_0_2s_asynchronous_replicas_serve_reads_when_the_leader_says_they_stream():
    legacy = with_replicas(pg2={"state": "running"}, pg3={"state": "running"})
    rows = [leader_row("pg2"), leader_row("pg3", state="catchup")]
    assert streaming_replicas(legacy, 1024, rows) == (PG2,)
    assert streaming_replicas(legacy, 1024, []) == ()


def test_the_leaders_rows_are_asked_for_only_where_cluster_shows_no_receiver_state():
    legacy = with_replicas(pg2={"state": "running"}, pg3={"state": "running"})
    legacy["members"][0]["api_url"] = "https://pg1:8008/patroni"
    assert replication_source([answer("a", None, "down"), answer("b", legacy)]) == (
        "https://pg1:8008/patroni"
    )
    current = with_replicas(pg2={"state": "running"})
    current["members"][0]["api_url"] = "https://pg1:8008/patroni"
    assert replication_source([answer("b", current)]) == ""
    assert replication_source([answer("a", None, "down")]) == ""


def test_replicas_on_another_port_than_most_are_left_out():
    assert streaming_replicas(with_replicas(pg2={"port": 5433}, pg3={"port": 5433}), 1024) == (
        Target("pg2", 5433, "pg2"),
        Target("pg3", 5433, "pg3"),
    )
    assert len(streaming_replicas(with_replicas(pg2={"port": 5433}), 1024)) == 1


def test_the_decision_names_the_replicas_of_the_leader():
    decision = decide(PG1, [answer("a", with_replicas())] * 2, max_replica_lag=0)
    assert decision.replicas == (PG2, PG3)


def test_with_no_streaming_replica_reads_go_to_the_leader():
    lagging = with_replicas(pg2={"lag": 10}, pg3={"state": "stopped"})
    assert decide(PG1, [answer("a", lagging)], max_replica_lag=5).replicas == (PG1,)


def test_an_unhealthy_answer_keeps_the_last_replicas():
    decision = decide(PG1, [answer("a", None, "timed out")], (PG2,))
    assert (decision.target, decision.replicas) == (PG1, (PG2,))
    decision = decide(PG1, [answer("a", cluster(None))], (PG2, PG3))
    assert decision.replicas == (PG2, PG3)


def test_a_read_only_database_points_at_every_replica():
    text = render_databases({"app": ""}, PG1, {"app_ro": "dbname=app"}, (PG2, PG3))
    assert "app = host=pg1 port=5432" in text.splitlines()
    assert "app_ro = host=pg2,pg3 port=5432 dbname=app" in text.splitlines()
    assert replicas_of_include(text) == (PG2, PG3)
    assert target_of_include(text) == PG1


def test_without_read_only_databases_the_file_names_no_replicas():
    text = render_databases({"app": ""}, PG1, {}, (PG2,))
    assert "replicas" not in text and replicas_of_include(text) == ()


CONFIG = {
    "endpoints": ["https://pg1:8008", "https://pg2:8008/"],
    "databases": {"app": "dbname=app"},
    "include_file": "/etc/pgbouncer/follow.ini",
    "state_file": "/run/poolkit-follow/state.json",
}


def test_a_valid_configuration_loads():
    config = load_config(json.dumps(CONFIG))
    assert config.endpoints == ("https://pg1:8008", "https://pg2:8008")
    assert config.interval == 0.5


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("endpoints", []),
        ("endpoints", ["pg1:8008"]),
        ("databases", {}),
        ("include_file", "follow.ini"),
        ("interval", 0),
        ("timeout", True),
        ("units", "pgbouncer@1"),
        ("replica_databases", ["app_ro"]),
        ("max_replica_lag", -1),
        ("max_replica_lag", "1MB"),
    ],
)
def test_a_bad_configuration_names_the_key(key, value):
    with pytest.raises(PoolkitError, match=key):
        load_config(json.dumps({**CONFIG, key: value}))


READ_ONLY = {"replica_databases": {"r": ""}, "pgbouncer_version": "1.24.1"}


def test_read_only_databases_alone_are_a_valid_configuration():
    config = load_config(json.dumps({**CONFIG, "databases": {}, **READ_ONLY}))
    assert (config.databases, config.replica_databases) == ({}, {"r": ""})
    assert (config.max_replica_lag, config.single_replica) == (1048576, False)


@pytest.mark.parametrize(
    ("version", "sslmode", "single"),
    [
        ("1.24.1", "verify-full", True),
        ("1.25.0", "verify-full", False),
        ("1.18.0", "require", False),
    ],
)
def test_one_replica_where_a_host_list_cannot_verify_its_certificates(version, sslmode, single):
    settings = {**CONFIG, **READ_ONLY, "pgbouncer_version": version, "server_tls_sslmode": sslmode}
    assert load_config(json.dumps(settings)).single_replica is single


@pytest.mark.parametrize("version", [None, "one.two"])
def test_read_only_databases_need_the_pgbouncer_version(version):
    with pytest.raises(PoolkitError, match="pgbouncer_version"):
        load_config(json.dumps({**CONFIG, **READ_ONLY, "pgbouncer_version": version}))


def test_a_single_replica_is_kept_while_it_qualifies():
    answers = [answer("a", with_replicas())]
    assert decide(PG1, answers, (PG3,), single_replica=True).replicas == (PG3,)
    assert decide(PG1, answers, (), single_replica=True).replicas == (PG2,)
    gone = [answer("a", with_replicas(pg3={"state": "stopped"}))]
    assert decide(PG1, gone, (PG3,), single_replica=True).replicas == (PG2,)


RESUME = {
    "request_file": "/run/poolkit/pgbouncer-resume.json",
    "user": "postgres",
    "sockets": ["/run/pgbouncer/1", "/run/pgbouncer/2"],
    "port": 6432,
    "databases": ["app", "app_ro"],
}


def test_resume_reloads_then_resumes_every_followed_database_on_every_process():
    commands = load_config(json.dumps({**CONFIG, "resume": RESUME})).resume.commands()
    assert [c[c.index("-h") + 1] for c in commands] == ["/run/pgbouncer/1", "/run/pgbouncer/2"]
    assert commands[0][:4] == ["runuser", "-u", "postgres", "--"]
    assert commands[0][-6:] == ["-c", "RELOAD", "-c", "RESUME app", "-c", "RESUME app_ro"]


@pytest.mark.parametrize(
    "change",
    [{"request_file": "x.json"}, {"sockets": []}, {"port": "6432"}, {"databases": [""]}],
)
def test_a_bad_resume_configuration_is_named(change):
    with pytest.raises(PoolkitError, match="resume must be"):
        load_config(json.dumps({**CONFIG, "resume": {**RESUME, **change}}))


def test_without_resume_the_follower_resumes_nothing():
    assert load_config(json.dumps(CONFIG)).resume is None
    assert isinstance(load_config(json.dumps({**CONFIG, "resume": RESUME})).resume, Resume)


@pytest.mark.parametrize(
    ("asked", "target", "age", "due"),
    [
        ({"target_host": "pg2", "limit": 30}, PG2, 5, True),
        ({"target_host": "pg2", "limit": 30}, PG1, 5, False),
        ({"target_host": "pg2", "limit": 30}, PG2, 31, False),
        ({"target_host": "pg2"}, PG2, 5, False),
        (None, PG2, 5, False),
        ({"target_host": "pg2", "limit": 30}, None, 5, False),
    ],
)
def test_a_resume_request_is_due_once_the_target_is_its_host_and_in_time(asked, target, age, due):
    assert resume_due(asked, target, age) is due
