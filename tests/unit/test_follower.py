"""poolkit.follower: which member PgBouncer follows, from Patroni's /cluster answers."""

from __future__ import annotations

import json

import pytest

from poolkit import PoolkitError
from poolkit.follower import (
    Answer,
    Target,
    decide,
    load_config,
    render_databases,
    running_leader,
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
    ],
)
def test_a_bad_configuration_names_the_key(key, value):
    with pytest.raises(PoolkitError, match=key):
        load_config(json.dumps({**CONFIG, key: value}))
