"""poolkit.pgbouncer: databases that follow the Patroni leader (follow: leader)."""

from __future__ import annotations

import pytest

import poolkit.pgbouncer as pgb
from poolkit import PoolkitError, pgbouncer_preflight, pgbouncer_sections

FOLLOWED = {"name": "app", "follow": "leader", "dbname": "app", "pool_size": 4}
FIXED = {"name": "reports", "host": "10.0.0.6", "dbname": "reports"}
ENDPOINTS = ["https://pg1:8008", "https://pg2:8008", "https://pg3:8008"]


def test_a_followed_database_is_not_in_the_fixed_section():
    assert pgb.databases_section([FOLLOWED, FIXED], "1.24.1") == [
        ["reports", "host=10.0.0.6 dbname=reports"]
    ]


def test_a_followed_database_keeps_its_settings_without_an_address():
    assert pgb.followed_databases([FOLLOWED, FIXED], "1.24.1") == {"app": "dbname=app pool_size=4"}


def test_the_sizing_reaches_a_followed_database():
    sizing = {"pgbouncer": {"databases": [{"database": "app", "pool_size": 9}]}}
    entry = {"name": "app", "follow": "leader", "dbname": "app"}
    assert "pool_size=9" in pgb.followed_databases([entry], "1.24.1", sizing)["app"]


@pytest.mark.parametrize("key", ["host", "port"])
def test_an_address_and_follow_together_are_refused(key):
    with pytest.raises(
        PoolkitError, match=rf"pgbouncer_databases\[0\] \(app\): both {key} and follow"
    ):
        pgb.databases_section([{**FOLLOWED, key: "10.0.0.5" if key == "host" else 5432}], "1.24.1")


def test_an_unknown_follow_value_is_refused():
    with pytest.raises(PoolkitError, match=r"\.follow: expected leader"):
        pgb.followed_databases([{**FOLLOWED, "follow": "primary"}], "1.24.1")


def test_followed_databases_need_endpoints(monkeypatch):
    problems: list[str] = []
    entries = pgbouncer_sections._databases([FOLLOWED], None, "", None, problems)
    pgbouncer_preflight._follow_problems({"patroni_endpoints": []}, entries, problems)
    assert any(p.startswith("pgbouncer_patroni_endpoints: empty") for p in problems)


@pytest.mark.parametrize("endpoint", ["pg1:8008", "https://pg1:8008/cluster", ""])
def test_an_endpoint_that_is_not_a_url_is_named(endpoint):
    problems: list[str] = []
    pgbouncer_preflight._follow_problems({"patroni_endpoints": [endpoint]}, [], problems)
    assert problems and problems[0].startswith("pgbouncer_patroni_endpoints[0]")


def test_urls_for_every_member_pass():
    problems: list[str] = []
    entries = pgbouncer_sections._databases([FOLLOWED], None, "", None, problems)
    pgbouncer_preflight._follow_problems({"patroni_endpoints": ENDPOINTS}, entries, problems)
    assert problems == []


@pytest.mark.parametrize("lag", [-1, "1MB", 1.5])
def test_a_replica_lag_bound_that_is_not_bytes_is_named(lag):
    problems: list[str] = []
    pgbouncer_preflight._follow_problems(
        {"patroni_endpoints": ENDPOINTS, "follow_max_replica_lag": lag}, [], problems
    )
    assert [p for p in problems if p.startswith("pgbouncer_follow_max_replica_lag: ")], problems


def test_read_only_databases_are_apart_from_those_following_the_leader():
    replicas = {"name": "app_ro", "follow": "replicas", "dbname": "app"}
    assert pgb.followed_databases([FOLLOWED, replicas], "1.24.1") == {
        "app": "dbname=app pool_size=4"
    }
    assert pgb.followed_databases([FOLLOWED, replicas], "1.24.1", None, "replicas") == {
        "app_ro": "dbname=app"
    }
    assert pgb.databases_section([replicas, FIXED], "1.24.1") == [
        ["reports", "host=10.0.0.6 dbname=reports"]
    ]


@pytest.mark.parametrize(
    ("version", "sslmode", "connects"),
    [
        ("1.24.1", "verify-full", False),
        ("1.25.0", "verify-full", True),
        ("1.26.1", "verify-full", True),
        ("1.24.1", "verify-ca", True),
        ("1.18.0", "require", True),
    ],
)
def test_host_lists_verify_full_only_from_1_25(version, sslmode, connects):
    assert pgb.host_lists_connect(version, sslmode) is connects


HELD = {
    "name": "app_pgpool",
    "host": "/var/run/postgresql",
    "port": 9999,
    "dbname": "app",
    "hold_at_switchover": True,
}


def test_a_held_database_keeps_its_address_and_loses_the_key():
    assert pgb.databases_section([HELD, FIXED], "1.24.1") == [
        ["app_pgpool", "host=/var/run/postgresql port=9999 dbname=app"],
        ["reports", "host=10.0.0.6 dbname=reports"],
    ]


def test_only_entries_held_true_are_held():
    quiet = {**FIXED, "hold_at_switchover": False}
    assert pgb.held_databases([FOLLOWED, HELD, quiet], "1.24.1") == ["app_pgpool"]
    assert pgb.databases_section([quiet], "1.24.1") == [["reports", "host=10.0.0.6 dbname=reports"]]


def test_a_held_value_that_is_not_a_boolean_is_refused():
    with pytest.raises(
        PoolkitError,
        match=r"\[0\] \(app_pgpool\)\.hold_at_switchover: expected true or false",
    ):
        pgb.held_databases([{**HELD, "hold_at_switchover": "yes"}], "1.24.1")


def test_a_followed_database_cannot_be_held_too():
    with pytest.raises(PoolkitError, match=r"both follow and hold_at_switchover are set"):
        pgb.followed_databases([{**FOLLOWED, "hold_at_switchover": True}], "1.24.1")
