"""What each Pgpool-II release reads: pgpool.conf keys with the releases that have them,
renamed and refused keys, value kinds and choices, backend keys, Pgpool-II's defaults, and
version parsing. Data and lookups only.

Sources of these tables (the commands and raw results are in docs/pgpool-facts.md):

* Measured on the Debian packages Pgpool-II 4.3.5 (Debian 12), 4.6.1 (Debian 13) and
  4.7.3 (Debian forky; docs/versions-forky.md): the
  keys of the shipped pgpool.conf sample, the keys ``PGPOOL SHOW ALL`` lists, and
  ``pgpool -n`` started with candidate keys. Pgpool-II does *not* refuse an unknown key:
  it logs ``unrecognized configuration parameter`` at level INFO, below the default
  ``log_min_messages`` (warning), and starts; a misspelt or other-version key is simply
  ignored. That is why `conf_settings` refuses them. Key names are case-sensitive
  (``Max_Pool`` is unknown), except that 4.6 maps ``delegate_IP`` to ``delegate_ip``
  with a WARNING; a repeated key takes its last value.
* For versions in between (4.4, 4.5): the release notes shipped with the 4.6.1 package
  (/usr/share/doc/pgpool2/release-4-*.html), cited next to the entries; for 4.7.0 to
  4.7.2, those shipped with the 4.7.3 package.
* Versions older than 4.3 were not measured: they are refused as a whole (`OLDEST`).
"""

from __future__ import annotations

import re
from typing import Any

from poolkit.settings import Product
from poolkit.settings import short as _short

Version = tuple[int, int]

#: The oldest Pgpool-II whose settings poolkit knows (measured: Debian 12's 4.3.5).
OLDEST: Version = (4, 3)
#: The newest Pgpool-II measured (Debian forky's 4.7.3); newer versions are assumed to keep
#: every key of 4.7, but keys they add are unknown.
NEWEST: Version = (4, 7)

_B = OLDEST  # read by 4.3.5 (measured); not checked against older versions

# ------------------------------------------------------------------------- pgpool.conf
#: Every pgpool.conf key (other than the indexed ones, see `BACKEND_KEYS` and
#: `_INDEXED`) -> (first (major, minor) that reads it, last one or None for "still
#: read"). Measured: each key is in ``PGPOOL SHOW ALL`` of the versions it is listed for,
#: and in no other (except logdir: 4.7.3 still reads it, see its entry). Order: the 4.6
#: sample pgpool.conf (4.7 keys where the 4.7 sample has them), which `conf_settings`
#: follows. For the version in which a key appeared, the 4.6 (4.7.3) package's release
#: notes.
SETTINGS: dict[str, tuple[Version, Version | None]] = {
    # Backend clustering mode
    "backend_clustering_mode": (_B, None),
    # Connections - pgpool connection settings
    "listen_addresses": (_B, None),
    "port": (_B, None),
    # 4.4.0 migration notes: "Rename configuration parameter socket_dir to
    # unix_socket_directories", with new unix_socket_group / unix_socket_permissions.
    # The role's name is unix_socket_directories on every version (see RENAMED).
    "unix_socket_directories": ((4, 4), None),
    "socket_dir": (_B, (4, 3)),
    "unix_socket_group": ((4, 4), None),
    "unix_socket_permissions": ((4, 4), None),
    "reserved_connections": (_B, None),
    # - pgpool communication manager (PCP) connection settings
    "pcp_listen_addresses": (_B, None),
    "pcp_port": (_B, None),
    "pcp_socket_dir": (_B, None),
    "listen_backlog_multiplier": (_B, None),
    "serialize_accept": (_B, None),
    # - Authentication
    "enable_pool_hba": (_B, None),
    "pool_passwd": (_B, None),
    "authentication_timeout": (_B, None),
    "allow_clear_text_frontend_auth": (_B, None),
    # - SSL connections
    "ssl": (_B, None),
    "ssl_key": (_B, None),
    "ssl_cert": (_B, None),
    "ssl_ca_cert": (_B, None),
    "ssl_ca_cert_dir": (_B, None),
    "ssl_crl_file": (_B, None),
    "ssl_ciphers": (_B, None),
    "ssl_prefer_server_ciphers": (_B, None),
    "ssl_ecdh_curve": (_B, None),
    "ssl_dh_params_file": (_B, None),
    "ssl_passphrase_command": (_B, None),
    # Pools - concurrent sessions and pool size
    # 4.4.0: "Add new dynamic spare process management feature" (these four keys).
    "process_management_mode": ((4, 4), None),
    "process_management_strategy": ((4, 4), None),
    "num_init_children": (_B, None),
    "min_spare_children": ((4, 4), None),
    "max_spare_children": ((4, 4), None),
    "max_pool": (_B, None),
    # - Life time
    "child_life_time": (_B, None),
    "child_max_connections": (_B, None),
    "connection_life_time": (_B, None),
    "client_idle_limit": (_B, None),
    # Logs
    "log_destination": (_B, None),
    "log_line_prefix": (_B, None),
    "log_connections": (_B, None),
    "log_disconnections": (_B, None),
    "log_pcp_processes": ((4, 5), None),  # 4.5.0: "Add new config parameter log_pcp_processes"
    "log_hostname": (_B, None),
    "log_statement": (_B, None),
    "log_per_node_statement": (_B, None),
    # 4.5.0: "Add new configuration parameter notice_per_node_statement"; back-patched to
    # 4.3.12 and 4.4.9 ("mainly for testing"), conservatively refused there: 4.3.5 lacks it.
    "notice_per_node_statement": ((4, 5), None),
    "log_client_messages": (_B, None),
    "log_backend_messages": ((4, 6), None),  # 4.6.0: "New configuration parameter"
    "log_standby_delay": (_B, None),
    "syslog_facility": (_B, None),
    "syslog_ident": (_B, None),
    "log_error_verbosity": (_B, None),
    "client_min_messages": (_B, None),
    "log_min_messages": (_B, None),
    "logging_collector": (_B, None),
    "log_directory": (_B, None),
    "log_filename": (_B, None),
    "log_file_mode": (_B, None),
    "log_truncate_on_rotation": (_B, None),
    "log_rotation_age": (_B, None),
    "log_rotation_size": (_B, None),
    # File locations
    "pid_file_name": (_B, None),
    # 4.7.0 migration notes: "Rename logdir parameter to work_dir ... For backward
    # compatibility, the old logdir parameter is still supported". Measured on 4.7.3:
    # work_dir is in PGPOOL SHOW ALL and logdir is not, but logdir is still read ("WARNING:
    # logdir is changed to work_dir"; of the two, the later line in the file wins). The
    # role's name is work_dir on every version, written logdir before 4.7 (see RENAMED);
    # logdir ends at 4.6 here as it does in SHOW ALL. work_dir: "only be set at server start".
    "logdir": (_B, (4, 6)),
    "work_dir": ((4, 7), None),
    # Connection pooling
    "connection_cache": (_B, None),
    "reset_query_list": (_B, None),
    # Replication mode (native replication)
    "replicate_select": (_B, None),
    "insert_lock": (_B, None),
    "lobj_lock_table": (_B, None),
    "replication_stop_on_mismatch": (_B, None),
    "failover_if_affected_tuples_mismatch": (_B, None),
    # Load balancing mode
    "load_balance_mode": (_B, None),
    "ignore_leading_white_space": (_B, None),
    "read_only_function_list": (_B, None),
    "write_function_list": (_B, None),
    "primary_routing_query_pattern_list": (_B, None),
    "user_redirect_preference_list": ((4, 5), None),  # 4.5.0: "Add new parameter"
    "database_redirect_preference_list": (_B, None),
    "app_name_redirect_preference_list": (_B, None),
    "allow_sql_comments": (_B, None),
    "disable_load_balance_on_write": (_B, None),
    "dml_adaptive_object_relationship_list": (_B, None),
    "statement_level_load_balance": (_B, None),
    # Streaming replication mode
    "sr_check_period": (_B, None),
    "sr_check_user": (_B, None),
    "sr_check_password": (_B, None),
    "sr_check_database": (_B, None),
    "delay_threshold": (_B, None),
    "delay_threshold_by_time": ((4, 4), None),  # 4.4.0: "new parameter ... is introduced"
    "prefer_lower_delay_standby": (_B, None),
    "follow_primary_command": (_B, None),
    # Health check (global values; the per-backend ones are indexed, not modeled)
    "health_check_period": (_B, None),
    "health_check_timeout": (_B, None),
    "health_check_user": (_B, None),
    "health_check_password": (_B, None),
    "health_check_database": (_B, None),
    "health_check_max_retries": (_B, None),
    "health_check_retry_delay": (_B, None),
    "connect_timeout": (_B, None),
    # Failover and failback
    "failover_command": (_B, None),
    "failback_command": (_B, None),
    "failover_on_backend_error": (_B, None),
    "failover_on_backend_shutdown": (_B, None),
    "detach_false_primary": (_B, None),
    "search_primary_node_timeout": (_B, None),
    # Online recovery
    "recovery_user": (_B, None),
    "recovery_password": (_B, None),
    # 4.7.0: "Make online recovery database configurable ... A new configuration parameter
    # recovery_database" (default 'postgres', was hard-coded template1); measured on 4.7.3.
    "recovery_database": ((4, 7), None),
    "recovery_1st_stage_command": (_B, None),
    "recovery_2nd_stage_command": (_B, None),
    "recovery_timeout": (_B, None),
    "client_idle_limit_in_recovery": (_B, None),
    "auto_failback": (_B, None),
    "auto_failback_interval": (_B, None),
    # Watchdog (the node lists hostnameN / wd_portN / pgpool_portN / heartbeat_*N are
    # indexed and not modeled)
    "use_watchdog": (_B, None),
    "trusted_servers": (_B, None),
    "trusted_server_command": ((4, 4), None),  # 4.4.0: "new parameter ... is introduced"
    # 4.7.1: "Add parameters to specify the watchdog/heartbeat listen address and port"
    # (these two and the wd_heartbeat_listen_* pair). Measured on 4.7.3; 4.7.0 does not
    # have them (it would ignore them silently), but the tables go by major.minor, so 4.7.
    "wd_listen_address": ((4, 7), None),
    "wd_listen_port": ((4, 7), None),
    "wd_priority": (_B, None),
    "wd_authkey": (_B, None),
    "wd_ipc_socket_dir": (_B, None),
    # 4.4.0 migration notes: "delegate_IP is renamed to delegate_ip" (4.6 still reads the
    # old name, with a WARNING: measured). The role's name is delegate_ip (see RENAMED).
    "delegate_ip": ((4, 4), None),
    "delegate_IP": (_B, (4, 3)),
    "if_cmd_path": (_B, None),
    "if_up_cmd": (_B, None),
    "if_down_cmd": (_B, None),
    "arping_path": (_B, None),
    "arping_cmd": (_B, None),
    "ping_path": (_B, None),
    "clear_memqcache_on_escalation": (_B, None),
    "wd_escalation_command": (_B, None),
    "wd_de_escalation_command": (_B, None),
    "failover_when_quorum_exists": (_B, None),
    "failover_require_consensus": (_B, None),
    "allow_multiple_failover_requests_from_node": (_B, None),
    "enable_consensus_with_half_votes": (_B, None),
    "wd_remove_shutdown_nodes": (_B, None),
    "wd_lost_node_removal_timeout": (_B, None),
    "wd_no_show_node_removal_timeout": (_B, None),
    "wd_monitoring_interfaces_list": (_B, None),
    "wd_lifecheck_method": (_B, None),
    "wd_interval": (_B, None),
    "wd_heartbeat_listen_addresses": ((4, 7), None),  # 4.7.1, see wd_listen_address
    "wd_heartbeat_listen_port": ((4, 7), None),  # 4.7.1
    "wd_heartbeat_keepalive": (_B, None),
    "wd_heartbeat_deadtime": (_B, None),
    "wd_life_point": (_B, None),
    "wd_lifecheck_query": (_B, None),
    "wd_lifecheck_dbname": (_B, None),
    "wd_lifecheck_user": (_B, None),
    "wd_lifecheck_password": (_B, None),
    # Relation cache
    "relcache_expire": (_B, None),
    "relcache_size": (_B, None),
    "check_temp_table": (_B, None),
    "check_unlogged_table": (_B, None),
    "enable_shared_relcache": (_B, None),
    "relcache_query_target": (_B, None),
    # In-memory query cache
    "memory_cache_enabled": (_B, None),
    "memqcache_method": (_B, None),
    "memqcache_memcached_host": (_B, None),
    "memqcache_memcached_port": (_B, None),
    "memqcache_total_size": (_B, None),
    "memqcache_max_num_cache": (_B, None),
    "memqcache_expire": (_B, None),
    "memqcache_auto_cache_invalidation": (_B, None),
    "memqcache_maxcache": (_B, None),
    "memqcache_cache_block_size": (_B, None),
    "memqcache_oiddir": (_B, None),
    "cache_safe_memqcache_table_list": (_B, None),
    "cache_unsafe_memqcache_table_list": (_B, None),
}

#: The role's version-neutral name -> the name Pgpool-II read before the neutral name
#: existed (`SETTINGS` gives both ranges). `conf_settings` takes the neutral name on every
#: version and writes whichever name the version reads: ``unix_socket_directories`` is
#: written ``socket_dir`` on 4.3, ``delegate_ip`` is written ``delegate_IP`` on 4.3. The
#: old names themselves are refused, so each setting has exactly one variable.
RENAMED: dict[str, str] = {
    "unix_socket_directories": "socket_dir",
    "delegate_ip": "delegate_IP",
    "work_dir": "logdir",
}
_OLD_NAMES = {old: new for new, old in RENAMED.items()}
#: The renamed keys roles/pgpool has a variable of its own for (pgpool_<new name>); the others
#: (delegate_ip: the watchdog is not modeled) go in pgpool_extra_settings under the new name.
_ROLE_VARIABLES = {"unix_socket_directories", "work_dir"}

#: Keys Pgpool-II reads that poolkit refuses anyway, with the reason.
REFUSED: dict[str, str] = {
    "replication_mode": (
        "a pre-4.2 switch that PGPOOL SHOW ALL still lists (not in the sample pgpool.conf); "
        "set pgpool_backend_clustering_mode (for example 'native_replication') instead"
    ),
    "health_check_test": (
        "a testing switch (PGPOOL SHOW ALL: 'If on, enable health check testing'), not in "
        "the sample pgpool.conf; not for a deployment"
    ),
    "fail_over_on_backend_error": (
        "the old spelling that 4.3 and 4.6 still read silently; set "
        "pgpool_failover_on_backend_error instead"
    ),
    "include": "a directive, not a setting (include = 'file'); poolkit renders one file",
}

#: Indexed keys: backends (modeled by `backends_section`), the per-backend health check
#: overrides and the watchdog node lists (not modeled). Measured: giving the base name
#: without an index fails with 'parameter "..." expects the index value'.
_INDEXED = re.compile(
    r"(?P<base>backend_(?:hostname|port|weight|flag|data_directory|application_name)"
    r"|health_check_(?:period|timeout|user|password|database|max_retries|retry_delay)"
    r"|connect_timeout|hostname|wd_port|pgpool_port|heartbeat_(?:hostname|port|device))"
    r"(?P<index>\d*)"
)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Value kinds, from the 4.6 package's documentation ("name (type)") and PGPOOL SHOW ALL.
_BOOLEAN = _words(
    """
    serialize_accept enable_pool_hba allow_clear_text_frontend_auth ssl
    ssl_prefer_server_ciphers log_connections log_disconnections log_pcp_processes
    log_hostname log_statement log_per_node_statement notice_per_node_statement
    log_client_messages logging_collector log_truncate_on_rotation connection_cache
    replicate_select insert_lock replication_stop_on_mismatch
    failover_if_affected_tuples_mismatch load_balance_mode ignore_leading_white_space
    allow_sql_comments statement_level_load_balance prefer_lower_delay_standby
    failover_on_backend_error failover_on_backend_shutdown detach_false_primary
    auto_failback use_watchdog clear_memqcache_on_escalation failover_when_quorum_exists
    failover_require_consensus allow_multiple_failover_requests_from_node
    enable_consensus_with_half_votes wd_remove_shutdown_nodes check_unlogged_table
    enable_shared_relcache memory_cache_enabled memqcache_auto_cache_invalidation
    """
)
#: Whole-number keys, written bare in their base unit (seconds, bytes, ...). Pgpool-II
#: also reads quoted values with units ('5min') for some of them but not for the
#: health check ones (measured: health_check_timeout = '2min' is FATAL), so poolkit
#: takes plain numbers only; numeric strings such as "32" are accepted.
INTEGER_SETTINGS = _words(
    """
    port reserved_connections pcp_port listen_backlog_multiplier authentication_timeout
    num_init_children min_spare_children max_spare_children max_pool child_life_time
    child_max_connections connection_life_time client_idle_limit log_rotation_age
    log_rotation_size sr_check_period delay_threshold delay_threshold_by_time
    health_check_period health_check_timeout health_check_max_retries
    health_check_retry_delay connect_timeout search_primary_node_timeout recovery_timeout
    client_idle_limit_in_recovery auto_failback_interval wd_priority
    wd_lost_node_removal_timeout wd_no_show_node_removal_timeout wd_interval
    wd_heartbeat_keepalive wd_heartbeat_deadtime wd_life_point relcache_expire
    wd_listen_port wd_heartbeat_listen_port
    relcache_size memqcache_memcached_port memqcache_total_size memqcache_max_num_cache
    memqcache_expire memqcache_maxcache memqcache_cache_block_size
    """
)
#: Ports: measured, Pgpool-II refuses anything outside 1024-65535 ("80 is outside the
#: valid range for parameter "port" (1024 .. 65535)"), backend_portN included.
_PORTS = frozenset({"port", "pcp_port"})
PORT_RANGE = (1024, 65535)
#: File modes, written in octal (measured: 0640 is read as octal, SHOW gives 416).
_MODES = frozenset({"unix_socket_permissions", "log_file_mode"})
#: Enum keys and their values (Pgpool-II's src/config/pool_config_variables.c, the
#: *_options tables; an invalid value stops Pgpool-II: measured "invalid value for
#: parameter"). Compared case-insensitively, written as listed here.
_LOG_LEVELS = (
    "debug5",
    "debug4",
    "debug3",
    "debug2",
    "debug1",
    "info",
    "notice",
    "warning",
    "error",
    "log",
    "fatal",
    "panic",
)
CHOICES: dict[str, tuple[str, ...]] = {
    # 'slony' ends with 4.6: see RETIRED_CHOICES.
    "backend_clustering_mode": (
        "streaming_replication",
        "native_replication",
        "logical_replication",
        "slony",
        "raw",
        "snapshot_isolation",
    ),
    "process_management_mode": ("static", "dynamic"),
    "process_management_strategy": ("aggressive", "gentle", "lazy"),
    "log_standby_delay": ("always", "if_over_threshold", "none"),
    "syslog_facility": tuple(f"LOCAL{n}" for n in range(8)),
    "log_error_verbosity": ("terse", "default", "verbose"),
    "client_min_messages": _LOG_LEVELS,
    "log_min_messages": _LOG_LEVELS,
    # The 4.6 docs call it boolean, but its values are none / terse / verbose (measured:
    # SHOW gives 'none', 'terse' is accepted).
    "log_backend_messages": ("none", "terse", "verbose"),
    "disable_load_balance_on_write": (
        "off",
        "transaction",
        "trans_transaction",
        "always",
        "dml_adaptive",
    ),
    "wd_lifecheck_method": ("heartbeat", "query", "external"),
    "check_temp_table": ("catalog", "trace", "none", "on", "off"),
    "relcache_query_target": ("primary", "load_balance_node"),
    "memqcache_method": ("shmem", "memcached"),
}
#: List-valued string keys -> (separator, first version reading more than one item).
#: Separators: pool_config_variables.c (";" for reset_query_list and
#: primary_routing_query_pattern_list, "," elsewhere) and the docs. A YAML list is
#: joined with the bare separator: before 4.6 Pgpool-II does not strip blanks around
#: items ("it may cause startup failure", 4.6.0 migration notes). Measured on 4.3.5:
#: listen_addresses = 'localhost,127.0.0.1' fails (getaddrinfo), 4.6.1 listens on both;
#: 4.4.0: "comma separated multiple listen addresses in listen_addresses and
#: pcp_listen_addresses"; 4.5.0: "multiple directories specification for pcp_socket_dir".
LISTS: dict[str, tuple[str, Version]] = {
    "listen_addresses": (",", (4, 4)),
    "pcp_listen_addresses": (",", (4, 4)),
    "unix_socket_directories": (",", (4, 4)),  # socket_dir (4.3) holds one directory
    "pcp_socket_dir": (",", (4, 5)),
    "log_destination": (",", _B),
    "reset_query_list": (";", _B),
    "read_only_function_list": (",", _B),
    "write_function_list": (",", _B),
    "primary_routing_query_pattern_list": (";", _B),
    "user_redirect_preference_list": (",", _B),
    "database_redirect_preference_list": (",", _B),
    "app_name_redirect_preference_list": (",", _B),
    "dml_adaptive_object_relationship_list": (",", _B),
    "trusted_servers": (",", _B),
    "wd_monitoring_interfaces_list": (",", _B),
    "cache_safe_memqcache_table_list": (",", _B),
    "cache_unsafe_memqcache_table_list": (",", _B),
    # 4.7 docs: "You can specify multiple IP address or hostname by separating them using
    # semicolon (;)".
    "wd_heartbeat_listen_addresses": (";", (4, 7)),
}

# ------------------------------------------------------------------------- backends
#: Keys of a ``pgpool_backends`` entry -> first (major, minor); each is written
#: ``backend_<key><N>`` for the entry's index N, in this order (the sample's). Measured on
#: both versions: a backend without backend_portN is treated as down ("all of the
#: backends are down"), and one without backend_weightN gets weight 0 (SHOW POOL NODES
#: lb_weight "-nan" for a single backend); so port defaults to 5432 and weight to 1.
BACKEND_KEYS: dict[str, Version] = {
    "hostname": _B,
    "port": _B,
    "weight": _B,
    "data_directory": _B,
    "flag": _B,
    "application_name": _B,
}
BACKEND_DEFAULTS: dict[str, Any] = {"port": 5432, "weight": 1}
#: backend_flag values, joined with '|'. Measured: 'FOO' and
#: 'ALLOW_TO_FAILOVER|DISALLOW_TO_FAILOVER' stop Pgpool-II ("invalid configuration for
#: key "backend_flag0""); 'DISALLOW_TO_FAILOVER|ALWAYS_PRIMARY' is read by both versions.
BACKEND_FLAGS = ("ALLOW_TO_FAILOVER", "DISALLOW_TO_FAILOVER", "ALWAYS_PRIMARY")
#: Pgpool-II's MAX_NUM_BACKENDS and backend_weight range (pool_config_variables.c; the
#: weight range measured: -1 is "outside the valid range ... (0.000000 .. 100000000.000000)").
MAX_BACKENDS = 128
MAX_WEIGHT = 100_000_000

# ------------------------------------------------------------------------- preflight
#: Pgpool-II's built-in defaults, used by `check` for a variable that is null.
#: Measured with PGPOOL SHOW ALL (max_pool 4, reserved_connections 0, health_check_period
#: 0, sr_check_period 0, max_spare_children 10, min_spare_children 5, process_management_mode
#: static, backend_clustering_mode streaming_replication); num_init_children 32 is the
#: sample's and the documented default.
DEFAULTS: dict[str, Any] = {
    "num_init_children": 32,
    "max_pool": 4,
    "reserved_connections": 0,
    "health_check_period": 0,
    "sr_check_period": 0,
    "min_spare_children": 5,
    "max_spare_children": 10,
    "process_management_mode": "static",
    "backend_clustering_mode": "streaming_replication",
    "nodes": 1,
    "query_cancel": True,
    "backend_superuser_reserved_connections": 3,
    "backend_reserved_connections": 0,
    "backend_other_connections": 0,
}
#: Whose checks need a user from 4.6 on: "The default values of health_check_user,
#: recovery_user, sr_check_user and wd_lifecheck_user are changed from 'nobody' to ''
#: (empty string). You need to set them in 4.6. Otherwise you will get an error." (4.6.0
#: migration notes). `check` requires health_check_user and sr_check_user.
USERS_REQUIRED_SINCE: Version = (4, 6)

#: Pgpool-II for `poolkit.settings`: its version parsing, release range and messages.
PGPOOL = Product(
    name="Pgpool-II",
    prefix="pgpool",
    banner="pgpool-II",
    expected=(
        "'pgpool --version' output such as 'pgpool-II version 4.6.1 (chirikoboshi)' or a "
        "package version such as '4.6.1-2'"
    ),
    oldest=OLDEST,
    newest=NEWEST,
    debian_12="4.3.5",
)


# ------------------------------------------------------------------------- versions


def parse_version(text: str) -> str:
    """``"4.6.1"`` from ``pgpool --version`` output or a Debian package version.

    Accepts "pgpool-II version 4.6.1 (chirikoboshi)", "4.3.5-1", "4.3.5-1+deb12u1",
    "4.6.1-2", "4.6.1-1.pgdg120+1", "1:4.6.1-1" and "4.6" (read as 4.6.0).
    """
    return PGPOOL.parse_version(text)


_supported = PGPOOL.supported


def _reads(key: str, ver: tuple[int, int, int]) -> bool:
    first, last = SETTINGS[key]
    return ver[:2] >= first and (last is None or ver[:2] <= last)


def _refusal(key: str, ver: tuple[int, int, int], text: str) -> str | None:
    """Why `key` cannot be set at all (any version), or None when it is a modeled key."""
    if key in _OLD_NAMES:
        new = _OLD_NAMES[key]
        since = _short(SETTINGS[new][0])
        where = f"pgpool_{new}" if new in _ROLE_VARIABLES else f"{new} in pgpool_extra_settings"
        return (
            f"'{key}' is the pre-{since} name of {new}; set {where} instead (poolkit "
            f"writes {key} for Pgpool-II before {since} and {new} for {since} and newer)"
        )
    if key in REFUSED:
        return f"'{key}' is {REFUSED[key]}"
    if key in SETTINGS:
        return None
    match = _INDEXED.fullmatch(key)
    if match:
        base = match.group("base")
        if base.startswith("backend_"):
            return f"'{key}' belongs to a backend; list the backends in pgpool_backends"
        if base.startswith(("health_check_", "connect_timeout")):
            return (
                f"'{key}' is a per-backend health check override, which poolkit does not "
                f"model; set the global pgpool_{base} instead"
            )
        return f"'{key}' is part of a watchdog node list, which poolkit does not model"
    return PGPOOL.unknown_setting(key, [k for k in SETTINGS if k not in _OLD_NAMES], ver, text)


def _unavailable(key: str, ver: tuple[int, int, int], text: str) -> str:
    """'' when `ver` reads `key` (under its own or its old name), else the complaint."""
    old = RENAMED.get(key)
    if _reads(key, ver) or (old is not None and _reads(old, ver)):
        return ""
    first, last = SETTINGS[key]
    if ver[:2] < first:
        return PGPOOL.too_new(key, first, ver, text)
    return PGPOOL.removed(key, last or first, ver, text)


def keys_read_by(version: str) -> frozenset[str]:
    """The `SETTINGS` keys Pgpool-II `version` reads: what its ``PGPOOL SHOW ALL`` lists,
    apart from indexed keys (`is_indexed`) and the `REFUSED` ones."""
    ver, _ = _supported(version)
    return frozenset(key for key in SETTINGS if _reads(key, ver))


def is_indexed(key: str) -> bool:
    """A per-backend or watchdog key with its index (backend_hostname0, wd_port1)."""
    match = _INDEXED.fullmatch(key)
    return bool(match and match.group("index"))


def written_name(key: str, version: str) -> str:
    """The name `version` reads for the role's setting `key` (see `RENAMED`)."""
    ver, _ = _supported(version)
    old = RENAMED.get(key)
    if old is not None and not _reads(key, ver) and _reads(old, ver):
        return old
    return key
