"""poolkit.pgbouncer_plan: the role's variables turned once into every value it deploys."""

from __future__ import annotations

import pytest
from topologies import MIXED

from poolkit import PoolkitError, pgbouncer
from poolkit.pgbouncer_plan import FIGURES, plan
from poolkit.sizing import size_dict


def inputs(**changes):
    """The role's defaults (roles/pgbouncer/defaults/main.yml) as __pgbouncer_input has them."""
    base = {
        "version": "1.24.1",
        "topology": {},
        "processes": 1,
        "listen_addr": "*",
        "listen_port": 6432,
        "unix_socket_dir": "/run/pgbouncer",
        "pool_mode": "transaction",
        **dict.fromkeys(FIGURES),
        "max_user_connections": 0,
        "limit_nofile": None,
        "log_dir": "/var/log/pgbouncer",
        "auth_type": "scram-sha-256",
        "auth_file": "/etc/pgbouncer/userlist.txt",
        "hba_file": "/etc/pgbouncer/pgbouncer_hba.conf",
        "lookup_query": "SELECT uname, phash FROM pgbouncer.user_lookup($1)",
        "users": ["app"],
        "password_users": ["app"],
        "databases": [{"name": "app", "host": "db1", "dbname": "app"}],
        "user_settings": [],
        "extra_settings": {},
        "service_manager": "systemd",
        "patroni_endpoints": [],
    }
    base.update(changes)
    return base


def ini(result, process="1"):
    return dict(result["ini"][process])


def test_without_a_topology_each_figure_is_pgbouncers_default():
    result = plan(inputs())
    assert result["figures"] == {key: pgbouncer.DEFAULTS[key] for key in FIGURES}
    assert set(result["sources"].values()) == {"default"}
    assert ini(result)["default_pool_size"] == "20"


def test_with_a_topology_each_figure_is_what_poolkit_size_computes():
    sized = size_dict(MIXED)["pgbouncer"]
    result = plan(inputs(topology=MIXED))
    assert result["figures"] == {key: sized[key] for key in FIGURES}
    assert set(result["sources"].values()) == {"topology"}
    assert ini(result)["max_client_conn"] == str(sized["max_client_conn"])


def test_an_explicit_variable_wins_over_the_topology():
    result = plan(inputs(topology=MIXED, default_pool_size=9, max_client_conn="200"))
    assert ini(result)["default_pool_size"] == "9"
    assert ini(result)["max_client_conn"] == "200"
    assert result["sources"]["default_pool_size"] == "variable"
    assert result["sources"]["min_pool_size"] == "topology"


def test_the_topologys_per_user_pools_become_users_lines():
    sized = size_dict(MIXED)["pgbouncer"]["users"]
    result = plan(inputs(topology=MIXED, users=["web", "batch"], password_users=["web", "batch"]))
    expected = [
        [u["user"], f"pool_size={u['pool_size']} reserve_pool_size={u['reserve_pool_size']}"]
        for u in sized
    ]
    assert len(expected) == 2
    assert result["users"] == expected


def test_the_file_limit_follows_the_final_figures_unless_set():
    derived = plan(inputs(max_client_conn=5000))
    assert derived["limit_nofile"] == pgbouncer.nofile(5000, derived["server_connections"])
    assert derived["limit_nofile"] > pgbouncer.SYSTEMD_NOFILE
    assert plan(inputs(max_client_conn=5000, limit_nofile=65536))["limit_nofile"] == 65536


def test_each_process_gets_its_own_socket_log_and_peer_id():
    result = plan(inputs(processes=2))
    assert result["processes"] == ["1", "2"]
    second = ini(result, "2")
    assert second["unix_socket_dir"] == "/run/pgbouncer/2"
    assert second["logfile"] == "/var/log/pgbouncer/pgbouncer-2.log"
    assert second["peer_id"] == "2"
    assert second["so_reuseport"] == "1"
    assert result["peers"] == [
        ["1", "host=/run/pgbouncer/1 port=6432"],
        ["2", "host=/run/pgbouncer/2 port=6432"],
    ]


def test_no_peering_before_1_19():
    result = plan(inputs(version="1.18.0", processes=2))
    assert result["peers"] == []
    assert "peer_id" not in ini(result, "2")


def test_auth_user_without_a_query_uses_the_lookup_function():
    result = plan(inputs(auth_user="app"))
    assert ini(result)["auth_query"] == "SELECT uname, phash FROM pgbouncer.user_lookup($1)"
    given = plan(inputs(auth_user="app", auth_query="SELECT usename, passwd FROM pg_shadow"))
    assert ini(given)["auth_query"] == "SELECT usename, passwd FROM pg_shadow"
    assert "auth_query" not in ini(plan(inputs()))


def test_followed_databases_are_left_to_the_follower():
    result = plan(
        inputs(
            databases=[
                {"name": "app", "follow": "leader", "dbname": "app"},
                {"name": "app_ro", "follow": "replicas", "dbname": "app"},
            ],
            patroni_endpoints=["https://pg1:8008"],
        )
    )
    assert result["databases"] == []
    assert result["followed"] == {"app": "dbname=app"}
    assert result["followed_replicas"] == {"app_ro": "dbname=app"}


def test_held_databases_are_named_for_the_switchover():
    held = {"name": "app_pgpool", "host": "/run/pgpool", "port": 9999, "hold_at_switchover": True}
    result = plan(inputs(databases=[held, {"name": "app", "host": "db1"}]))
    assert result["held"] == ["app_pgpool"]
    assert [name for name, _ in result["databases"]] == ["app_pgpool", "app"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"default_pool_size": "lots"}, "pgbouncer_default_pool_size: expected a whole number"),
        ({"min_pool_size": 50, "default_pool_size": 3}, "pgbouncer_min_pool_size: 50 is above"),
        ({"limit_nofile": 10}, "pgbouncer_limit_nofile: 10 is below"),
        ({"processes": 0}, "pgbouncer_processes: 0"),
        ({"version": "1.18.0", "topology": MIXED}, "pooler_topology (user web: pool_size 3)"),
    ],
)
def test_bad_input_fails_naming_the_variable(changes, message):
    with pytest.raises(PoolkitError) as error:
        plan(inputs(**changes))
    assert message in str(error.value)
