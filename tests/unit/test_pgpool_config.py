"""poolkit.pgpool: settings by version, pgpool.conf values, backends, preflight, pool_passwd.

The version tables are checked against what was measured on the Debian packages
Pgpool-II 4.3.5 (Debian 12), 4.6.1 (Debian 13) and 4.7.3 (Debian forky,
docs/versions-forky.md), and the pool_passwd / pcp.conf
vectors come from the real pg_enc and pg_md5 of both packages (docs/pgpool-facts.md has
the commands); one behaviour per test.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from poolkit import PoolkitError, pgpool_tables
from poolkit import pgpool as pp
from poolkit.sizing import size_dict

OLD, NEW = "4.3.5", "4.6.1"


def words(text: str) -> set[str]:
    return set(text.split())


# Measured: PGPOOL SHOW ALL of both 4.3.5 and 4.6.1 lists these keys (and the sample
# pgpool.conf of both has them, except health_check_test and replication_mode).
KNOWN_TO_BOTH = words(
    """
    allow_clear_text_frontend_auth allow_multiple_failover_requests_from_node
    allow_sql_comments app_name_redirect_preference_list arping_cmd arping_path
    authentication_timeout auto_failback auto_failback_interval backend_clustering_mode
    cache_safe_memqcache_table_list cache_unsafe_memqcache_table_list check_temp_table
    check_unlogged_table child_life_time child_max_connections clear_memqcache_on_escalation
    client_idle_limit client_idle_limit_in_recovery client_min_messages connect_timeout
    connection_cache connection_life_time database_redirect_preference_list delay_threshold
    detach_false_primary disable_load_balance_on_write dml_adaptive_object_relationship_list
    enable_consensus_with_half_votes enable_pool_hba enable_shared_relcache failback_command
    failover_command failover_if_affected_tuples_mismatch failover_on_backend_error
    failover_on_backend_shutdown failover_require_consensus failover_when_quorum_exists
    follow_primary_command health_check_database health_check_max_retries
    health_check_password health_check_period health_check_retry_delay health_check_timeout
    health_check_user if_cmd_path if_down_cmd if_up_cmd ignore_leading_white_space
    insert_lock listen_addresses listen_backlog_multiplier load_balance_mode lobj_lock_table
    log_client_messages log_connections log_destination log_directory log_disconnections
    log_error_verbosity log_file_mode log_filename log_hostname log_line_prefix
    log_min_messages log_per_node_statement log_rotation_age log_rotation_size
    log_standby_delay log_statement log_truncate_on_rotation logging_collector
    max_pool memory_cache_enabled memqcache_auto_cache_invalidation
    memqcache_cache_block_size memqcache_expire memqcache_max_num_cache memqcache_maxcache
    memqcache_memcached_host memqcache_memcached_port memqcache_method memqcache_oiddir
    memqcache_total_size num_init_children pcp_listen_addresses pcp_port pcp_socket_dir
    pid_file_name ping_path pool_passwd port prefer_lower_delay_standby
    primary_routing_query_pattern_list read_only_function_list recovery_1st_stage_command
    recovery_2nd_stage_command recovery_password recovery_timeout recovery_user
    relcache_expire relcache_query_target relcache_size replicate_select
    replication_stop_on_mismatch reserved_connections reset_query_list
    search_primary_node_timeout serialize_accept sr_check_database sr_check_password
    sr_check_period sr_check_user ssl ssl_ca_cert ssl_ca_cert_dir ssl_cert ssl_ciphers
    ssl_crl_file ssl_dh_params_file ssl_ecdh_curve ssl_key ssl_passphrase_command
    ssl_prefer_server_ciphers statement_level_load_balance syslog_facility syslog_ident
    trusted_servers use_watchdog wd_authkey wd_de_escalation_command wd_escalation_command
    wd_heartbeat_deadtime wd_heartbeat_keepalive wd_interval wd_ipc_socket_dir
    wd_life_point wd_lifecheck_dbname wd_lifecheck_method wd_lifecheck_password
    wd_lifecheck_query wd_lifecheck_user wd_lost_node_removal_timeout
    wd_monitoring_interfaces_list wd_no_show_node_removal_timeout wd_priority
    wd_remove_shutdown_nodes write_function_list
    """
)
# Measured: in PGPOOL SHOW ALL of 4.6.1 only (4.3.5 logs "unrecognized configuration
# parameter" at INFO for them and starts anyway).
ONLY_NEW = words(
    """
    delay_threshold_by_time delegate_ip log_backend_messages log_pcp_processes
    max_spare_children min_spare_children notice_per_node_statement process_management_mode
    process_management_strategy trusted_server_command unix_socket_directories
    unix_socket_group unix_socket_permissions user_redirect_preference_list
    """
)
# Measured: in PGPOOL SHOW ALL of 4.7.3 only (4.6.1 lacks them); logdir is not in 4.7.3's
# SHOW ALL but still read ("WARNING: logdir is changed to work_dir").
ONLY_47 = words(
    """
    recovery_database wd_heartbeat_listen_addresses wd_heartbeat_listen_port
    wd_listen_address wd_listen_port work_dir
    """
)
# Measured: in PGPOOL SHOW ALL of 4.3.5 only (4.6.1 ignores socket_dir, maps delegate_IP).
ONLY_OLD = {"socket_dir", "delegate_IP"}
# Measured: in PGPOOL SHOW ALL of 4.3.5 and 4.6.1, not 4.7.3 (which still reads it as
# work_dir, with a warning): the role writes work_dir, as logdir before 4.7.
UNTIL_46 = {"logdir"}
# Read by Pgpool-II but refused by poolkit (measured: SHOW ALL lists the first two; 4.3.5
# and 4.6.1 silently read fail_over_on_backend_error; include is a directive).
REFUSED = ["replication_mode", "health_check_test", "fail_over_on_backend_error", "include"]
# Measured: 4.3.5 and 4.6.1 log "unrecognized configuration parameter" for these.
UNKNOWN_TO_BOTH = ["foo_bar", "Max_Pool", "Num_Init_Children", "master_slave_mode", "max_poool"]

# pool_passwd vectors from the REAL pg_enc, identical on 4.3.5 and 4.6.1:
#   printf 'poolkit-test-key\n' > key && chmod 600 key
#   pg_enc -m -f pgpool.conf -k key -u app s3cret-app      -> app:AESxa73vzhHByTo8waBTT77uQ==
#   pg_enc -m -f pgpool.conf -K poolkit-test-key -u checker chk-pass
#                                                          -> checker:AESP55of/SPg6qbcPGCrbEP7Q==
#   pg_enc -k key "$password"  (prints "pool_passwd string: AES...") for the others.
POOL_KEY = "poolkit-test-key"
AES_VECTORS = [
    ("app", "s3cret-app", "AESxa73vzhHByTo8waBTT77uQ=="),
    ("checker", "chk-pass", "AESP55of/SPg6qbcPGCrbEP7Q=="),
    ("colon", "a:b\\c d'e\"f", "AESKQfg2FUuaWYIfL813xyUUA=="),
    ("uni", "pässwörd€", "AES0WVPxEG5TpPQLqHqLkD4qg=="),
    (
        "long79",
        "x" * 79,
        "AESn03v8XmyrdHKhg18j9+38onJKQp0KZS19Z1nG7kynVsJfTvQ6B8c0i0t7TwLM7dWJ2i45MoDy9IDydH/"
        "xb8pK7KnWZTQ+JjqqInx1D6XFaM=",
    ),
]
# pg_md5 -m -f pgpool.conf -u md5user md5-pass  -> pool_passwd line (4.3.5 and 4.6.1)
MD5_VECTOR = ("md5user", "md5-pass", "md5user:md51fa4c7a25993de52b94f79f825f64139")
# pg_md5 PASSWORD prints the pcp.conf hash (4.3.5 and 4.6.1); "pcp pass:1" logged in to
# pcp_node_count through a real pcp.conf holding it.
PCP_VECTORS = [
    ("s3cret-app", "8fc1bd3d5c40e0eb0aa6716838970150"),
    ("pcp pass:1", "5a94ad56cb21f9378b1c85b8283af05a"),
]


def _value_for(key: str) -> Any:
    """A valid value of `key`'s kind."""
    if key in pgpool_tables._BOOLEAN:
        return True
    if key in ("port", "pcp_port"):
        return 9999
    if key in pp.INTEGER_SETTINGS:
        return 1
    if key in pgpool_tables._MODES:
        return 0o600
    if key in pp.CHOICES:
        return pp.CHOICES[key][0]
    return "x"


def _problems(excinfo: pytest.ExceptionInfo[PoolkitError]) -> list[str]:
    return str(excinfo.value).split("\n")


def _settings_error(settings: dict, version: str = NEW, extra: dict | None = None) -> str:
    with pytest.raises(PoolkitError) as excinfo:
        pp.conf_settings(settings, version, extra)
    return str(excinfo.value)


def _value(settings: dict, version: str = NEW) -> str:
    pairs = pp.conf_settings(settings, version)
    assert len(pairs) == 1
    return pairs[0][1]


# ------------------------------------------------------------------------- versions


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("pgpool-II version 4.6.1 (chirikoboshi)", "4.6.1"),
        ("pgpool-II version 4.3.5 (tamahomeboshi)\n", "4.3.5"),
        ("4.3.5-1+deb12u1", "4.3.5"),
        ("4.6.1-2", "4.6.1"),
        ("4.6.1-1.pgdg120+1", "4.6.1"),
        ("1:4.6.1-1", "4.6.1"),
        ("4.6", "4.6.0"),
    ],
)
def test_parse_version(text, expected):
    assert pp.parse_version(text) == expected


@pytest.mark.parametrize("text", ["", "pgpool", "version four", None, 4.6])
def test_parse_version_refuses_what_it_cannot_read(text):
    with pytest.raises(PoolkitError, match="Pgpool-II version"):
        pp.parse_version(text)


def test_versions_older_than_43_are_refused():
    with pytest.raises(PoolkitError, match=r"older than 4\.3"):
        pp.conf_settings({}, "4.2.15")


# ------------------------------------------------------------------------- key tables


def test_settings_table_is_exactly_the_measured_keys():
    assert set(pp.SETTINGS) == KNOWN_TO_BOTH | ONLY_NEW | ONLY_OLD | ONLY_47 | UNTIL_46


@pytest.mark.parametrize("key", sorted(ONLY_47 - set(pp.RENAMED)))
def test_key_only_in_47_is_refused_on_46_and_written_on_47(key):
    assert pp.conf_settings({key: _value_for(key)}, "4.7.3")[0][0] == key
    assert f"{key} needs Pgpool-II 4.7 or newer" in _settings_error({key: _value_for(key)}, NEW)


@pytest.mark.parametrize("version", [OLD, NEW])
@pytest.mark.parametrize("key", sorted(KNOWN_TO_BOTH))
def test_key_known_to_both_versions_is_written(key, version):
    assert pp.conf_settings({key: _value_for(key)}, version)[0][0] == key


@pytest.mark.parametrize("key", sorted(ONLY_NEW - set(pp.RENAMED)))
def test_key_only_in_46_is_refused_on_43(key):
    message = _settings_error({key: _value_for(key)}, OLD)
    assert message.startswith(f"pgpool_{key}: {key} needs Pgpool-II 4.")
    assert "this host has 4.3.5" in message


@pytest.mark.parametrize("key", sorted(ONLY_NEW - set(pp.RENAMED)))
def test_key_only_in_46_is_written_on_46(key):
    assert pp.conf_settings({key: _value_for(key)}, NEW)[0][0] == key


@pytest.mark.parametrize(
    ("key", "first"),
    [
        ("process_management_mode", "4.4.0"),
        ("log_pcp_processes", "4.5.0"),
        ("user_redirect_preference_list", "4.5.0"),
        ("log_backend_messages", "4.6.0"),
    ],
)
def test_key_is_gated_by_the_release_that_added_it(key, first):
    major, minor, _ = first.split(".")
    earlier = f"{major}.{int(minor) - 1}.9"
    assert pp.conf_settings({key: _value_for(key)}, first)
    assert f"needs Pgpool-II {major}.{minor}" in _settings_error({key: _value_for(key)}, earlier)


@pytest.mark.parametrize(
    ("key", "version", "written"),
    [
        ("unix_socket_directories", OLD, "socket_dir"),
        ("unix_socket_directories", "4.4.0", "unix_socket_directories"),
        ("unix_socket_directories", NEW, "unix_socket_directories"),
        ("delegate_ip", OLD, "delegate_IP"),
        ("delegate_ip", NEW, "delegate_ip"),
        ("work_dir", OLD, "logdir"),
        ("work_dir", NEW, "logdir"),
        ("work_dir", "4.7.3", "work_dir"),
    ],
)
def test_neutral_name_is_written_as_the_version_reads_it(key, version, written):
    assert pp.conf_settings({key: "/run/postgresql"}, version) == [[written, "'/run/postgresql'"]]


@pytest.mark.parametrize("version", [OLD, NEW])
@pytest.mark.parametrize(
    ("old", "where"),
    [
        ("socket_dir", "pgpool_unix_socket_directories"),
        ("delegate_IP", "delegate_ip in pgpool_extra_settings"),
        ("logdir", "pgpool_work_dir"),
    ],
)
def test_old_name_is_refused_pointing_to_the_neutral_name(old, where, version):
    assert f"set {where} instead" in _settings_error({old: "/tmp"}, version)


def test_a_rename_names_the_release_that_brought_the_new_name():
    assert "the pre-4.7 name of work_dir" in _settings_error({"logdir": "/tmp"}, NEW)
    assert "the pre-4.4 name of delegate_ip" in _settings_error({"delegate_IP": "x"}, NEW)


@pytest.mark.parametrize("key", REFUSED)
def test_refused_key_is_refused_with_its_reason(key):
    assert _settings_error({key: True}).startswith(f"pgpool_{key}: '{key}' is ")


@pytest.mark.parametrize("key", UNKNOWN_TO_BOTH)
@pytest.mark.parametrize("version", [OLD, NEW])
def test_unknown_key_is_refused(key, version):
    assert f"Pgpool-II {version} has no setting '{key}'" in _settings_error({key: 1}, version)


def test_unknown_key_gets_close_matches():
    assert "(did you mean max_pool?)" in _settings_error({"max_poool": 1})


def test_unknown_key_on_a_newer_version_says_what_poolkit_knows():
    message = _settings_error({"future_key": 1}, "4.8.0")
    assert "not a Pgpool-II setting poolkit knows (it knows those of 4.3 to 4.7)" in message


@pytest.mark.parametrize(
    ("key", "complaint"),
    [
        ("backend_hostname0", "belongs to a backend; list the backends in pgpool_backends"),
        ("backend_port", "belongs to a backend"),
        ("health_check_period1", "set the global pgpool_health_check_period instead"),
        ("connect_timeout0", "set the global pgpool_connect_timeout instead"),
        ("hostname0", "watchdog node list"),
        ("heartbeat_hostname0", "watchdog node list"),
        ("wd_port1", "watchdog node list"),
    ],
)
def test_indexed_key_is_refused(key, complaint):
    assert complaint in _settings_error({key: "x"})


# ------------------------------------------------------------------------- values


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("nobody", "'nobody'"),
        ("", "''"),
        ("%m: %a pid %p: ", "'%m: %a pid %p: '"),
        ("back\\slash", "'back\\slash'"),  # measured: read literally
        ("trailing\\", "'trailing\\'"),  # measured: read as trailing\
        ("# not a comment", "'# not a comment'"),
    ],
)
def test_string_is_single_quoted_verbatim(value, written):
    assert _value({"health_check_user": value}) == written


def test_string_with_a_single_quote_is_refused():
    # Measured: '' is a syntax error that stops Pgpool-II, \' keeps the backslash.
    assert "cannot hold" in _settings_error({"health_check_user": "it's"})


@pytest.mark.parametrize("value", ["a\nb", "a\rb", "a\0b"])
def test_string_with_a_line_break_or_nul_is_refused(value):
    assert "line break or NUL" in _settings_error({"health_check_user": value})


@pytest.mark.parametrize("value", [5, True, 1.5])
def test_string_of_another_type_is_refused(value):
    assert "expected a string" in _settings_error({"health_check_user": value})


@pytest.mark.parametrize(
    ("value", "written"),
    [(True, "on"), (False, "off"), (1, "on"), (0, "off"), ("yes", "on"), ("False", "off")],
)
def test_boolean_is_on_or_off(value, written):
    assert _value({"load_balance_mode": value}) == written


def test_boolean_refuses_other_words():
    # Measured: 'maybe' is ignored silently and the default kept.
    assert "expected true or false, got 'maybe'" in _settings_error({"load_balance_mode": "maybe"})


@pytest.mark.parametrize(("value", "written"), [(32, "32"), ("32", "32"), (" 7 ", "7")])
def test_whole_number_is_bare(value, written):
    assert _value({"num_init_children": value}) == written


@pytest.mark.parametrize("value", [-1, "5min", 1.5, True])
def test_whole_number_refuses_others(value):
    assert "pgpool_num_init_children: expected a whole number" in _settings_error(
        {"num_init_children": value}
    )


@pytest.mark.parametrize("port", [80, 1023, 65536])
def test_port_outside_1024_65535_is_refused(port):
    # Measured: "80 is outside the valid range for parameter "port" (1024 .. 65535)".
    assert "outside 1024-65535" in _settings_error({"port": port})


@pytest.mark.parametrize(("value", "written"), [(0o600, "0600"), ("0640", "0640"), ("770", "0770")])
def test_file_mode_is_octal(value, written):
    assert _value({"log_file_mode": value}) == written


@pytest.mark.parametrize(
    ("key", "value", "written"),
    [
        ("backend_clustering_mode", "Streaming_Replication", "'streaming_replication'"),
        ("syslog_facility", "local3", "'LOCAL3'"),
        ("log_backend_messages", "terse", "'terse'"),
        ("check_temp_table", False, "'off'"),
    ],
)
def test_enum_is_quoted_in_its_canonical_spelling(key, value, written):
    assert _value({key: value}) == written


def test_enum_refuses_other_values():
    # Measured: "invalid value for parameter "backend_clustering_mode"" stops Pgpool-II.
    assert "'foo' is not one of streaming_replication" in _settings_error(
        {"backend_clustering_mode": "foo"}
    )


@pytest.mark.parametrize(
    ("key", "value", "written"),
    [
        ("reset_query_list", ["ABORT", " DISCARD ALL "], "'ABORT;DISCARD ALL'"),
        ("listen_addresses", ["localhost", "10.0.0.7"], "'localhost,10.0.0.7'"),
        ("write_function_list", ["nextval", "setval"], "'nextval,setval'"),
        ("listen_addresses", "*", "'*'"),
    ],
)
def test_list_is_joined_with_its_separator_without_blanks(key, value, written):
    assert _value({key: value}) == written


@pytest.mark.parametrize(
    "key", ["listen_addresses", "pcp_listen_addresses", "unix_socket_directories"]
)
def test_several_addresses_or_directories_are_refused_on_43(key):
    # Measured on 4.3.5: listen_addresses = 'localhost,127.0.0.1' fails (getaddrinfo).
    assert "reads a single" in _settings_error({key: ["a", "b"]}, OLD)


def test_several_pcp_socket_dirs_need_45():
    assert "lists need 4.5" in _settings_error({"pcp_socket_dir": "/a,/b"}, "4.4.3")
    assert _value({"pcp_socket_dir": ["/a", "/b"]}, "4.5.0") == "'/a,/b'"


@pytest.mark.parametrize("item", ["", "a,b", "it's"])
def test_list_item_must_be_writable(item):
    assert "pgpool_listen_addresses[1]" in _settings_error({"listen_addresses": ["x", item]})


# ------------------------------------------------------------------------- conf_settings


def test_none_leaves_the_default():
    assert pp.conf_settings({"num_init_children": None, "max_pool": 1}, NEW) == [["max_pool", "1"]]


def test_modeled_keys_follow_the_sample_order_and_extra_keys_come_after_sorted():
    pairs = pp.conf_settings(
        {"max_pool": 1, "port": 9999},
        NEW,
        {"log_statement": True, "child_life_time": 300},
    )
    assert [key for key, _ in pairs] == ["port", "max_pool", "child_life_time", "log_statement"]


def test_extra_key_the_role_models_is_refused():
    message = _settings_error({"port": 9999}, NEW, {"port": 9998})
    assert "pgpool_extra_settings.port: set pgpool_port instead" in message


def test_extra_key_is_checked_like_a_modeled_one():
    message = _settings_error({}, OLD, {"log_backend_messages": "terse"})
    assert message.startswith("pgpool_extra_settings.log_backend_messages: log_backend_messages")
    assert "remove it or install a newer Pgpool-II" in message


def test_every_problem_is_reported_at_once():
    with pytest.raises(PoolkitError) as excinfo:
        pp.conf_settings(
            {"max_poool": 1, "port": 80, "socket_dir": "/tmp", "log_backend_messages": "terse"},
            OLD,
            {"include": "x"},
        )
    assert len(_problems(excinfo)) == 5


@pytest.mark.parametrize("bad", [None, ["port"], "port=1"])
def test_settings_must_be_a_mapping(bad):
    with pytest.raises(PoolkitError, match="settings: expected a mapping"):
        pp.conf_settings(bad, NEW)


def test_extra_settings_must_be_a_mapping():
    assert "pgpool_extra_settings: expected a mapping" in _settings_error({}, NEW, ["port"])


# ------------------------------------------------------------------------- backends


def test_backend_gets_port_5432_and_weight_1():
    # Measured: without backend_port0 the backend is down, without backend_weight0 its
    # lb_weight is -nan.
    assert pp.backends_section([{"hostname": "10.0.0.5"}], NEW) == [
        ["backend_hostname0", "'10.0.0.5'"],
        ["backend_port0", "5432"],
        ["backend_weight0", "1"],
    ]


def test_backends_are_numbered_from_0_with_every_key():
    pairs = pp.backends_section(
        [
            {"hostname": "pg1"},
            {
                "hostname": "pg2",
                "port": "5433",
                "weight": 0.5,
                "data_directory": "/var/lib/postgresql/17/main",
                "flag": ["DISALLOW_TO_FAILOVER", "ALWAYS_PRIMARY"],
                "application_name": "pg2",
            },
        ],
        OLD,
    )
    assert pairs[3:] == [
        ["backend_hostname1", "'pg2'"],
        ["backend_port1", "5433"],
        ["backend_weight1", "0.5"],
        ["backend_data_directory1", "'/var/lib/postgresql/17/main'"],
        ["backend_flag1", "'DISALLOW_TO_FAILOVER|ALWAYS_PRIMARY'"],
        ["backend_application_name1", "'pg2'"],
    ]


@pytest.mark.parametrize(
    ("flag", "written"),
    [
        ("allow_to_failover", "'ALLOW_TO_FAILOVER'"),
        ("DISALLOW_TO_FAILOVER | ALWAYS_PRIMARY", "'DISALLOW_TO_FAILOVER|ALWAYS_PRIMARY'"),
    ],
)
def test_backend_flag_is_normalised(flag, written):
    pairs = pp.backends_section([{"hostname": "pg1", "flag": flag}], NEW)
    assert ["backend_flag0", written] in pairs


@pytest.mark.parametrize(
    ("backends", "complaint"),
    [
        ([], "pgpool_backends: empty; Pgpool-II needs at least one backend"),
        ({"hostname": "pg1"}, "pgpool_backends: expected a list of mappings"),
        ([{"port": 5432}], "pgpool_backends[0]: hostname is missing"),
        ([{"hostname": "  "}], "pgpool_backends[0].hostname: blank"),
        ([{"hostname": 5}], "pgpool_backends[0].hostname: expected a string"),
        ([{"hostname": "pg1", "host": "x"}], "pgpool_backends[0].host: a backend has no setting"),
        ([{"hostname": "pg1", "port": 80}], "pgpool_backends[0].port: 80 is outside 1024-65535"),
        ([{"hostname": "pg1", "weight": -1}], "pgpool_backends[0].weight: -1 is outside 0-"),
        ([{"hostname": "pg1", "weight": "heavy"}], "expected a number >= 0, got 'heavy'"),
        ([{"hostname": "pg1", "flag": "FOO"}], "'FOO' is not one of ALLOW_TO_FAILOVER"),
        (
            [{"hostname": "pg1", "flag": "ALLOW_TO_FAILOVER|DISALLOW_TO_FAILOVER"}],
            "exclude each other",
        ),
        (
            [
                {"hostname": "pg1", "flag": "ALWAYS_PRIMARY"},
                {"hostname": "pg2", "flag": "ALWAYS_PRIMARY"},
            ],
            "ALWAYS_PRIMARY on more than one backend",
        ),
        (
            [{"hostname": "pg1"}, {"hostname": "pg1", "port": 5432}],
            "pgpool_backends[1]: pg1:5432 is already pgpool_backends[0]",
        ),
        ([{"hostname": "pg1", "weight": 0}], "every weight is 0"),
        ([{"hostname": "it's"}], "pgpool_backends[0].hostname: contains a single quote"),
        (["pg1"], "pgpool_backends[0]: expected a mapping with a hostname"),
    ],
)
def test_backend_problems_name_the_entry(backends, complaint):
    with pytest.raises(PoolkitError) as excinfo:
        pp.backends_section(backends, NEW)
    assert complaint in str(excinfo.value)


def test_backend_with_a_null_key_takes_the_default():
    pairs = pp.backends_section([{"hostname": "pg1", "port": None, "flag": None}], NEW)
    assert ["backend_port0", "5432"] in pairs
    assert all(key != "backend_flag0" for key, _ in pairs)


def test_two_backends_on_one_host_with_different_ports_are_fine():
    pairs = pp.backends_section([{"hostname": "pg1"}, {"hostname": "pg1", "port": 5433}], NEW)
    assert ["backend_port1", "5433"] in pairs


# ------------------------------------------------------------------------- check

GOOD: dict[str, Any] = {
    "version": NEW,
    "num_init_children": 12,
    "max_pool": 4,
    "backend_max_connections": 100,
    "backends": [{"hostname": "pg1"}, {"hostname": "pg2"}],
    "health_check_period": 10,
    "health_check_user": "pgpool",
    "sr_check_user": "pgpool",
    "users": [{"name": "pgpool", "password": "x"}],
}


def config(**changes: Any) -> dict[str, Any]:
    result = copy.deepcopy(GOOD)
    for key, value in changes.items():
        if value is _DELETE:
            result.pop(key, None)
        else:
            result[key] = value
    return result


_DELETE = object()


def check_problems(**changes: Any) -> list[str]:
    with pytest.raises(PoolkitError) as excinfo:
        pp.check(config(**changes))
    return _problems(excinfo)


def test_good_config_passes():
    assert pp.check(config()) is None


def test_budget_overflow_gives_every_number_and_the_largest_fit():
    (problem,) = check_problems(num_init_children=13)
    assert problem.startswith(
        "pgpool_num_init_children: 1 Pgpool-II node x num_init_children 13 x max_pool 4 x 2 "
        "(pgpool_query_cancel: a cancel request needs a second connection per child) = 104 "
        "backend connections, above the 97 each backend has for Pgpool-II "
        "(pgpool_backend_max_connections 100 - pgpool_backend_superuser_reserved_connections 3 "
        "- pgpool_backend_reserved_connections 0 - pgpool_backend_other_connections 0); the "
        "largest pgpool_num_init_children that fits is floor(97 / (1 x 4 x 2)) = 12, or lower "
        "pgpool_max_pool (poolkit's sizing uses 1)."
    )
    assert "Rule: Pgpool-II docs" in problem


def test_budget_fits_exactly():
    # 1 x 12 x 4 x 2 = 96 <= 97
    assert pp.check(config(num_init_children=12)) is None


def test_budget_without_query_cancel_is_not_doubled():
    assert pp.check(config(num_init_children=24, query_cancel=False)) is None
    (problem,) = check_problems(num_init_children=25, query_cancel=False)
    assert "x max_pool 4 = 100 backend connections" in problem
    assert "floor(97 / (1 x 4 x 1)) = 24" in problem


def test_budget_counts_every_pgpool_node_and_every_reserved_connection():
    (problem,) = check_problems(
        nodes=2,
        backend_superuser_reserved_connections=5,
        backend_reserved_connections=2,
        backend_other_connections=10,
    )
    assert "2 Pgpool-II nodes x num_init_children 12 x max_pool 4 x 2" in problem
    assert "= 192 backend connections, above the 83 each backend has" in problem
    assert "floor(83 / (2 x 4 x 2)) = 5" in problem


def test_budget_when_not_even_one_child_fits():
    (problem,) = check_problems(num_init_children=1, max_pool=4, backend_max_connections=10)
    assert "not even 1 child fits with pgpool_max_pool 4" in problem


def test_budget_comes_from_the_sizing_when_given():
    topology = {
        "database": {"max_connections": 100, "cpu_cores": 4},
        "pools": [{"database": "app", "user": "app", "share": 1}],
        "apps": [{"name": "web", "instances": 1, "processes": 1, "connections_per_process": 5}],
        "pgpool": {"nodes": 1},
    }
    sizing = size_dict(topology)
    children = sizing["pgpool"]["num_init_children"]
    fits = config(sizing=sizing, num_init_children=children, max_pool=1)
    assert pp.check({**fits, "backend_max_connections": None}) is None
    (problem,) = check_problems(sizing=sizing, num_init_children=children + 1, max_pool=1)
    share = sizing["budget"]["pgpool_share"]
    assert f"pgpool_topology's sizing: budget.pgpool_share {share}" in problem
    assert (
        f"fits is floor({sizing['budget']['pgpool_share']} / (1 x 1 x 2)) = {children}" in problem
    )


def test_budget_needs_max_connections_or_a_sizing():
    (problem,) = check_problems(backend_max_connections=_DELETE)
    assert problem.startswith("pgpool_backend_max_connections: not set")


def test_budget_refuses_a_sizing_without_pgpool_share():
    (problem,) = check_problems(sizing={"budget": {}})
    assert problem.startswith("pgpool_topology: its sizing is not the dict poolkit_size returns")


def test_budget_that_leaves_nothing_is_refused():
    (problem,) = check_problems(backend_max_connections=3)
    assert "= 0 leaves no connection for Pgpool-II" in problem


def test_null_numbers_take_pgpool_defaults():
    # num_init_children 32 x max_pool 4 x 2 = 256
    (problem,) = check_problems(num_init_children=None, max_pool=None)
    assert "num_init_children 32 x max_pool 4 x 2 (" in problem
    assert ") = 256 backend connections" in problem


@pytest.mark.parametrize(("reserved", "fails"), [(11, False), (12, True), (20, True)])
def test_reserved_connections_must_stay_below_num_init_children(reserved, fails):
    if not fails:
        assert pp.check(config(reserved_connections=reserved)) is None
        return
    (problem,) = check_problems(reserved_connections=reserved)
    assert problem.startswith(f"pgpool_reserved_connections: {reserved} is not below")


def test_dynamic_mode_max_spare_children_above_num_init_children():
    # Measured: "max_spare_children:10 can't be greater than num_init_children:2".
    (problem,) = check_problems(process_management_mode="dynamic", num_init_children=8)
    assert problem.startswith(
        "pgpool_extra_settings.max_spare_children: 10 is above pgpool_num_init_children 8"
    )


def test_dynamic_mode_min_spare_children_not_below_max():
    # Measured: "max_spare_children:5 must be greater than min_spare_children:5".
    problems = check_problems(
        process_management_mode="dynamic", min_spare_children=5, max_spare_children=5
    )
    assert problems == [
        "pgpool_extra_settings.min_spare_children: 5 is not below"
        " pgpool_extra_settings.max_spare_children 5 (measured: Pgpool-II refuses to start)"
    ]


def test_static_mode_ignores_spare_children():
    assert pp.check(config(num_init_children=2, max_spare_children=10)) is None


@pytest.mark.parametrize(("key", "value"), [("num_init_children", 0), ("max_pool", 0)])
def test_children_and_pool_need_at_least_one(key, value):
    problems = check_problems(**{key: value})
    assert problems[0].startswith(f"pgpool_{key}: 0;")


def test_check_reports_backend_problems():
    problems = check_problems(backends=[{"port": 5432}])
    assert problems == [
        "pgpool_backends[0]: hostname is missing; set it to the PostgreSQL server's address"
    ]


@pytest.mark.parametrize("key", ["health_check_user", "sr_check_user"])
def test_check_users_are_required_on_46(key):
    problems = check_problems(**{key: None}, health_check_period=0, backend_clustering_mode="raw")
    assert len(problems) == 1
    assert problems[0].startswith(f"pgpool_{key}: not set; Pgpool-II 4.6.1 defaults it to ''")


@pytest.mark.parametrize("key", ["health_check_user", "sr_check_user"])
def test_check_users_are_optional_on_43_when_nothing_uses_them(key):
    changes = {key: None, "health_check_period": 0, "backend_clustering_mode": "raw"}
    assert pp.check(config(version=OLD, **changes)) is None


def test_health_check_user_is_required_when_health_checks_run():
    (problem,) = check_problems(version=OLD, health_check_user="")
    assert "pgpool_health_check_period is 10" in problem


def test_sr_check_user_is_required_in_streaming_replication_mode_even_on_43():
    (problem,) = check_problems(version=OLD, sr_check_user=None, sr_check_period=0)
    assert "finds the primary as this user even with sr_check_period 0" in problem


def test_check_user_without_password_must_be_in_pool_passwd():
    problems = check_problems(users=[{"name": "app", "password": "x"}])
    assert len(problems) == 2
    assert problems[0].startswith(
        "pgpool_health_check_user: 'pgpool' has no pgpool_health_check_password and is not "
        "in pgpool_users"
    )


def test_check_user_with_a_password_needs_no_pool_passwd_entry():
    changes = {"users": [], "health_check_password": "x", "sr_check_password": "y"}
    assert pp.check(config(**changes)) is None


def test_check_user_cannot_log_in_from_an_md5_pool_passwd():
    problems = check_problems(pool_passwd_method="md5")
    assert len(problems) == 2
    assert "from which Pgpool-II cannot log in" in problems[1]


def test_check_collects_every_problem():
    problems = check_problems(
        version="4.6.1",
        num_init_children=100,
        reserved_connections=100,
        backends=[],
        health_check_user=None,
    )
    assert len(problems) == 4


def test_check_names_a_bad_version():
    assert check_problems(version="nonsense")[0].startswith("pgpool_version: Pgpool-II version")


def test_check_refuses_a_non_mapping():
    with pytest.raises(PoolkitError, match="config: expected a mapping"):
        pp.check(["version"])


# ------------------------------------------------------------------------- pool_passwd


@pytest.mark.parametrize(("user", "password", "secret"), AES_VECTORS)
def test_aes_entry_is_what_the_real_pg_enc_writes(user, password, secret):
    assert pp.pool_passwd_aes(user, password, POOL_KEY) == f"{user}:{secret}"


@pytest.mark.parametrize(("user", "password", "secret"), AES_VECTORS)
def test_aes_entry_of_the_real_pg_enc_decrypts(user, password, secret):
    assert pp.pool_passwd_aes_decrypt(secret, POOL_KEY) == password


def test_aes_decrypt_takes_a_whole_line():
    assert pp.pool_passwd_aes_decrypt("app:AESxa73vzhHByTo8waBTT77uQ==", POOL_KEY) == "s3cret-app"


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("AESxa73vzhHByTo8waBTT77uQ==", "does not decrypt with this key"),  # other key below
        ("md51fa4c7a25993de52b94f79f825f64139", "does not start with 'AES'"),
        ("AES***", "not base64"),
        ("AESYWJj", "not a whole number of AES blocks"),
    ],
)
def test_aes_decrypt_refuses_what_it_cannot_decrypt(text, complaint):
    with pytest.raises(PoolkitError, match=complaint):
        pp.pool_passwd_aes_decrypt(text, "another-key")


def test_aes_password_up_to_79_bytes_is_accepted():
    assert pp.pool_passwd_aes("u", "é" * 39 + "x", POOL_KEY).startswith("u:AES")


def test_aes_password_of_80_bytes_is_refused():
    # Measured: an 80-byte password fails "unable to decrypt password from pool_passwd".
    with pytest.raises(PoolkitError, match="longer than 79 bytes"):
        pp.pool_passwd_aes("u", "y" * 80, POOL_KEY)


@pytest.mark.parametrize(
    ("user", "password", "complaint"),
    [
        ("", "x", "user name: is empty"),
        ("a:b", "x", "contains ':'"),
        ("a\\b", "x", "contains '\\\\\\\\'"),
        ("u", "", "password: is empty"),
        ("u", "a\0b", "NUL"),
        ("u", "md5" + "0" * 32, "looks like a stored verifier"),
        ("u", 5, "password: expected a string"),
    ],
)
def test_aes_entry_refuses_what_pool_passwd_cannot_hold(user, password, complaint):
    with pytest.raises(PoolkitError, match=complaint):
        pp.pool_passwd_aes(user, password, POOL_KEY)


@pytest.mark.parametrize(
    ("key", "complaint"),
    [
        ("", "empty"),
        ("two\nlines", "line break"),
        ("k" * 256, "longer than 255 bytes"),
        (None, "expected a string"),
    ],
)
def test_pool_key_must_be_one_line_pgpool_can_read(key, complaint):
    with pytest.raises(PoolkitError, match=complaint):
        pp.pool_passwd_aes("u", "x", key)


def test_pool_key_of_255_bytes_is_accepted():
    assert pp.check_pool_key("k" * 255) == "k" * 255


@pytest.mark.parametrize(
    ("text", "key"),
    [("poolkit-test-key\n", POOL_KEY), ("poolkit-test-key", POOL_KEY), ("k \nsecond\n", "k ")],
)
def test_pool_key_from_file_is_the_first_line(text, key):
    assert pp.pool_key_from_file(text) == key


def test_md5_entry_is_what_the_real_pg_md5_writes():
    user, password, line = MD5_VECTOR
    assert pp.pool_passwd_md5(user, password) == line


def test_parse_pool_passwd():
    text = "app:AESabc\n\nmapped:AESx:backend:AESy\nnotaline\nmd5user:md5f00\r\n"
    assert pp.parse_pool_passwd(text) == {"app": "AESabc", "mapped": "AESx", "md5user": "md5f00"}


USERS = [{"name": "checker", "password": "chk-pass"}, {"name": "app", "password": "s3cret-app"}]


def test_render_pool_passwd_is_sorted_and_newline_terminated():
    assert pp.render_pool_passwd(USERS, "", POOL_KEY) == (
        "app:AESxa73vzhHByTo8waBTT77uQ==\nchecker:AESP55of/SPg6qbcPGCrbEP7Q==\n"
    )


def test_render_pool_passwd_twice_gives_the_same_text():
    first = pp.render_pool_passwd(USERS, "", POOL_KEY)
    assert pp.render_pool_passwd(USERS, first, POOL_KEY) == first


def test_render_pool_passwd_keeps_an_entry_that_still_decrypts_to_the_password():
    # The ciphertext of pg_enc's line, written with other (ignored) base64 padding bits:
    # it decrypts to the same password, so the line is kept as it is.
    existing = "app:AESxa73vzhHByTo8waBTT77uR=="
    text = pp.render_pool_passwd([{"name": "app", "password": "s3cret-app"}], existing, POOL_KEY)
    assert text == existing + "\n"


def test_render_pool_passwd_replaces_an_entry_of_another_key_or_password():
    other_key = pp.pool_passwd_aes("app", "s3cret-app", "another-key")
    old_password = pp.pool_passwd_aes("app", "old-password", POOL_KEY)
    for existing in (other_key, old_password):
        text = pp.render_pool_passwd([USERS[1]], existing, POOL_KEY)
        assert text == "app:AESxa73vzhHByTo8waBTT77uQ==\n"


def test_render_pool_passwd_drops_users_no_longer_listed():
    text = pp.render_pool_passwd([USERS[1]], "gone:AESxa73vzhHByTo8waBTT77uQ==\n", POOL_KEY)
    assert text == "app:AESxa73vzhHByTo8waBTT77uQ==\n"


def test_render_pool_passwd_md5():
    user, password, line = MD5_VECTOR
    users = [{"name": user, "password": password}]
    assert pp.render_pool_passwd(users, "", None, "md5") == line + "\n"


def test_render_pool_passwd_md5_replaces_an_aes_entry():
    user, password, line = MD5_VECTOR
    existing = pp.pool_passwd_aes(user, password, POOL_KEY)
    users = [{"name": user, "password": password}]
    assert pp.render_pool_passwd(users, existing, None, "md5") == line + "\n"


def test_render_pool_passwd_of_nobody_is_empty():
    assert pp.render_pool_passwd([], "app:AESx\n", POOL_KEY) == ""


@pytest.mark.parametrize(
    ("users", "key", "method", "complaint"),
    [
        (USERS, POOL_KEY, "scram", "pgpool_pool_passwd_method: 'scram' is not one of aes, md5"),
        (USERS, None, "aes", "pgpool_pool_key: pool key: expected a string"),
        (USERS, "", "aes", "pgpool_pool_key: pool key: empty"),
        ([{"name": "app"}], POOL_KEY, "aes", r"pgpool_users\[0\] \('app'\): password is missing"),
        ([{"password": "x"}], POOL_KEY, "aes", r"pgpool_users\[0\]: name is missing"),
        ([USERS[0], USERS[0]], POOL_KEY, "aes", r"pgpool_users\[1\] \('checker'\): already"),
        (
            [{"name": "app", "password": "z" * 80}],
            POOL_KEY,
            "aes",
            r"pgpool_users\[0\] \('app'\): password: 80 bytes",
        ),
        ({"name": "app"}, POOL_KEY, "aes", "pgpool_users: expected a list"),
    ],
)
def test_render_pool_passwd_problems_name_the_variable(users, key, method, complaint):
    with pytest.raises(PoolkitError, match=complaint):
        pp.render_pool_passwd(users, "", key, method)


def test_render_pool_passwd_never_shows_the_password_or_key():
    with pytest.raises(PoolkitError) as excinfo:
        pp.render_pool_passwd([{"name": "app", "password": "q" * 80}], "", "s3cr3t-k3y")
    assert "qqq" not in str(excinfo.value)
    assert "s3cr3t-k3y" not in str(excinfo.value)


# ------------------------------------------------------------------------- pcp.conf


@pytest.mark.parametrize(("password", "digest"), PCP_VECTORS)
def test_pcp_conf_line_is_what_the_real_pg_md5_prints(password, digest):
    assert pp.pcp_conf_line("pcpadmin", password) == f"pcpadmin:{digest}"


@pytest.mark.parametrize("user", ["", "a:b", "a b", "#admin", "a\tb"])
def test_pcp_conf_refuses_user_names_it_cannot_hold(user):
    with pytest.raises(PoolkitError, match="user name"):
        pp.pcp_conf_line(user, "x")


def test_render_pcp_conf():
    users = [
        {"name": "pcpadmin", "password": "pcp pass:1"},
        {"name": "app", "password": "s3cret-app"},
    ]
    assert pp.render_pcp_conf(users) == (
        "app:8fc1bd3d5c40e0eb0aa6716838970150\npcpadmin:5a94ad56cb21f9378b1c85b8283af05a\n"
    )


def test_render_pcp_conf_names_the_entry():
    with pytest.raises(PoolkitError, match=r"pgpool_pcp_users\[0\] \('a b'\): user name"):
        pp.render_pcp_conf([{"name": "a b", "password": "x"}])


# ------------------------------------------------------------------------- reload or restart
def deployed(pairs: list[list[str]]) -> str:
    return "".join(f"{key} = {value}\n" for key, value in pairs)


def rendered(settings: dict[str, Any] | None = None, backends: list | None = None) -> list:
    base = {"port": 9999, "num_init_children": 32, "log_connections": False}
    return pp.conf_settings({**base, **(settings or {})}, NEW) + pp.backends_section(
        backends or [{"hostname": "db1"}, {"hostname": "db2"}], NEW
    )


def test_reloadable_and_backend_reloadable_keys_are_keys_poolkit_knows():
    assert pp.RELOADABLE.issubset(pp.SETTINGS)
    assert pp.RELOADABLE_BACKEND.issubset(pp.BACKEND_KEYS)


@pytest.mark.parametrize(
    "key",
    # Measured on 4.3.5 and 4.6.1: SIGHUP leaves the old value in PGPOOL SHOW.
    sorted(
        words(
            """
            num_init_children max_pool port listen_addresses load_balance_mode
            connection_life_time child_life_time reserved_connections connection_cache
            logging_collector backend_clustering_mode log_filename log_rotation_age
            """
        )
    ),
)
def test_start_only_keys_measured_are_not_reloadable(key):
    assert key not in pp.RELOADABLE


@pytest.mark.parametrize(
    "key",
    # Measured on 4.3.5 and 4.6.1: SIGHUP shows the new value in PGPOOL SHOW.
    sorted(
        words(
            """
            health_check_period log_connections client_idle_limit enable_pool_hba
            sr_check_period disable_load_balance_on_write auto_failback_interval
            dml_adaptive_object_relationship_list lobj_lock_table
            """
        )
    ),
)
def test_reloadable_keys_measured_are_reloadable(key):
    assert key in pp.RELOADABLE


def test_restart_nothing_changed():
    assert pp.restart_required(deployed(rendered()), rendered()) == []


def test_restart_reloadable_change_only():
    new = rendered({"log_connections": True, "health_check_period": 10, "client_idle_limit": 300})
    assert pp.restart_required(deployed(rendered()), new) == []


def test_restart_num_init_children():
    new = rendered({"num_init_children": 64})
    assert pp.restart_required(deployed(rendered()), new) == ["num_init_children"]


def test_restart_several_keys_sorted_with_reloadable_ones_left_out():
    new = rendered({"port": 9998, "max_pool": 2, "log_connections": True})
    assert pp.restart_required(deployed(rendered()), new) == ["max_pool", "port"]


def test_restart_key_added_or_removed():
    old = deployed(rendered())
    assert pp.restart_required(old, rendered({"reserved_connections": 1})) == [
        "reserved_connections"
    ]
    assert pp.restart_required(old, rendered({"num_init_children": None})) == ["num_init_children"]


def test_restart_reloadable_key_added():
    assert pp.restart_required(deployed(rendered()), rendered({"sr_check_period": 5})) == []


def test_restart_backend_added():
    new = rendered(backends=[{"hostname": "db1"}, {"hostname": "db2"}, {"hostname": "db3"}])
    assert pp.restart_required(deployed(rendered()), new) == [
        "backend_hostname2",
        "backend_port2",
        "backend_weight2",
    ]


def test_restart_backend_removed():
    new = rendered(backends=[{"hostname": "db1"}])
    assert pp.restart_required(deployed(rendered()), new) == [
        "backend_hostname1",
        "backend_port1",
        "backend_weight1",
    ]


def test_restart_backend_weight_flag_and_application_name_reload():
    new = rendered(
        backends=[
            {"hostname": "db1", "weight": 3, "flag": "DISALLOW_TO_FAILOVER"},
            {"hostname": "db2", "application_name": "replica"},
        ]
    )
    assert pp.restart_required(deployed(rendered()), new) == []


def test_restart_backend_host_port_or_data_directory_changed():
    new = rendered(
        backends=[
            {"hostname": "db1", "port": 5433},
            {"hostname": "db9", "data_directory": "/srv/pg"},
        ]
    )
    assert pp.restart_required(deployed(rendered()), new) == [
        "backend_data_directory1",
        "backend_hostname1",
        "backend_port0",
    ]


def test_restart_unknown_key_changed():
    old = deployed(rendered()) + "some_future_key = 1\n"
    assert pp.restart_required(old, rendered()) == ["some_future_key"]


def test_restart_quoting_comments_and_spelling_are_not_changes():
    old = """\
# pgpool.conf written by hand
port=9999 # the port
num_init_children = '32'
  log_connections = false   # off
#max_pool = 8
unix_socket_directories = '/run/postgresql' # '#' inside quotes: '/x#y'
pcp_socket_dir '/tmp#not-a-comment'
backend_hostname0 = 'db1'
backend_port0 = 5432
backend_weight0 = 1.0
backend_hostname1 = 'db1'
backend_hostname1 = 'db2'
backend_port1 = '5432'
backend_weight1 = 1
"""
    new = rendered(
        {"unix_socket_directories": ["/run/postgresql"], "pcp_socket_dir": "/tmp#not-a-comment"}
    )
    assert pp.restart_required(old, new) == []


def test_parse_conf():
    text = "a = 'x # y' # c\nb=2\n# c = 3\nd 'e'\n\nbad line here\nb = 4\n"
    assert pp.parse_conf(text) == {"a": "x # y", "b": "4", "d": "e"}


@pytest.mark.parametrize("old", ["", "  \n", None])
def test_restart_empty_old_text(old):
    assert pp.restart_required(old, rendered({"port": 9998})) == []


@pytest.mark.parametrize(
    ("old", "new", "complaint"),
    [
        (1, [], "old pgpool.conf text: expected a string"),
        ("", "port = 1", "new settings: expected a list"),
        ("", [["port"]], "new settings[0]: expected a [key, value] pair"),
        ("", [["port", 1]], "new settings[0]"),
    ],
)
def test_restart_bad_input(old, new, complaint):
    with pytest.raises(PoolkitError, match=complaint.replace("[", r"\[").replace("]", r"\]")):
        pp.restart_required(old, new)


# ------------------------------------------------------------------------- TLS

TLS = {
    "ssl": True,
    "ssl_cert": "/etc/poolkit/tls/server.crt",
    "ssl_key": "/etc/poolkit/tls/server.key",
    "ssl_ca_cert": "/etc/poolkit/tls/ca.crt",
    "hba_rules": [{"type": "hostssl", "database": "all", "user": "all", "method": "scram-sha-256"}],
}


def test_a_complete_tls_setup_passes():
    assert pp.check(config(**TLS)) is None


@pytest.mark.parametrize("key", ["ssl_cert", "ssl_key"])
def test_ssl_needs_a_certificate_and_a_key(key):
    (problem,) = check_problems(**{**TLS, key: None})
    assert problem.startswith(f"pgpool_{key}: not set, but pgpool_ssl is true")


def test_tls_files_without_ssl_are_refused():
    problems = check_problems(**{**TLS, "ssl": False, "hba_rules": []})
    assert [p.split(":")[0] for p in problems] == [
        "pgpool_ssl_cert",
        "pgpool_ssl_key",
        "pgpool_ssl_ca_cert",
    ]


LOCAL_TRUST = [
    {"type": "local", "database": "all", "user": "all", "method": "trust"},
    {"type": "host", "database": "all", "user": "all", "address": "0.0.0.0/0", "method": "md5"},
]


@pytest.mark.parametrize("mode", ["0700", "0770", 0o700, "700"])
def test_local_trust_passes_on_a_socket_closed_to_others(mode):
    assert pp.check(config(hba_rules=LOCAL_TRUST, unix_socket_permissions=mode)) is None


@pytest.mark.parametrize("mode", [None, "0777", "0701", 0o775])
def test_local_trust_on_a_socket_open_to_others_is_refused(mode):
    (problem,) = check_problems(hba_rules=LOCAL_TRUST, unix_socket_permissions=mode)
    assert problem.startswith(
        "pgpool_hba_rules[0]: local trust, but pgpool_extra_settings.unix_socket_permissions is"
    )
    assert "log in as any user" in problem


def test_local_trust_with_a_bad_mode_names_the_setting():
    (problem,) = check_problems(hba_rules=LOCAL_TRUST, unix_socket_permissions="rwx")
    assert problem.startswith("pgpool_extra_settings.unix_socket_permissions: expected an octal")


def test_local_trust_is_refused_before_4_4():
    (problem,) = check_problems(version=OLD, hba_rules=LOCAL_TRUST, unix_socket_permissions="0700")
    assert problem.startswith("pgpool_hba_rules[0]: local trust, but Pgpool-II 4.3.5 has no")


def test_local_trust_is_not_checked_without_pool_hba():
    assert pp.check(config(hba_rules=LOCAL_TRUST, enable_pool_hba=False)) is None


def test_hostssl_rules_without_ssl_are_refused():
    (problem,) = check_problems(ssl=False, hba_rules=TLS["hba_rules"])
    assert problem.startswith("pgpool_hba_rules[0]: type hostssl, but pgpool_ssl is false")


def test_hostssl_rules_are_ignored_without_pool_hba():
    assert pp.check(config(ssl=False, hba_rules=TLS["hba_rules"], enable_pool_hba=False)) is None


def test_ssl_must_be_a_boolean():
    assert check_problems(ssl="yes") == ["pgpool_ssl: expected true or false, got 'yes'"]


# ------------------------------------------------------------------------- exporter

EXPORTER = {
    "exporter_enabled": True,
    "exporter_user": "pgpool",
    "exporter_database": "postgres",
    "exporter_port": 9719,
    "port": 9999,
    "pcp_port": 9898,
    "service_manager": "systemd",
}


def test_an_exporter_with_a_pool_passwd_user_passes():
    assert pp.check(config(**EXPORTER)) is None


def test_exporter_users_may_be_given_as_names():
    assert pp.check(config(**EXPORTER, users=["pgpool"])) is None


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"exporter_user": None}, "pgpool_exporter_user: not set"),
        ({"exporter_user": "monitor"}, "pgpool_exporter_user: 'monitor' is not in pgpool_users"),
        ({"exporter_database": ""}, "pgpool_exporter_database: empty"),
        ({"exporter_port": 0}, "pgpool_exporter_port: 0; expected a port"),
        ({"exporter_port": 9898}, "pgpool_exporter_port: 9898 is pgpool_pcp_port's port too"),
        ({"service_manager": "none"}, "needs pgpool_service_manager systemd"),
    ],
)
def test_exporter_rules_name_the_variables(changes, expected):
    with pytest.raises(PoolkitError) as excinfo:
        pp.check(config(**{**EXPORTER, **changes}))
    assert any(expected in problem for problem in _problems(excinfo))


# ------------------------------------------------------------------------- Patroni follower

FOLLOW = {
    "follow_patroni": ["https://pg1:8008", "https://pg2:8008"],
    "follow_interval": 1,
    "follow_retry": 5,
    "pcp_users": ["pcp_follow"],
    "failover_command": "",
    "follow_primary_command": "",
    "search_primary_node_timeout": 10,
}


def test_a_follower_with_a_pcp_user_and_nothing_that_promotes_passes():
    assert pp.check(config(**FOLLOW)) is None


def test_no_follower_needs_no_pcp_user():
    assert pp.check(config(**{**FOLLOW, "follow_patroni": [], "pcp_users": []})) is None


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"follow_patroni": "https://pg1:8008"}, "pgpool_follow_patroni: 'https://pg1:8008'"),
        ({"follow_patroni": ["pg1:8008"]}, "expected a list of Patroni REST API URLs"),
        ({"pcp_users": []}, "pgpool_pcp_users is empty"),
        ({"failover_command": "/bin/promote %d"}, "pgpool_extra_settings.failover_command"),
        ({"follow_primary_command": "x"}, "pgpool_extra_settings.follow_primary_command"),
        ({"search_primary_node_timeout": 0}, "search_primary_node_timeout: 0 (search forever)"),
        ({"follow_interval": 0}, "pgpool_follow_interval: 0; expected seconds"),
        ({"follow_retry": "soon"}, "pgpool_follow_retry: 'soon'; expected seconds"),
    ],
)
def test_follower_rules_name_the_variables(changes, expected):
    with pytest.raises(PoolkitError) as excinfo:
        pp.check(config(**{**FOLLOW, **changes}))
    assert any(expected in problem for problem in _problems(excinfo))


def test_keys_read_by_follows_the_renames():
    assert {"socket_dir", "delegate_IP"} <= pp.keys_read_by("4.3.5")
    assert not {"unix_socket_directories", "delegate_ip"} & pp.keys_read_by("4.3.5")
    assert {"unix_socket_directories", "delegate_ip"} <= pp.keys_read_by("4.6.1")
    assert not {"socket_dir", "delegate_IP"} & pp.keys_read_by("4.6.1")


@pytest.mark.parametrize(
    ("key", "indexed"),
    [
        ("backend_hostname0", True),
        ("health_check_period12", True),
        ("wd_port1", True),
        ("health_check_period", False),
        ("connect_timeout", False),
        ("backend_clustering_mode", False),
    ],
)
def test_is_indexed(key, indexed):
    assert pp.is_indexed(key) is indexed


def test_slony_mode_is_refused_from_47_naming_the_modes_left():
    message = _settings_error({"backend_clustering_mode": "slony"}, "4.7.3")
    assert message.startswith(
        "pgpool_backend_clustering_mode: 'slony' was retired after Pgpool-II 4.6, this host "
        "has 4.7.3; choose one of streaming_replication, native_replication"
    )
    assert pp.conf_settings({"backend_clustering_mode": "slony"}, NEW) == [
        ["backend_clustering_mode", "'slony'"]
    ]
