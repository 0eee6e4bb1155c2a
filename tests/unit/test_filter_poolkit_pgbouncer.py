"""plugins/filter/poolkit_pgbouncer.py, loaded by path and called directly."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError
from ansible.utils.unsafe_proxy import AnsibleUnsafeText

from poolkit import PoolkitError
from poolkit import pgbouncer as pgb
from poolkit.sizing import size_dict

PLUGIN = Path(__file__).resolve().parents[2] / "plugins" / "filter" / "poolkit_pgbouncer.py"
TOPOLOGY = {
    "database": {"max_connections": 100, "cpu_cores": 4},
    "poolers": {"hosts": 1, "processes_per_host": 2},
    "pools": [{"database": "app", "user": "app", "share": 1}],
    "apps": [{"name": "web", "instances": 2, "processes": 2, "connections_per_process": 5}],
}


def _load_plugin():
    spec = importlib.util.spec_from_file_location("poolkit_pgbouncer_filter_under_test", PLUGIN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


plugin = _load_plugin()
FILTERS = plugin.FilterModule().filters()


def unsafe(text: str) -> AnsibleUnsafeText:
    return AnsibleUnsafeText(text)


class _Vaulted:
    """Stands in for a vaulted value: only str() reveals the plaintext."""

    def __init__(self, plaintext: str) -> None:
        self._plaintext = plaintext

    def __str__(self) -> str:
        return self._plaintext


def test_filter_module_exposes_the_eleven_filters():
    assert set(FILTERS) == {
        "poolkit_pgbouncer_plan",
        "poolkit_pgbouncer_version",
        "poolkit_pgbouncer_settings",
        "poolkit_pgbouncer_databases",
        "poolkit_pgbouncer_users",
        "poolkit_pgbouncer_check",
        "poolkit_pgbouncer_server_connections",
        "poolkit_pgbouncer_nofile",
        "poolkit_pgbouncer_restart_keys",
        "poolkit_pgbouncer_hardened",
        "poolkit_pgbouncer_followed",
    }


def test_version_from_unsafe_text():
    assert FILTERS["poolkit_pgbouncer_version"](unsafe("PgBouncer 1.24.1\nlibevent")) == "1.24.1"


def test_settings_from_unsafe_text_and_templated_numbers():
    pairs = FILTERS["poolkit_pgbouncer_settings"](
        {unsafe("pool_mode"): unsafe("transaction"), "max_client_conn": unsafe("500")},
        unsafe("1.24.1"),
        {unsafe("tcp_keepidle"): "30"},
    )
    assert pairs == [
        ["pool_mode", "transaction"],
        ["max_client_conn", "500"],
        ["tcp_keepidle", "30"],
    ]
    assert all(type(part) is str for pair in pairs for part in pair)


def test_settings_extra_defaults_to_none():
    assert FILTERS["poolkit_pgbouncer_settings"]({"listen_port": 6432}, "1.18.0") == [
        ["listen_port", "6432"]
    ]


def test_settings_take_a_vaulted_value():
    pairs = FILTERS["poolkit_pgbouncer_settings"]({"auth_query": _Vaulted("SELECT 1")}, "1.24.1")
    assert pairs == [["auth_query", "SELECT 1"]]


def test_databases_with_the_sizing():
    sizing = size_dict(TOPOLOGY)
    pairs = FILTERS["poolkit_pgbouncer_databases"](
        [{"name": unsafe("app"), "host": unsafe("10.0.0.5"), "port": "5432"}],
        "1.18.0",
        sizing,
    )
    assert pairs == pgb.databases_section(
        [{"name": "app", "host": "10.0.0.5", "port": 5432}], "1.18.0", sizing
    )
    assert "pool_size=" in pairs[0][1]


def test_users_section():
    assert FILTERS["poolkit_pgbouncer_users"](
        [{"name": unsafe("reporter"), "pool_mode": unsafe("session")}], "1.18.0"
    ) == [["reporter", "pool_mode=session"]]


def test_check_returns_true():
    config = {
        "default_pool_size": "20",
        "min_pool_size": 0,
        "reserve_pool_size": 0,
        "max_client_conn": 100,
        "max_db_connections": 0,
        "max_user_connections": 0,
        "limit_nofile": 1024,
        "processes": 1,
        "listen_port": 6432,
        "pool_mode": "transaction",
        "auth_type": unsafe("scram-sha-256"),
        "auth_user": None,
        "auth_query": None,
        "auth_hba_rules": [],
        "databases": [{"name": "app", "host": "db"}],
        "users": [{"name": unsafe("app"), "password": _Vaulted("x")}],
        "admin_users": [unsafe("app")],
        "stats_users": [],
        "version": "1.24.1",
        "sizing": {},
    }
    assert FILTERS["poolkit_pgbouncer_check"](config) is True


def test_server_connections_and_nofile():
    servers = FILTERS["poolkit_pgbouncer_server_connections"](
        [{"name": "app", "host": "db", "pool_size": 10}], "20", "5"
    )
    assert servers == 15
    assert FILTERS["poolkit_pgbouncer_nofile"]("1000", servers) == pgb.nofile(1000, 15) == 2048


def test_restart_keys():
    old = unsafe("[pgbouncer]\nlisten_port = 6432\n")
    assert FILTERS["poolkit_pgbouncer_restart_keys"](old, [[unsafe("listen_port"), "6433"]]) == [
        "listen_port"
    ]


@pytest.mark.parametrize(
    ("name", "args", "complaint"),
    [
        ("poolkit_pgbouncer_version", ("nonsense",), "PgBouncer version 'nonsense'"),
        (
            "poolkit_pgbouncer_settings",
            ({"max_prepared_statements": 200}, "1.18.0"),
            "pgbouncer_max_prepared_statements: max_prepared_statements needs PgBouncer 1.21",
        ),
        (
            "poolkit_pgbouncer_settings",
            ({"default_pool_size": "twenty"}, "1.24.1"),
            "pgbouncer_default_pool_size: expected a whole number, got 'twenty'",
        ),
        (
            "poolkit_pgbouncer_databases",
            ([{"name": "reports"}], "1.24.1"),
            "pgbouncer_databases[0] (reports): host is missing",
        ),
        (
            "poolkit_pgbouncer_users",
            ([{"name": "app", "pool_size": 3}], "1.18.0"),
            "pgbouncer_user_settings[0] (app).pool_size: pool_size needs PgBouncer 1.23",
        ),
        (
            "poolkit_pgbouncer_check",
            ({"version": "1.24.1", "processes": 0},),
            "pgbouncer_processes",
        ),
        (
            "poolkit_pgbouncer_server_connections",
            ([], "x", 0),
            "pgbouncer_default_pool_size: expected a whole number",
        ),
        ("poolkit_pgbouncer_nofile", ("x", 1), "max_client_conn: expected a whole number"),
        ("poolkit_pgbouncer_restart_keys", ("", "listen_port"), "new settings: expected a list"),
        (
            "poolkit_pgbouncer_settings",
            ({"logfile": b"/var/log/x"}, "1.24.1"),
            "pgbouncer_logfile: expected a string, got bytes",
        ),
    ],
)
def test_errors_become_ansible_filter_errors(name, args, complaint):
    with pytest.raises(AnsibleFilterError) as excinfo:
        FILTERS[name](*args)
    assert complaint in excinfo.value.message
    assert not isinstance(excinfo.value, PoolkitError)
