"""poolkit.pgbouncer: settings by version, pgbouncer.ini sections, preflight, restarts.

The version tables are checked against what was measured on the Debian packages
PgBouncer 1.18.0 (Debian 12), 1.24.1 (Debian 13) and 1.26.1 (Debian forky,
docs/versions-forky.md); one behaviour per test.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from poolkit import PoolkitError, pgbouncer_tables
from poolkit import pgbouncer as pgb
from poolkit.sizing import fd_limit, size_dict

OLD, NEW = "1.18.0", "1.24.1"


def words(text: str) -> set[str]:
    return set(text.split())


# Measured: PgBouncer started with each key ("ERROR unknown parameter" otherwise).
KNOWN_TO_BOTH = words(
    """
    admin_users application_name_add_host auth_file auth_hba_file auth_query auth_type
    auth_user autodb_idle_timeout client_idle_timeout client_login_timeout
    client_tls_ca_file client_tls_cert_file client_tls_ciphers client_tls_dheparams
    client_tls_ecdhcurve client_tls_key_file client_tls_protocols client_tls_sslmode
    default_pool_size disable_pqexec dns_max_ttl dns_nxdomain_ttl dns_zone_check_period
    idle_transaction_timeout ignore_startup_parameters job_name listen_addr listen_backlog
    listen_port log_connections log_disconnections log_pooler_errors log_stats logfile
    max_client_conn max_db_connections max_packet_size max_user_connections min_pool_size
    pidfile pkt_buf pool_mode query_timeout query_wait_timeout reserve_pool_size
    reserve_pool_timeout resolv_conf sbuf_loopcnt server_check_delay server_check_query
    server_connect_timeout server_fast_close server_idle_timeout server_lifetime
    server_login_retry server_reset_query server_reset_query_always server_round_robin
    server_tls_ca_file server_tls_cert_file server_tls_ciphers server_tls_key_file
    server_tls_protocols server_tls_sslmode so_reuseport stats_period stats_users
    suspend_timeout syslog syslog_facility syslog_ident tcp_defer_accept tcp_keepalive
    tcp_keepcnt tcp_keepidle tcp_keepintvl tcp_socket_buffer tcp_user_timeout
    unix_socket_dir unix_socket_group unix_socket_mode user verbose
    """
)
ONLY_NEW = words(
    """
    auth_dbname auth_ident_file cancel_wait_timeout max_db_client_connections
    max_prepared_statements max_user_client_connections peer_id track_extra_parameters
    """
)
# Measured: started by 1.26.1, refused by 1.24.1 ("ERROR unknown parameter") and in its
# SHOW CONFIG only; dated by the 1.26.1 package's NEWS.md.
NEW_IN_1_25_OR_1_26 = {
    "transaction_timeout": "1.25",
    "scram_iterations": "1.25",
    "query_wait_notify": "1.25",
    "client_tls13_ciphers": "1.25",
    "server_tls13_ciphers": "1.25",
    "auth_ldap_options": "1.25",
    "pool_idle_timeout": "1.26",
    "login_notify_message": "1.26",
}
# Measured: refused by 1.18.0, 1.24.1 and 1.26.1.
UNKNOWN_TO_BOTH = ["service_name", "server_drop_on_error"]
INTRODUCED = {
    "peer_id": "1.19",
    "cancel_wait_timeout": "1.19",
    "auth_dbname": "1.19",
    "track_extra_parameters": "1.20",
    "max_prepared_statements": "1.21",
    "auth_ident_file": "1.23",
    "max_db_client_connections": "1.24",
    "max_user_client_connections": "1.24",
    **NEW_IN_1_25_OR_1_26,
}

TOPOLOGY: dict[str, Any] = {
    "database": {"max_connections": 100, "cpu_cores": 4},
    "poolers": {"hosts": 1, "processes_per_host": 2},
    "pools": [
        {"database": "app", "user": "app", "share": 3},
        {"database": "app", "user": "jobs", "share": 1},
        {"database": "reports", "user": "reporter", "share": 1},
    ],
    "apps": [{"name": "web", "instances": 20, "processes": 4, "connections_per_process": 50}],
}
SIZING = size_dict(TOPOLOGY)


def errors(func, *args, **kwargs) -> str:
    with pytest.raises(PoolkitError) as excinfo:
        func(*args, **kwargs)
    return str(excinfo.value)


def minor_before(minimum: str) -> str:
    major, minor = minimum.split(".")
    return f"{major}.{int(minor) - 1}.0"


# ------------------------------------------------------------------------- tables


def test_settings_are_exactly_the_keys_measured_on_1_24_1_and_1_26_1():
    assert set(pgb.SETTINGS) == KNOWN_TO_BOTH | ONLY_NEW | set(NEW_IN_1_25_OR_1_26)


def test_settings_available_on_1_24_are_exactly_the_keys_measured_on_1_24_1():
    on_1_24 = {key for key, minimum in pgb.SETTINGS.items() if minimum <= (1, 24)}
    assert on_1_24 == KNOWN_TO_BOTH | ONLY_NEW


def test_settings_available_on_1_18_are_exactly_the_keys_measured_on_1_18_0():
    assert {key for key, minimum in pgb.SETTINGS.items() if minimum <= (1, 18)} == KNOWN_TO_BOTH


@pytest.mark.parametrize("key", UNKNOWN_TO_BOTH)
def test_keys_unknown_to_both_versions_are_not_settings(key):
    assert key not in pgb.SETTINGS


@pytest.mark.parametrize(("key", "minimum"), sorted(INTRODUCED.items()))
def test_introduction_versions_from_the_changelog(key, minimum):
    assert ".".join(map(str, pgb.SETTINGS[key])) == minimum


def test_peer_id_is_reloadable():
    assert "peer_id" not in pgb.RESTART_KEYS


@pytest.mark.parametrize(
    ("table", "on_1_18"),
    [
        (
            pgb.DATABASE_KEYS,
            {
                "host",
                "port",
                "dbname",
                "user",
                "auth_user",
                "pool_size",
                "min_pool_size",
                "reserve_pool_size",
                "max_db_connections",
                "pool_mode",
                "connect_query",
                "client_encoding",
                "datestyle",
                "timezone",
                "application_name",
            },
        ),
        (pgb.USER_KEYS, {"pool_mode", "max_user_connections"}),
    ],
    ids=["databases", "users"],
)
def test_section_keys_available_on_1_18_are_the_measured_ones(table, on_1_18):
    assert {key for key, minimum in table.items() if minimum <= (1, 18)} == on_1_18


def test_value_kinds_only_name_settings():
    kinds = [
        pgb.INTEGER_SETTINGS,
        pgbouncer_tables._BOOLEAN,
        pgbouncer_tables._SECONDS,
        pgbouncer_tables._LISTS,
    ]
    for kind in kinds:
        assert kind <= set(pgb.SETTINGS)
    assert sum(len(kind) for kind in kinds) == len(set().union(*kinds))


# ------------------------------------------------------------------------- versions


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PgBouncer 1.24.1\nlibevent 2.1.12-stable\nadns: c-ares 1.34.5\n", "1.24.1"),
        ("1.24.1-1", "1.24.1"),
        ("1.18.0-1+b2", "1.18.0"),
        ("1.24.1-1.pgdg120+1", "1.24.1"),
        ("1.24.1", "1.24.1"),
        ("  pgbouncer version 1.12.0\n", "1.12.0"),
        ("1:1.24.1-1", "1.24.1"),
        ("1.24", "1.24.0"),
    ],
)
def test_parse_version(text, expected):
    assert pgb.parse_version(text) == expected


@pytest.mark.parametrize("text", ["", "abc", "1.24.1x", "version 1.24.1", "1", None, 1.24])
def test_parse_version_names_the_text_it_cannot_read(text):
    assert repr(text) in errors(pgb.parse_version, text)


def test_a_version_older_than_1_18_is_refused():
    message = errors(pgb.ini_settings, {}, "1.17.0")
    assert "PgBouncer 1.17.0 is older than 1.18" in message


# ------------------------------------------------------------------------- [pgbouncer]


def test_null_means_not_set():
    assert pgb.ini_settings({"pool_mode": None, "listen_port": 6432}, OLD) == [
        ["listen_port", "6432"]
    ]


def test_modeled_keys_follow_the_docs_order_and_extras_come_after_sorted():
    pairs = pgb.ini_settings(
        {"admin_users": ["admin"], "listen_port": 6432, "auth_type": "scram-sha-256"},
        OLD,
        {"tcp_keepidle": 30, "log_stats": False},
    )
    assert [key for key, _ in pairs] == [
        "listen_port",
        "auth_type",
        "admin_users",
        "log_stats",
        "tcp_keepidle",
    ]


@pytest.mark.parametrize(
    ("key", "value", "text"),
    [
        ("log_connections", True, "1"),
        ("so_reuseport", False, "0"),
        ("server_round_robin", 1, "1"),
        ("so_reuseport", "True", "1"),
        ("log_stats", "no", "0"),
        ("max_client_conn", 1000, "1000"),
        ("default_pool_size", "20", "20"),
        ("query_wait_timeout", 0.5, "0.5"),
        ("server_idle_timeout", 600, "600"),
        ("server_lifetime", "3600", "3600"),
        ("admin_users", ["admin", "ops"], "admin, ops"),
        (
            "ignore_startup_parameters",
            ("extra_float_digits", "options"),
            "extra_float_digits, options",
        ),
        ("listen_addr", "*", "*"),
        ("unix_socket_mode", 0o770, "0770"),
        ("unix_socket_mode", "0777", "0777"),
        (
            "auth_query",
            "SELECT usename, passwd FROM pg_shadow WHERE usename=$1",
            "SELECT usename, passwd FROM pg_shadow WHERE usename=$1",
        ),
        ("unix_socket_dir", "", ""),
        ("pool_mode", "transaction", "transaction"),
    ],
)
def test_values_are_written_as_pgbouncer_reads_them(key, value, text):
    assert pgb.ini_settings({key: value}, OLD) == [[key, text]]


@pytest.mark.parametrize(
    ("key", "value", "complaint"),
    [
        (
            "max_client_conn",
            "lots",
            "pgbouncer_max_client_conn: expected a whole number, got 'lots'",
        ),
        ("max_client_conn", 2.5, "pgbouncer_max_client_conn: expected a whole number, got 2.5"),
        (
            "max_client_conn",
            True,
            "pgbouncer_max_client_conn: expected a whole number, got a boolean",
        ),
        ("max_client_conn", -1, "pgbouncer_max_client_conn: expected a whole number >= 0"),
        ("log_stats", "maybe", "pgbouncer_log_stats: expected true or false"),
        ("log_stats", 2, "pgbouncer_log_stats: expected true or false"),
        ("query_timeout", "soon", "pgbouncer_query_timeout: expected seconds"),
        (
            "server_reset_query",
            "DISCARD ALL;\nDROP TABLE x",
            "pgbouncer_server_reset_query: the value contains a line break",
        ),
        ("logfile", {"path": "/x"}, "pgbouncer_logfile: expected a string, got dict"),
        ("job_name", 5, "pgbouncer_job_name: expected a string, got int; quote it in YAML"),
        ("admin_users", ["a,b"], "pgbouncer_admin_users[0]: 'a,b' cannot be an element"),
        ("admin_users", {"a": 1}, "pgbouncer_admin_users: expected a list of strings, got dict"),
        ("pool_mode", "transactions", "pgbouncer_pool_mode: 'transactions' is not one of session"),
        ("auth_type", "md6", "pgbouncer_auth_type: 'md6' is not one of"),
        ("unix_socket_mode", "rwx", "pgbouncer_unix_socket_mode: expected an octal file mode"),
    ],
)
def test_bad_values_are_refused_naming_the_variable(key, value, complaint):
    assert complaint in errors(pgb.ini_settings, {key: value}, NEW)


def test_a_key_too_new_for_the_host_names_the_variable():
    assert errors(pgb.ini_settings, {"max_prepared_statements": 200}, OLD) == (
        "pgbouncer_max_prepared_statements: max_prepared_statements needs PgBouncer 1.21 or "
        "newer, this host has 1.18.0; set it to null or install a newer PgBouncer"
    )


@pytest.mark.parametrize(("key", "minimum"), sorted(INTRODUCED.items()))
def test_version_gating_at_the_introduction_version(key, minimum):
    value = {"track_extra_parameters": ["search_path"], "auth_dbname": "postgres"}.get(key, 1)
    if key == "auth_ident_file":
        value = "/etc/pgbouncer/ident.map"
    value = {
        "auth_ldap_options": 'ldapurl="ldap://127.0.0.1/dc=example,dc=net?uid?sub"',
        "client_tls13_ciphers": "TLS_AES_256_GCM_SHA384",
        "server_tls13_ciphers": "TLS_AES_256_GCM_SHA384",
        "login_notify_message": "Connected through PgBouncer",
    }.get(key, value)
    assert pgb.ini_settings({key: value}, f"{minimum}.0")[0][0] == key
    assert f"needs PgBouncer {minimum} or newer" in errors(
        pgb.ini_settings, {key: value}, minor_before(minimum)
    )


@pytest.mark.parametrize("key", sorted(ONLY_NEW))
def test_keys_new_since_1_18_are_refused_on_1_18_0_and_written_on_1_24_1(key):
    value = "x" if key in {"auth_dbname", "auth_ident_file", "track_extra_parameters"} else 1
    assert pgb.ini_settings({key: value}, NEW) == [[key, str(value)]]
    assert f"pgbouncer_{key}: {key} needs PgBouncer" in errors(pgb.ini_settings, {key: value}, OLD)


def test_a_modeled_key_pgbouncer_does_not_know_names_the_variable():
    assert errors(pgb.ini_settings, {"service_name": "x"}, NEW) == (
        "pgbouncer_service_name: PgBouncer 1.24.1 has no setting 'service_name'"
    )


def test_an_unknown_extra_key_gets_close_matches():
    message = errors(pgb.ini_settings, {}, NEW, {"max_conections": 10})
    assert message.startswith(
        "pgbouncer_extra_settings.max_conections: PgBouncer 1.24.1 has no setting "
        "'max_conections' (did you mean max_db_connections, max_user_connections"
    )


def test_an_extra_key_the_role_models_is_refused():
    message = errors(pgb.ini_settings, {"pool_mode": None}, NEW, {"pool_mode": "session"})
    assert message == "pgbouncer_extra_settings.pool_mode: set pgbouncer_pool_mode instead"


def test_an_extra_key_too_new_says_to_remove_it():
    message = errors(pgb.ini_settings, {}, OLD, {"peer_id": 1})
    assert message == (
        "pgbouncer_extra_settings.peer_id: peer_id needs PgBouncer 1.19 or newer, this host "
        "has 1.18.0; remove it or install a newer PgBouncer"
    )


def test_a_key_a_newer_release_removed_says_to_remove_it_not_to_upgrade():
    message = errors(pgb.ini_settings, {}, "1.26.1", {"suspend_timeout": 10})
    assert message == (
        "pgbouncer_extra_settings.suspend_timeout: suspend_timeout was removed after "
        "PgBouncer 1.25, this host has 1.26.1; remove it"
    )
    assert pgb.ini_settings({}, "1.25.0", {"suspend_timeout": 10}) == [["suspend_timeout", "10"]]


def test_the_keys_a_release_reads_leave_out_the_removed_ones():
    assert "suspend_timeout" in pgb.keys_read_by("1.24.1")
    assert "suspend_timeout" not in pgb.keys_read_by("1.26.1")
    assert "transaction_timeout" in pgb.keys_read_by("1.26.1") - pgb.keys_read_by("1.24.1")


def test_a_null_extra_is_ignored():
    assert pgb.ini_settings({}, NEW, {"tcp_keepidle": None}) == []


def test_every_problem_is_listed_one_per_line():
    message = errors(
        pgb.ini_settings,
        {"max_prepared_statements": 200, "max_client_conn": "many"},
        OLD,
        {"max_conections": 1, "pool_size": 3},
    )
    lines = message.splitlines()
    assert len(lines) == 4
    assert [line.split(":")[0] for line in lines] == [
        "pgbouncer_max_prepared_statements",
        "pgbouncer_max_client_conn",
        "pgbouncer_extra_settings.max_conections",
        "pgbouncer_extra_settings.pool_size",
    ]


def test_a_host_newer_than_the_tables_does_not_claim_a_key_is_missing():
    message = errors(pgb.ini_settings, {}, "1.27.0", {"future_timeout": 10})
    assert "'future_timeout' is not a PgBouncer setting poolkit knows" in message
    assert "1.18 to 1.26" in message


@pytest.mark.parametrize(
    ("settings", "extra", "complaint"),
    [
        ([("pool_mode", "session")], None, "settings: expected a mapping"),
        ({}, ["tcp_keepidle"], "pgbouncer_extra_settings: expected a mapping"),
    ],
)
def test_settings_and_extra_must_be_mappings(settings, extra, complaint):
    assert complaint in errors(pgb.ini_settings, settings, NEW, extra)


# ------------------------------------------------------------------------- [databases]


def test_database_line_keys_in_a_fixed_order():
    entry = {
        "pool_mode": "transaction",
        "pool_size": 10,
        "dbname": "app_prod",
        "name": "app",
        "port": "5433",
        "reserve_pool_size": 2,
        "host": "10.0.0.5",
    }
    assert pgb.databases_section([entry], OLD) == [
        [
            "app",
            "host=10.0.0.5 port=5433 dbname=app_prod pool_size=10 reserve_pool=2 "
            "pool_mode=transaction",
        ]
    ]


def test_databases_keep_the_given_order_and_the_fallback_entry():
    pairs = pgb.databases_section(
        [{"name": "zeta", "host": "a"}, {"name": "*", "host": "b"}, {"name": "alpha", "host": "c"}],
        OLD,
    )
    assert [name for name, _ in pairs] == ["zeta", "*", "alpha"]


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("app", "app"),
        ("10.0.0.5,10.0.0.6", "10.0.0.5,10.0.0.6"),
        ("/var/run/postgresql", "/var/run/postgresql"),
        ("my app", "'my app'"),
        ("ISO, MDY", "'ISO, MDY'"),
        ("it's", "'it''s'"),
        ("SELECT 'x'", "'SELECT ''x'''"),
        ("back\\slash", "'back\\slash'"),
        ('say "hi"', "'say \"hi\"'"),
    ],
)
def test_connection_string_quoting_measured_on_pgbouncer(value, written):
    assert pgb.connstr_value(value) == written


def test_an_empty_connection_string_value_cannot_be_written():
    assert "empty" in errors(pgb.connstr_value, "")


def test_quoted_values_in_a_database_line():
    pairs = pgb.databases_section(
        [
            {
                "name": "app",
                "host": "db",
                "application_name": "my app",
                "connect_query": "SET x = 'y'",
            }
        ],
        OLD,
    )
    assert pairs[0][1] == "host=db connect_query='SET x = ''y''' application_name='my app'"


def test_a_database_without_host_says_what_to_set():
    message = errors(
        pgb.databases_section, [{"name": "app", "host": "db"}, {"name": "reports"}], OLD
    )
    assert message == (
        "pgbouncer_databases[1] (reports): host is missing; set it to the PostgreSQL "
        "server's address"
    )


def test_a_database_password_is_refused():
    message = errors(
        pgb.databases_section, [{"name": "app", "host": "db", "password": "s3cret"}], NEW
    )
    assert message.startswith("pgbouncer_databases[0] (app).password: ")
    assert "pgbouncer_users" in message
    assert "auth_query" in message


def test_an_unknown_database_key_gets_close_matches():
    message = errors(pgb.databases_section, [{"name": "app", "host": "db", "pool_sise": 5}], NEW)
    assert message.startswith(
        "pgbouncer_databases[0] (app).pool_sise: PgBouncer has no [databases] setting "
        "'pool_sise' (did you mean pool_size"
    )


@pytest.mark.parametrize(
    ("key", "value", "minimum"),
    [
        ("max_db_client_connections", 50, "1.24"),
        ("auth_dbname", "postgres", "1.19"),
        ("auth_query", "SELECT 1", "1.22"),
        ("server_lifetime", 300, "1.23"),
        ("load_balance_hosts", "disable", "1.24"),
    ],
)
def test_database_keys_are_gated_by_version(key, value, minimum):
    entry = {"name": "app", "host": "db", key: value}
    assert f" {key}=" in pgb.databases_section([entry], NEW)[0][1]
    message = errors(pgb.databases_section, [entry], OLD)
    assert message == (
        f"pgbouncer_databases[0] (app).{key}: {key} needs PgBouncer {minimum} or newer, "
        "this host has 1.18.0; remove it or install a newer PgBouncer"
    )


@pytest.mark.parametrize(
    ("entries", "complaint"),
    [
        (
            [{"name": "app", "host": "a"}, {"name": "app", "host": "b"}],
            "pgbouncer_databases[1] (app): duplicate of pgbouncer_databases[0]",
        ),
        ([{"host": "a"}], "pgbouncer_databases[0]: name is missing"),
        ([{"name": "my db", "host": "a"}], "pgbouncer_databases[0] (my db).name: PgBouncer cannot"),
        ([{"name": "app@x", "host": "a"}], "use only letters, digits, '_', '.' and '-'"),
        ([{"name": "pgbouncer", "host": "a"}], "'pgbouncer' is reserved"),
        ([{"name": 5, "host": "a"}], "pgbouncer_databases[0].name: expected a string, got int"),
        (["app"], "pgbouncer_databases[0]: expected a mapping with a name, got str"),
        ({"name": "app"}, "pgbouncer_databases: expected a list of mappings, got dict"),
        ([{"name": "app", "host": "a", "port": 70000}], "(app).port: expected a port from 1"),
        ([{"name": "app", "host": "a", "pool_size": "x"}], "(app).pool_size: expected a whole"),
        ([{"name": "app", "host": "a", "dbname": ""}], "(app).dbname: empty"),
        ([{"name": "app", "host": "a", "pool_mode": "tx"}], "(app).pool_mode: 'tx' is not one of"),
        ([{"name": "app", "host": "a\nb"}], "(app).host: the value contains a line break"),
    ],
)
def test_bad_database_entries_name_the_entry(entries, complaint):
    assert complaint in errors(pgb.databases_section, entries, NEW)


def test_database_names_may_hold_dots_and_dashes():
    assert pgb.databases_section([{"name": "my-db.2", "host": "a"}], OLD)[0][0] == "my-db.2"


def test_sizing_fills_what_an_entry_leaves_out():
    pairs = pgb.databases_section(
        [{"name": "app", "host": "db"}, {"name": "reports", "host": "db"}], OLD, SIZING
    )
    expected = {
        row["database"]: (
            f"host=db pool_size={row['pool_size']} reserve_pool={row['reserve_pool_size']} "
            f"max_db_connections={row['max_db_connections']}"
        )
        for row in SIZING["pgbouncer"]["databases"]
    }
    assert dict(pairs) == expected


def test_explicit_values_win_over_the_sizing():
    pairs = pgb.databases_section(
        [{"name": "app", "host": "db", "pool_size": 40, "max_db_connections": 0}], OLD, SIZING
    )
    reserve = SIZING["pgbouncer"]["databases"][0]["reserve_pool_size"]
    assert pairs[0][1] == f"host=db pool_size=40 reserve_pool={reserve} max_db_connections=0"


def test_entries_the_sizing_does_not_know_are_left_alone():
    pairs = pgb.databases_section(
        [{"name": "other", "host": "db"}, {"name": "*", "host": "db"}], OLD, SIZING
    )
    assert pairs == [["other", "host=db"], ["*", "host=db"]]


@pytest.mark.parametrize("sizing", [None, {}])
def test_no_sizing_adds_nothing(sizing):
    assert pgb.databases_section([{"name": "app", "host": "db"}], OLD, sizing) == [
        ["app", "host=db"]
    ]


@pytest.mark.parametrize("sizing", [{"pgbouncer": {}}, {"pgbouncer": {"databases": ["app"]}}, [1]])
def test_a_malformed_sizing_names_the_roles_topology_variable(sizing):
    message = errors(pgb.databases_section, [{"name": "app", "host": "db"}], OLD, sizing)
    assert message.startswith("pgbouncer_topology: its sizing is not the dict poolkit_size")


# ------------------------------------------------------------------------- [users]


def test_user_settings_line():
    users = [{"name": "reporter", "max_user_connections": "4", "pool_mode": "session"}]
    assert pgb.users_section(users, OLD) == [
        ["reporter", "pool_mode=session max_user_connections=4"]
    ]


def test_user_settings_newer_keys_on_1_24_1():
    users = [{"name": "app", "pool_size": 10, "reserve_pool_size": 2, "query_timeout": 30}]
    assert pgb.users_section(users, NEW) == [
        ["app", "pool_size=10 reserve_pool_size=2 query_timeout=30"]
    ]


def test_a_user_entry_without_settings_is_an_empty_line():
    assert pgb.users_section([{"name": "app"}], OLD) == [["app", ""]]


@pytest.mark.parametrize(
    ("key", "minimum"),
    [
        ("pool_size", "1.23"),
        ("reserve_pool_size", "1.24"),
        ("max_user_client_connections", "1.24"),
        ("idle_transaction_timeout", "1.24"),
    ],
)
def test_user_keys_are_gated_by_version(key, minimum):
    message = errors(pgb.users_section, [{"name": "app", key: 5}], OLD)
    assert message == (
        f"pgbouncer_user_settings[0] (app).{key}: {key} needs PgBouncer {minimum} or newer, "
        "this host has 1.18.0; remove it or install a newer PgBouncer"
    )


@pytest.mark.parametrize(
    ("users", "complaint"),
    [
        (
            [{"name": "app", "reserve_pool": 1}],
            "pgbouncer_user_settings[0] (app).reserve_pool: "
            "PgBouncer has no [users] setting 'reserve_pool' (did you mean reserve_pool_size",
        ),
        ([{"name": "a@b"}], "pgbouncer_user_settings[0] (a@b).name: PgBouncer cannot read"),
        ([{"name": "*"}], "pgbouncer_user_settings[0] (*).name"),
        ([{"name": "a"}, {"name": "a"}], "pgbouncer_user_settings[1] (a): duplicate"),
        (
            [{"name": "a", "max_user_connections": "x"}],
            "(a).max_user_connections: expected a whole",
        ),
        (
            [{"pool_mode": "session"}],
            "pgbouncer_user_settings[0]: name is missing; set it to the user name",
        ),
    ],
)
def test_bad_user_entries_name_the_entry(users, complaint):
    assert complaint in errors(pgb.users_section, users, NEW)


# ------------------------------------------------------------------------- connections


def test_no_databases_count_one_default_pool():
    assert pgb.server_connections_per_process([], 20, 5) == 25


def test_a_fallback_entry_counts_one_pool():
    assert pgb.server_connections_per_process([{"name": "*", "host": "db"}], 20, 5) == 25


def test_entries_count_their_own_pool_sizes():
    databases = [
        {"name": "app", "host": "db", "pool_size": 10, "reserve_pool_size": 3},
        {"name": "reports", "host": "db"},
    ]
    assert pgb.server_connections_per_process(databases, 20, 5) == 13 + 25


def test_max_db_connections_bounds_an_entry_with_several_user_pools():
    databases = [{"name": "app", "host": "db", "pool_size": 5, "max_db_connections": 12}]
    assert pgb.server_connections_per_process(databases, 20, 0) == 12


def test_server_connections_match_the_sizing_per_process():
    databases = [{"name": "app", "host": "db"}, {"name": "reports", "host": "db"}]
    pgbouncer = SIZING["pgbouncer"]
    per_process = (
        SIZING["budget"]["pgbouncer_worst_case"] // SIZING["budget"]["pgbouncer_processes"]
    )
    assert (
        pgb.server_connections_per_process(
            databases, pgbouncer["default_pool_size"], pgbouncer["reserve_pool_size"], SIZING
        )
        == per_process
    )


def test_server_connections_accept_numeric_strings():
    assert pgb.server_connections_per_process([], "20", "5") == 25


def test_server_connections_name_a_bad_default():
    message = errors(pgb.server_connections_per_process, [], "twenty", 5)
    assert message == "pgbouncer_default_pool_size: expected a whole number, got 'twenty'"


@pytest.mark.parametrize(
    ("clients", "servers", "expected"),
    [(100, 20, 1024), (1000, 100, 2048), (0, 0, 1024), (2510, 9, 4096)],
)
def test_nofile(clients, servers, expected):
    assert pgb.nofile(clients, servers) == expected == fd_limit(clients, servers)


def test_nofile_matches_the_sizing_limit():
    databases = [{"name": "app", "host": "db"}, {"name": "reports", "host": "db"}]
    pgbouncer = SIZING["pgbouncer"]
    servers = pgb.server_connections_per_process(
        databases, pgbouncer["default_pool_size"], pgbouncer["reserve_pool_size"], SIZING
    )
    assert pgb.nofile(pgbouncer["max_client_conn"], servers) == SIZING["limits"]["nofile"] > 1024


def test_nofile_names_a_bad_argument():
    assert errors(pgb.nofile, "many", 3) == "max_client_conn: expected a whole number, got 'many'"


# ------------------------------------------------------------------------- check

GOOD: dict[str, Any] = {
    "default_pool_size": 20,
    "min_pool_size": 5,
    "reserve_pool_size": 5,
    "max_client_conn": 1000,
    "max_db_connections": 0,
    "max_user_connections": 0,
    "limit_nofile": 4096,
    "processes": 2,
    "listen_port": 6432,
    "pool_mode": "transaction",
    "auth_type": "scram-sha-256",
    "auth_user": None,
    "auth_query": None,
    "auth_hba_rules": [],
    "databases": [{"name": "app", "host": "db"}],
    "users": [{"name": "app", "password": "x"}, {"name": "admin", "verifier": "md5" + "0" * 32}],
    "admin_users": ["admin"],
    "stats_users": ["admin"],
    "version": NEW,
    "sizing": None,
}


#: A complete TLS setup: clients must use TLS, PgBouncer verifies PostgreSQL's certificate
#: and presents its own client certificate (auth_user logs in with it, pg_hba cert).
TLS: dict[str, Any] = {
    "client_tls_sslmode": "require",
    "client_tls_cert_file": "/etc/poolkit/tls/server.crt",
    "client_tls_key_file": "/etc/poolkit/tls/server.key",
    "client_tls_ca_file": None,
    "server_tls_sslmode": "verify-full",
    "server_tls_ca_file": "/etc/poolkit/tls/ca.crt",
    "server_tls_cert_file": "/etc/poolkit/tls/auth.crt",
    "server_tls_key_file": "/etc/poolkit/tls/auth.key",
}

#: TLS with client certificates, which auth_type cert needs.
VERIFIED: dict[str, Any] = {
    **TLS,
    "client_tls_sslmode": "verify-ca",
    "client_tls_ca_file": "/etc/poolkit/tls/ca.crt",
}

TLS_PROBLEMS = [
    (
        {**TLS, "client_tls_cert_file": None},
        "pgbouncer_client_tls_cert_file: not set, but pgbouncer_client_tls_sslmode is 'require'",
    ),
    (
        {**TLS, "client_tls_key_file": ""},
        "pgbouncer_client_tls_key_file: not set, but pgbouncer_client_tls_sslmode is 'require'",
    ),
    (
        {**TLS, "client_tls_sslmode": None},
        "pgbouncer_client_tls_cert_file: set, but pgbouncer_client_tls_sslmode is not set "
        "(disable), so clients get no TLS",
    ),
    (
        {**TLS, "client_tls_sslmode": "verify-full"},
        "pgbouncer_client_tls_ca_file: not set, but pgbouncer_client_tls_sslmode is 'verify-full'",
    ),
    (
        {**TLS, "auth_type": "cert"},
        "pgbouncer_client_tls_sslmode: 'require', but pgbouncer_auth_type is cert",
    ),
    (
        {**TLS, "server_tls_ca_file": None},
        "pgbouncer_server_tls_ca_file: not set, but pgbouncer_server_tls_sslmode is 'verify-full'",
    ),
    (
        {**TLS, "server_tls_key_file": None},
        "pgbouncer_server_tls_key_file: not set, but pgbouncer_server_tls_cert_file is",
    ),
    (
        {**TLS, "server_tls_cert_file": None},
        "pgbouncer_server_tls_cert_file: not set, but pgbouncer_server_tls_key_file is",
    ),
    (
        {**TLS, "server_tls_sslmode": None},
        "pgbouncer_server_tls_sslmode: not set (disable before PgBouncer 1.20), but "
        "pgbouncer_server_tls_cert_file is set",
    ),
    (
        {**TLS, "server_tls_sslmode": "verify-everything"},
        "pgbouncer_server_tls_sslmode: 'verify-everything' is not one of disable",
    ),
    (
        {"auth_user": "pgbouncer_auth", "auth_query": "SELECT 1"},
        "pgbouncer_auth_user: 'pgbouncer_auth' is not in pgbouncer_users and "
        "pgbouncer_server_tls_cert_file is not set",
    ),
]


def config(**changes: Any) -> dict[str, Any]:
    result = copy.deepcopy(GOOD)
    result.update(changes)
    return result


def test_a_consistent_configuration_passes():
    assert pgb.check(GOOD) is None


def test_a_sized_configuration_passes():
    pgbouncer = SIZING["pgbouncer"]
    sized = config(
        databases=[{"name": "app", "host": "db"}, {"name": "reports", "host": "db"}],
        sizing=SIZING,
        limit_nofile=SIZING["limits"]["nofile"],
        **{
            key: pgbouncer[key]
            for key in (
                "default_pool_size",
                "min_pool_size",
                "reserve_pool_size",
                "max_client_conn",
                "max_db_connections",
            )
        },
    )
    assert pgb.check(sized) is None


def test_numeric_strings_and_nulls_are_accepted():
    assert pgb.check(config(default_pool_size="20", max_db_connections=None, processes="2")) is None


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"min_pool_size": 30},
            "pgbouncer_min_pool_size: 30 is above pgbouncer_default_pool_size 20; lower "
            "pgbouncer_min_pool_size to at most 20",
        ),
        (
            {"databases": [{"name": "app", "host": "db", "pool_size": 4, "min_pool_size": 6}]},
            "pgbouncer_databases[0] (app): min_pool_size 6 (pgbouncer_databases[0] (app)"
            ".min_pool_size) is above pool_size 4 (pgbouncer_databases[0] (app).pool_size); "
            "lower min_pool_size to at most 4",
        ),
        (
            {"max_db_connections": 10},
            "pgbouncer_databases[0] (app): pool_size 20 (pgbouncer_default_pool_size) is above "
            "max_db_connections 10 (pgbouncer_max_db_connections), so the pool can never "
            "fill; raise max_db_connections to at least 25 or lower pool_size",
        ),
        (
            {"max_db_connections": 22},
            "pgbouncer_databases[0] (app): pool_size 20 (pgbouncer_default_pool_size) + "
            "reserve_pool_size 5 (pgbouncer_reserve_pool_size) = 25 is above "
            "max_db_connections 22 (pgbouncer_max_db_connections), so the reserve pool can "
            "never be used in full; raise max_db_connections to at least 25 or lower the "
            "pool sizes",
        ),
        (
            {"databases": [{"name": "app", "host": "db", "max_db_connections": 8}]},
            "pool_size 20 (pgbouncer_default_pool_size) is above max_db_connections 8 "
            "(pgbouncer_databases[0] (app).max_db_connections), so the pool can never fill",
        ),
        (
            {"max_user_connections": 15},
            "pgbouncer_databases[0] (app): pool_size 20 (pgbouncer_default_pool_size) is above "
            "max_user_connections 15 (pgbouncer_max_user_connections), so the pool can never "
            "fill",
        ),
        (
            {"max_user_connections": 24},
            "= 25 is above max_user_connections 24 (pgbouncer_max_user_connections), so the "
            "reserve pool can never be used in full",
        ),
        (
            {"databases": [], "max_db_connections": 10},
            "the default pool (pgbouncer_databases is empty): pool_size 20 "
            "(pgbouncer_default_pool_size) is above max_db_connections 10",
        ),
        (
            {"limit_nofile": 1024},
            "pgbouncer_limit_nofile: 1024 is below the 2048 file descriptors one PgBouncer "
            "process may need ((max_client_conn 1000 + 25 server connections per process) x "
            "1.25 + 64, rounded up to a multiple of 1024); raise pgbouncer_limit_nofile to at "
            "least 2048",
        ),
        (
            {"limit_nofile": None},
            "pgbouncer_limit_nofile: not set, so systemd's default soft limit of 1024 applies, "
            "which is below the 2048 file descriptors",
        ),
        (
            {"max_client_conn": 0},
            "pgbouncer_max_client_conn: 0; PgBouncer would refuse every client",
        ),
        (
            {"default_pool_size": 0, "min_pool_size": 0},
            "pgbouncer_default_pool_size: 0; a pool without server connections",
        ),
        ({"processes": 0}, "pgbouncer_processes: 0; run at least 1 PgBouncer process"),
        ({"listen_port": 0}, "pgbouncer_listen_port: 0; expected a port from 1 to 65535"),
        ({"listen_port": 70000}, "pgbouncer_listen_port: 70000; expected a port from 1 to 65535"),
        ({"pool_mode": "tx"}, "pgbouncer_pool_mode: 'tx' is not one of session"),
        (
            {"auth_type": "hba", "auth_hba_rules": []},
            "pgbouncer_auth_hba_rules: empty, but pgbouncer_auth_type is hba",
        ),
        (
            {"auth_hba_rules": "host all all 0.0.0.0/0 md5"},
            "pgbouncer_auth_hba_rules: expected a list",
        ),
        (
            {"auth_query": "SELECT usename, passwd FROM pg_shadow WHERE usename=$1"},
            "pgbouncer_auth_user: not set, but pgbouncer_auth_query is",
        ),
        (
            {"auth_user": "pgbouncer_auth"},
            "pgbouncer_auth_user: 'pgbouncer_auth' is not in pgbouncer_users",
        ),
        (
            {"databases": [{"name": "app", "host": "db", "auth_user": "lookup"}]},
            "pgbouncer_databases[0] (app).auth_user: 'lookup' is not in pgbouncer_users",
        ),
        (
            {"databases": [{"name": "app", "host": "db", "auth_query": "SELECT 1"}]},
            "pgbouncer_databases[0] (app).auth_query: set, but neither pgbouncer_databases[0] "
            "(app).auth_user nor pgbouncer_auth_user is",
        ),
        ({"auth_type": "trust"}, "pgbouncer_auth_type: 'trust' checks no password"),
        ({"auth_type": "plain"}, "pgbouncer_auth_type: 'plain' sends passwords in clear text"),
        ({"auth_type": "any"}, "pgbouncer_auth_type: 'any' checks no password"),
        ({"auth_type": "kerberos"}, "pgbouncer_auth_type: 'kerberos' is not a PgBouncer auth_type"),
        (
            {"users": [], "admin_users": [], "stats_users": []},
            "pgbouncer_users: empty and pgbouncer_auth_query is not set, so with auth_type "
            "scram-sha-256 nobody can log in",
        ),
        (
            {"admin_users": ["root"]},
            "pgbouncer_admin_users: 'root' is not in pgbouncer_users, so it cannot log in to "
            "the admin console; add it to pgbouncer_users",
        ),
        (
            {"stats_users": "admin, exporter"},
            "pgbouncer_stats_users: 'exporter' is not in pgbouncer_users",
        ),
        ({"users": [{"password": "x"}]}, "pgbouncer_users[0]: name is missing"),
        ({"users": "app"}, "pgbouncer_users: expected a list"),
        ({"version": "abc"}, "version: PgBouncer version 'abc'"),
        ({"max_client_conn": "lots"}, "pgbouncer_max_client_conn: expected a whole number"),
        (
            {"databases": [{"name": "app"}]},
            "pgbouncer_databases[0] (app): host is missing",
        ),
        (
            {"version": OLD, "databases": [{"name": "app", "host": "db", "auth_dbname": "x"}]},
            "pgbouncer_databases[0] (app).auth_dbname: auth_dbname needs PgBouncer 1.19",
        ),
        *TLS_PROBLEMS,
    ],
)
def test_check_rules_name_the_variables(changes, expected):
    assert expected in errors(pgb.check, config(**changes))


@pytest.mark.parametrize("auth_type", ["md5", "scram-sha-256", "hba", "cert"])
def test_supported_auth_types_pass(auth_type):
    rules = ["host all all 0.0.0.0/0 scram-sha-256"] if auth_type == "hba" else []
    tls = VERIFIED if auth_type == "cert" else {}
    assert pgb.check(config(auth_type=auth_type, auth_hba_rules=rules, **tls)) is None


def test_a_complete_tls_setup_passes():
    assert pgb.check(config(**TLS)) is None


def test_auth_user_may_log_in_with_a_client_certificate_instead_of_a_userlist_entry():
    changed = config(**TLS, auth_user="pgbouncer_auth", auth_query="SELECT uname, phash FROM f($1)")
    assert pgb.check(changed) is None


def test_users_may_be_given_as_names():
    assert pgb.check(config(users=["app", "admin"])) is None


def test_users_may_come_from_auth_query():
    changed = config(
        users=[{"name": "lookup", "password": "x"}],
        auth_user="lookup",
        auth_query="SELECT usename, passwd FROM pg_shadow WHERE usename=$1",
        admin_users=["someone_in_postgres"],
    )
    assert pgb.check(changed) is None


@pytest.mark.parametrize("auth_type", ["cert", "hba"])
def test_console_users_need_no_userlist_entry_with_cert_or_hba(auth_type):
    changed = config(
        auth_type=auth_type,
        auth_hba_rules=["hostssl all all 0.0.0.0/0 cert"],
        users=[],
        admin_users=["root"],
        **VERIFIED,
    )
    assert pgb.check(changed) is None


def test_check_lists_every_problem_one_per_line():
    message = errors(pgb.check, config(processes=0, listen_port=0, min_pool_size=30))
    assert [line.split(":")[0] for line in message.splitlines()] == [
        "pgbouncer_min_pool_size",
        "pgbouncer_processes",
        "pgbouncer_listen_port",
    ]


def test_check_wants_a_mapping():
    assert errors(pgb.check, [1]) == "config: expected a mapping, got list"


# ------------------------------------------------------------------------- restarts

DEPLOYED = """\
; managed by poolkit
[databases]
app = host=db user=x
listen_port = 1

[pgbouncer]
listen_addr = *, 127.0.0.1
listen_port = 6432
unix_socket_dir = /run/postgresql
pool_mode = transaction
%include /etc/pgbouncer/extra.ini
"""
SAME = [
    ["listen_addr", "*, 127.0.0.1"],
    ["listen_port", "6432"],
    ["unix_socket_dir", "/run/postgresql"],
    ["pool_mode", "transaction"],
]


def with_pair(key: str, value: str | None) -> list[list[str]]:
    pairs = [pair for pair in SAME if pair[0] != key]
    return pairs if value is None else [*pairs, [key, value]]


def test_a_first_install_needs_no_restart():
    assert pgb.restart_required("", SAME) == []


def test_unchanged_settings_need_no_restart():
    assert pgb.restart_required(DEPLOYED, SAME) == []


def test_a_reloadable_change_needs_no_restart():
    assert pgb.restart_required(DEPLOYED, with_pair("pool_mode", "session")) == []


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("listen_port", "6433", ["listen_port"]),
        ("unix_socket_dir", None, ["unix_socket_dir"]),
        ("so_reuseport", "1", ["so_reuseport"]),
        ("listen_addr", "*", ["listen_addr"]),
    ],
    ids=["changed", "removed", "added", "list-changed"],
)
def test_restart_keys_that_differ(key, value, expected):
    assert pgb.restart_required(DEPLOYED, with_pair(key, value)) == expected


def test_several_restart_keys_come_sorted():
    pairs = [*with_pair("listen_port", "7000"), ["user", "postgres"], ["pidfile", "/run/p.pid"]]
    assert pgb.restart_required(DEPLOYED, pairs) == ["listen_port", "pidfile", "user"]


def test_list_spacing_and_key_case_do_not_count_as_changes():
    deployed = DEPLOYED.replace("listen_addr = *, 127.0.0.1", "LISTEN_ADDR=*,127.0.0.1")
    assert pgb.restart_required(deployed, SAME) == []


def test_a_deployed_file_without_pgbouncer_section_counts_every_restart_key_as_added():
    assert pgb.restart_required("[databases]\napp = host=db\n", SAME) == [
        "listen_addr",
        "listen_port",
        "unix_socket_dir",
    ]


@pytest.mark.parametrize(
    ("old", "new", "complaint"),
    [
        (5, SAME, "old pgbouncer.ini text: expected a string, got int"),
        (DEPLOYED, {"listen_port": "1"}, "new settings: expected a list of [key, value] pairs"),
        (DEPLOYED, [["listen_port"]], "new settings[0]: expected a [key, value] pair"),
        (DEPLOYED, [["listen_port", 6432]], "new settings[0]: expected a [key, value] pair"),
    ],
)
def test_restart_required_refuses_bad_input(old, new, complaint):
    assert complaint in errors(pgb.restart_required, old, new)


def test_ini_settings_output_round_trips_through_restart_required():
    pairs = pgb.ini_settings(
        {"listen_addr": ["*", "::"], "listen_port": 6432, "unix_socket_mode": 0o770}, NEW
    )
    deployed = "[pgbouncer]\n" + "".join(f"{key} = {value}\n" for key, value in pairs)
    assert pgb.restart_required(deployed, pairs) == []


# ------------------------------------------------------------------------- exporter

EXPORTER = {
    "exporter_enabled": True,
    "exporter_user": "monitor",
    "exporter_port": 9127,
    "password_users": ["app", "monitor"],
    "users": [*GOOD["users"], {"name": "monitor", "password": "y"}],
    "stats_users": ["monitor"],
    "unix_socket_dir": "/run/pgbouncer",
    "service_manager": "systemd",
    "distribution": "Debian",
    "distribution_version": "13",
}


def test_an_exporter_with_a_stats_user_on_debian_13_passes():
    assert pgb.check(config(**EXPORTER)) is None


def test_a_disabled_exporter_is_not_checked():
    assert (
        pgb.check(config(**{**EXPORTER, "exporter_enabled": False, "exporter_user": None})) is None
    )


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"distribution_version": "12"},
            "pgbouncer_exporter_enabled: Debian 12's prometheus-pgbouncer-exporter is not "
            "prometheus-community's",
        ),
        ({"exporter_user": None}, "pgbouncer_exporter_user: not set"),
        (
            {"admin_users": ["monitor"]},
            "pgbouncer_exporter_user: 'monitor' is in pgbouncer_admin_users",
        ),
        ({"stats_users": []}, "pgbouncer_exporter_user: 'monitor' is not in pgbouncer_stats_users"),
        ({"password_users": []}, "pgbouncer_exporter_user: 'monitor' has no password"),
        ({"unix_socket_dir": ""}, "pgbouncer_unix_socket_dir is empty"),
        ({"service_manager": "none"}, "needs pgbouncer_service_manager systemd"),
        ({"exporter_port": 70000}, "pgbouncer_exporter_port: 70000"),
        ({"exporter_port": 6431, "processes": 2}, "includes pgbouncer_listen_port 6432"),
    ],
)
def test_exporter_rules_name_the_variables(changes, expected):
    assert expected in errors(pgb.check, config(**{**EXPORTER, **changes}))


def test_the_exporter_runs_on_other_distributions_without_a_release_check():
    assert (
        pgb.check(config(**{**EXPORTER, "distribution": "Ubuntu", "distribution_version": "24"}))
        is None
    )


# ------------------------------------------------------------------------- [users] from a sizing

MIXED = {
    "database": {"max_connections": 100, "cpu_cores": 2},
    "pools": [
        {"database": "app", "user": "web", "share": 3},
        {"database": "app", "user": "batch", "share": 1},
    ],
    "apps": [{"name": "web", "instances": 1, "processes": 4, "connections_per_process": 5}],
}


def test_the_sizings_per_user_pools_become_users_lines():
    sizing = size_dict(MIXED)
    expected = [
        [u["user"], f"pool_size={u['pool_size']} reserve_pool_size={u['reserve_pool_size']}"]
        for u in sizing["pgbouncer"]["users"]
    ]
    assert len(expected) == 2
    assert pgb.users_section([], NEW, sizing) == expected


def test_an_explicit_user_setting_wins_over_the_sizing():
    sizing = size_dict(MIXED)
    lines = dict(pgb.users_section([{"name": "web", "pool_size": 9, "pool_mode": "session"}],
                                   NEW, sizing))  # fmt: skip
    batch = next(u for u in sizing["pgbouncer"]["users"] if u["user"] == "batch")
    web = next(u for u in sizing["pgbouncer"]["users"] if u["user"] == "web")
    assert (
        lines["web"]
        == f"pool_mode=session pool_size=9 reserve_pool_size={web['reserve_pool_size']}"
    )
    assert lines["batch"] == (
        f"pool_size={batch['pool_size']} reserve_pool_size={batch['reserve_pool_size']}"
    )


def test_a_release_without_per_user_pools_refuses_a_mixed_sizing():
    message = errors(pgb.users_section, [], OLD, size_dict(MIXED))
    assert "pooler_topology (user web: pool_size" in message
    assert "pool_size needs PgBouncer 1.23 or newer, this host has 1.18.0" in message
    assert "same share in pooler_topology.pools" in message


def test_a_single_user_sizing_adds_no_users_lines_on_any_release():
    one = {**MIXED, "pools": [{"database": "app", "user": "web"}]}
    assert pgb.users_section([], OLD, size_dict(one)) == []
