"""plugins/filter/poolkit_pgpool.py, loaded by path and called directly."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError
from ansible.utils.unsafe_proxy import AnsibleUnsafeText

from poolkit import PoolkitError

PLUGIN = Path(__file__).resolve().parents[2] / "plugins" / "filter" / "poolkit_pgpool.py"
# From the real pg_enc / pg_md5 (see tests/unit/test_pgpool_config.py for the commands).
POOL_KEY = "poolkit-test-key"
APP_LINE = "app:AESxa73vzhHByTo8waBTT77uQ=="


def _load_plugin():
    spec = importlib.util.spec_from_file_location("poolkit_pgpool_filter_under_test", PLUGIN)
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


def test_filter_module_exposes_the_eight_filters():
    assert set(FILTERS) == {
        "poolkit_pgpool_plan",
        "poolkit_pgpool_version",
        "poolkit_pgpool_settings",
        "poolkit_pgpool_backends",
        "poolkit_pgpool_check",
        "poolkit_pgpool_passwd",
        "poolkit_pgpool_pcp_conf",
        "poolkit_pgpool_restart_keys",
    }


def test_version_from_unsafe_text():
    assert FILTERS["poolkit_pgpool_version"](unsafe("pgpool-II version 4.6.1 (x)")) == "4.6.1"


def test_settings_from_unsafe_text_and_templated_numbers():
    pairs = FILTERS["poolkit_pgpool_settings"](
        {unsafe("num_init_children"): unsafe("32"), "unix_socket_directories": unsafe("/tmp")},
        unsafe("4.3.5"),
        {unsafe("log_statement"): unsafe("True")},
    )
    assert pairs == [
        ["socket_dir", "'/tmp'"],
        ["num_init_children", "32"],
        ["log_statement", "on"],
    ]
    assert all(type(part) is str for pair in pairs for part in pair)


def test_settings_extra_defaults_to_none():
    assert FILTERS["poolkit_pgpool_settings"]({"max_pool": 1}, "4.6.1") == [["max_pool", "1"]]


def test_settings_take_a_vaulted_value():
    pairs = FILTERS["poolkit_pgpool_settings"]({"sr_check_password": _Vaulted("pw")}, "4.6.1")
    assert pairs == [["sr_check_password", "'pw'"]]


def test_backends():
    pairs = FILTERS["poolkit_pgpool_backends"]([{"hostname": unsafe("pg1")}], "4.6.1")
    assert pairs == [
        ["backend_hostname0", "'pg1'"],
        ["backend_port0", "5432"],
        ["backend_weight0", "1"],
    ]


def test_check_returns_true():
    config = {
        "version": unsafe("4.6.1"),
        "num_init_children": unsafe("12"),
        "max_pool": 4,
        "backend_max_connections": 100,
        "backends": [{"hostname": "pg1"}],
        "health_check_user": "pgpool",
        "sr_check_user": "pgpool",
        "users": [{"name": "pgpool", "password": _Vaulted("x")}],
    }
    assert FILTERS["poolkit_pgpool_check"](config) is True


def test_passwd_with_a_vaulted_key_and_password():
    text = FILTERS["poolkit_pgpool_passwd"](
        [{"name": unsafe("app"), "password": _Vaulted("s3cret-app")}],
        unsafe(""),
        _Vaulted(POOL_KEY),
    )
    assert text == APP_LINE + "\n"


def test_passwd_keeps_the_existing_file():
    users = [{"name": "app", "password": "s3cret-app"}]
    existing = unsafe(APP_LINE + "\n")
    assert FILTERS["poolkit_pgpool_passwd"](users, existing, POOL_KEY, "aes") == existing


def test_passwd_md5_needs_no_key():
    text = FILTERS["poolkit_pgpool_passwd"](
        [{"name": "md5user", "password": "md5-pass"}], None, None, "md5"
    )
    assert text == "md5user:md51fa4c7a25993de52b94f79f825f64139\n"


def test_pcp_conf():
    users = [{"name": unsafe("pcpadmin"), "password": _Vaulted("pcp pass:1")}]
    assert FILTERS["poolkit_pgpool_pcp_conf"](users) == (
        "pcpadmin:5a94ad56cb21f9378b1c85b8283af05a\n"
    )


@pytest.mark.parametrize(
    ("name", "args", "complaint"),
    [
        ("poolkit_pgpool_version", ("nonsense",), "Pgpool-II version 'nonsense'"),
        (
            "poolkit_pgpool_settings",
            ({"log_backend_messages": "terse"}, "4.3.5"),
            "pgpool_log_backend_messages: log_backend_messages needs Pgpool-II 4.6",
        ),
        (
            "poolkit_pgpool_settings",
            ({"num_init_children": "many"}, "4.6.1"),
            "pgpool_num_init_children: expected a whole number, got 'many'",
        ),
        (
            "poolkit_pgpool_settings",
            ({"pid_file_name": b"/run/pgpool.pid"}, "4.6.1"),
            "pgpool_pid_file_name: expected a string, got bytes",
        ),
        ("poolkit_pgpool_backends", ([{"port": 5432}], "4.6.1"), "pgpool_backends[0]: hostname"),
        (
            "poolkit_pgpool_check",
            ({"version": "4.6.1", "num_init_children": 200, "backend_max_connections": 100},),
            "pgpool_num_init_children: 1 Pgpool-II node x num_init_children 200",
        ),
        (
            "poolkit_pgpool_passwd",
            ([{"name": "app", "password": "x"}], "", None),
            "pgpool_pool_key: pool key: expected a string",
        ),
        ("poolkit_pgpool_pcp_conf", ([{"name": "a:b", "password": "x"}],), "pgpool_pcp_users[0]"),
    ],
)
def test_errors_become_ansible_filter_errors(name, args, complaint):
    with pytest.raises(AnsibleFilterError) as excinfo:
        FILTERS[name](*args)
    assert complaint in excinfo.value.message
    assert not isinstance(excinfo.value, PoolkitError)


# ------------------------------------------------------------------------- restart keys
RESTART_OLD = """\
# deployed by poolkit
port = 9999
num_init_children = 32            # children
log_connections = off
backend_hostname0 = 'db1'
backend_port0 = 5432
backend_weight0 = 1
"""
RESTART_NEW = [
    ["port", "9999"],
    ["num_init_children", "32"],
    ["log_connections", "off"],
    ["backend_hostname0", "'db1'"],
    ["backend_port0", "5432"],
    ["backend_weight0", "1"],
]


def _changed(key: str, value: str) -> list[list[str]]:
    return [[k, value if k == key else v] for k, v in RESTART_NEW]


def test_restart_keys_nothing_changed_from_unsafe_text():
    new = [[unsafe(k), unsafe(v)] for k, v in RESTART_NEW]
    assert FILTERS["poolkit_pgpool_restart_keys"](unsafe(RESTART_OLD), new) == []


def test_restart_keys_reloadable_change():
    assert (
        FILTERS["poolkit_pgpool_restart_keys"](RESTART_OLD, _changed("log_connections", "on")) == []
    )


def test_restart_keys_num_init_children():
    new = _changed("num_init_children", "64")
    assert FILTERS["poolkit_pgpool_restart_keys"](RESTART_OLD, new) == ["num_init_children"]


def test_restart_keys_backend_added():
    new = [*RESTART_NEW, ["backend_hostname1", "'db2'"], ["backend_port1", "5432"]]
    assert FILTERS["poolkit_pgpool_restart_keys"](RESTART_OLD, new) == [
        "backend_hostname1",
        "backend_port1",
    ]


def test_restart_keys_empty_old_text():
    assert FILTERS["poolkit_pgpool_restart_keys"]("", _changed("port", "5433")) == []


def test_restart_keys_bad_input_becomes_an_ansible_filter_error():
    with pytest.raises(AnsibleFilterError) as excinfo:
        FILTERS["poolkit_pgpool_restart_keys"](RESTART_OLD, "port = 1")
    assert "new settings" in excinfo.value.message
