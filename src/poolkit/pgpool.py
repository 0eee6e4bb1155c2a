"""Pgpool-II configuration by version: pgpool.conf, backends, preflight, restarts.

Pure functions behind the ``poolkit_pgpool_*`` Ansible filters
(filter_plugins/poolkit_pgpool.py) that a ``pgpool`` role renders its files with. Versions
are strings such as ``"4.6.1"`` throughout; `parse_version` reads the output of
``pgpool --version`` or a Debian package version.

Every user-fixable problem raises one `PoolkitError` listing each problem on its own
line, each naming the Ansible variable to change (``pgpool_<key>``,
``pgpool_extra_settings.<key>``, ``pgpool_backends[i].port``, ...).

Sources (the commands and raw results are in docs/pgpool-facts.md):

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

pool_passwd and pcp.conf are written by `poolkit.pgpool_passwd`, whose functions are
importable from here too.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from poolkit import PoolkitError
from poolkit.pgpool_passwd import (  # noqa: F401 - public here since before the split
    AES_MAX_PASSWORD_BYTES,
    AES_PREFIX,
    MAX_POOL_KEY_BYTES,
    MD5_PREFIX,
    PASSWD_METHODS,
    check_pool_key,
    parse_pool_passwd,
    pcp_conf_line,
    pool_key_from_file,
    pool_passwd_aes,
    pool_passwd_aes_decrypt,
    pool_passwd_md5,
    render_pcp_conf,
    render_pool_passwd,
)
from poolkit.settings import FALSE as _FALSE
from poolkit.settings import TRUE as _TRUE
from poolkit.settings import Product, octal_mode, restart_keys, setting_lines, tls_file_problems
from poolkit.settings import as_bool as _as_bool
from poolkit.settings import checked_bool as _checked_bool
from poolkit.settings import checked_int as _checked_int
from poolkit.settings import non_negative as _non_negative
from poolkit.settings import short as _short
from poolkit.settings import string as _string
from poolkit.settings import user_names as _user_names
from poolkit.sizing import PGPOOL_MAX_POOL, SOURCES
from poolkit.values import as_int, exporter_service_problems
from poolkit.values import did_you_mean as _did_you_mean
from poolkit.values import raise_all as _raise
from poolkit.values import type_name as _type_name

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
        return (
            f"'{key}' is the pre-{since} name of {new}; set pgpool_{new} instead (poolkit "
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


# ------------------------------------------------------------------------- values


def _port(value: Any, variable: str) -> int:
    number = as_int(value, variable)
    low, high = PORT_RANGE
    if not low <= number <= high:
        raise PoolkitError(
            f"{variable}: {number} is outside {low}-{high}, the range Pgpool-II accepts for "
            "ports (it refuses to start otherwise)"
        )
    return number


def conf_string(value: Any, variable: str) -> str:
    """A pgpool.conf string value, single-quoted.

    Measured on 4.3.5 and 4.6.1: the text between the quotes is taken literally, a
    backslash included ('a\\\\b' is read as a\\\\b, a trailing backslash is fine), and a
    single quote cannot be written at all: '' (doubled) is a syntax error that stops
    Pgpool-II and \\' keeps the backslash. A line break cannot be written either.
    """
    _string(value, variable)
    if "'" in value:
        raise PoolkitError(
            f"{variable}: contains a single quote, which pgpool.conf cannot hold (Pgpool-II "
            "reads neither '' nor \\' as a quote); choose a value without one"
        )
    bad = next((ch for ch in value if ch in "\n\r\0"), None)
    if bad is not None:
        raise PoolkitError(
            f"{variable}: contains {bad!r} (a line break or NUL), which pgpool.conf cannot hold"
        )
    return "'" + value + "'"


def _boolean(value: Any, variable: str) -> str:
    """``on`` or ``off`` from a bool, 1/0, or a templated "True" / "no" / "off" ...

    Anything else is refused: Pgpool-II would ignore an invalid boolean ('maybe')
    silently and keep the default (measured)."""
    return "on" if _as_bool(value, variable) else "off"


def _mode(value: Any, variable: str) -> str:
    """The octal mode with exactly one leading 0 (``770`` and ``00770`` give ``0770``)."""
    return "0" + (octal_mode(value, variable).lstrip("0") or "0")


def _choice(key: str, value: Any, variable: str) -> str:
    choices = CHOICES[key]
    if isinstance(value, bool) and "on" in choices:
        value = "on" if value else "off"  # check_temp_table reads on/off (YAML booleans)
    if isinstance(value, str):
        for choice in choices:
            if value.strip().lower() == choice.lower():
                return "'" + choice + "'"
    raise PoolkitError(f"{variable}: {value!r} is not one of {', '.join(choices)}")


def _list(key: str, value: Any, variable: str, ver: tuple[int, int, int], text: str) -> str:
    separator, multi_since = LISTS[key]
    if isinstance(value, str):
        items = [value]
        several = separator in value
        rendered = conf_string(value, variable)
    elif isinstance(value, (list, tuple)):
        items = []
        for i, item in enumerate(value):
            conf_string(item, f"{variable}[{i}]")
            if not item.strip() or separator in item:
                raise PoolkitError(
                    f"{variable}[{i}]: {item!r} cannot be an item of a {separator!r}-separated "
                    "list (empty or contains the separator)"
                )
            items.append(item.strip())
        several = len(items) > 1
        rendered = "'" + separator.join(items) + "'"
    else:
        raise PoolkitError(
            f"{variable}: expected a string or a list of strings, got {_type_name(value)}"
        )
    if several and ver[:2] < multi_since:
        what = "address" if "addresses" in key else "directory" if "dir" in key else "value"
        raise PoolkitError(
            f"{variable}: Pgpool-II {text} reads a single {what} here (lists need "
            f"{_short(multi_since)} or newer); give one"
        )
    return rendered


#: (key, choice) -> the last (major, minor) that accepts it. 4.7.0 retired Slony mode:
#: 4.7.3 refuses 'slony' ("FATAL: invalid value for parameter "backend_clustering_mode"",
#: measured).
RETIRED_CHOICES: dict[tuple[str, str], Version] = {("backend_clustering_mode", "slony"): (4, 6)}


def _setting_value(
    key: str, value: Any, variable: str, ver: tuple[int, int, int], text: str
) -> str:
    """The pgpool.conf text of one value (quoted where Pgpool-II needs quotes)."""
    last = RETIRED_CHOICES.get((key, str(value)))
    if last is not None and ver[:2] > last:
        raise PoolkitError(
            f"{variable}: '{value}' was retired after Pgpool-II {_short(last)}, this host has "
            f"{text}; choose one of "
            + ", ".join(c for c in CHOICES[key] if (key, c) not in RETIRED_CHOICES)
        )
    if key in _BOOLEAN:
        return _boolean(value, variable)
    if key in _PORTS:
        return str(_port(value, variable))
    if key in INTEGER_SETTINGS:
        return str(_non_negative(value, variable))
    if key in _MODES:
        return _mode(value, variable)
    if key in CHOICES:
        return _choice(key, value, variable)
    if key in LISTS:
        return _list(key, value, variable, ver, text)
    return conf_string(value, variable)


# ------------------------------------------------------------------------- pgpool.conf


def conf_settings(
    settings: Mapping[str, Any], version: str, extra: Mapping[str, Any] | None = None
) -> list[list[str]]:
    """pgpool.conf ``[key, value]`` pairs for Pgpool-II `version`.

    `settings` maps the keys the role models to the values of their variables
    (``pgpool_<key>``); None means "not set" and leaves Pgpool-II's default. `extra` is
    ``pgpool_extra_settings``, for keys the role does not model. Modeled keys come in
    `SETTINGS` order, extra keys after them, sorted. Values are ready to write after
    ``key = ``: strings, enums and lists single-quoted, booleans ``on``/``off``, whole
    numbers bare, file modes in octal.

    The socket directory is always ``unix_socket_directories`` here (and the virtual IP
    always ``delegate_ip``): the pair names ``socket_dir`` (``delegate_IP``) for 4.3,
    which does not read the new names (`RENAMED`).

    Refused, all in one PoolkitError: keys Pgpool-II does not read (it would silently
    ignore them), keys of another version, the old names of `RENAMED`, `REFUSED` keys,
    backend / per-backend / watchdog node keys, extra keys the role models, malformed
    values (including a single quote or a line break, which pgpool.conf cannot hold).
    """
    ver, text = _supported(version)
    return setting_lines(
        PGPOOL,
        settings,
        extra,
        order=SETTINGS,
        refusal=lambda key: _refusal(str(key), ver, text),
        unavailable=lambda key: _unavailable(key, ver, text),
        render=lambda key, value, variable: _setting_value(key, value, variable, ver, text),
        written=lambda key: written_name(key, version),
    )


# ------------------------------------------------------------------------- backends


@dataclass
class _Backend:
    index: int
    label: str
    values: dict[str, Any] = field(default_factory=dict)


def _weight(value: Any, variable: str) -> int | float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise PoolkitError(f"{variable}: expected a number >= 0, got {_type_name(value)}")
    number: int | float
    if isinstance(value, str):
        try:
            number = float(value) if re.search(r"[.eE]", value) else int(value)
        except ValueError:
            raise PoolkitError(f"{variable}: expected a number >= 0, got {value!r}") from None
    else:
        number = value
    if not math.isfinite(number) or not 0 <= number <= MAX_WEIGHT:
        raise PoolkitError(
            f"{variable}: {value!r} is outside 0-{MAX_WEIGHT}, the range Pgpool-II accepts"
        )
    return number


def _flags(value: Any, variable: str) -> str:
    if isinstance(value, str):
        parts = [part.strip() for part in value.split("|")]
    elif isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        parts = [str(part).strip() for part in value]
    else:
        raise PoolkitError(
            f"{variable}: expected a flag or a list of flags ({', '.join(BACKEND_FLAGS)}), "
            f"got {_type_name(value)}"
        )
    flags: list[str] = []
    for part in parts:
        flag = part.upper()
        if flag not in BACKEND_FLAGS:
            raise PoolkitError(f"{variable}: {part!r} is not one of {', '.join(BACKEND_FLAGS)}")
        if flag not in flags:
            flags.append(flag)
    if not flags:
        raise PoolkitError(f"{variable}: empty; remove the key to keep ALLOW_TO_FAILOVER")
    if "ALLOW_TO_FAILOVER" in flags and "DISALLOW_TO_FAILOVER" in flags:
        raise PoolkitError(
            f"{variable}: ALLOW_TO_FAILOVER and DISALLOW_TO_FAILOVER exclude each other "
            "(Pgpool-II refuses to start)"
        )
    return "|".join(flags)


def _backends(
    backends: Any, ver: tuple[int, int, int] | None, text: str, problems: list[str]
) -> list[_Backend]:
    """Parsed ``pgpool_backends`` entries; every problem appended to `problems`."""
    variable = "pgpool_backends"
    if isinstance(backends, (str, Mapping)) or not isinstance(backends, Sequence):
        problems.append(
            f"{variable}: expected a list of mappings with a hostname, got {_type_name(backends)}"
        )
        return []
    if not backends:
        problems.append(
            f"{variable}: empty; Pgpool-II needs at least one backend (a mapping with the "
            "PostgreSQL server's hostname)"
        )
        return []
    if len(backends) > MAX_BACKENDS:
        problems.append(
            f"{variable}: {len(backends)} backends; Pgpool-II takes at most {MAX_BACKENDS}"
        )
    parsed: list[_Backend] = []
    seen: dict[tuple[str, int], int] = {}
    for index, item in enumerate(backends):
        where = f"{variable}[{index}]"
        if not isinstance(item, Mapping):
            problems.append(f"{where}: expected a mapping with a hostname, got {_type_name(item)}")
            continue
        backend = _Backend(index, where)
        for key, value in item.items():
            key_variable = f"{where}.{key}"
            if key not in BACKEND_KEYS:
                problems.append(
                    f"{key_variable}: a backend has no setting '{key}'"
                    + _did_you_mean(str(key), BACKEND_KEYS)
                    + f"; known: {', '.join(BACKEND_KEYS)}"
                )
                continue
            if value is None:
                continue
            if ver is not None and (
                complaint := PGPOOL.too_new(f"backend_{key}", BACKEND_KEYS[key], ver, text)
            ):
                problems.append(f"{key_variable}: {complaint}")
                continue
            try:
                if key == "port":
                    backend.values[key] = _port(value, key_variable)
                elif key == "weight":
                    backend.values[key] = _weight(value, key_variable)
                elif key == "flag":
                    backend.values[key] = _flags(value, key_variable)
                else:
                    conf_string(value, key_variable)
                    backend.values[key] = value
            except PoolkitError as exc:
                problems.append(str(exc))
        if "hostname" not in backend.values:
            if item.get("hostname") in (None, ""):
                problems.append(
                    f"{where}: hostname is missing; set it to the PostgreSQL server's address"
                )
            continue  # else the hostname's own problem is reported already
        hostname = backend.values["hostname"]
        if not hostname.strip():
            problems.append(f"{where}.hostname: blank; set it to the PostgreSQL server's address")
            continue
        for key, default in BACKEND_DEFAULTS.items():
            backend.values.setdefault(key, default)
        address = (str(hostname), int(backend.values["port"]))
        if address in seen:
            problems.append(
                f"{where}: {address[0]}:{address[1]} is already {variable}[{seen[address]}]; "
                "list each server once"
            )
        else:
            seen[address] = index
        parsed.append(backend)
    primaries = [b.label for b in parsed if "ALWAYS_PRIMARY" in str(b.values.get("flag", ""))]
    if len(primaries) > 1:
        problems.append(
            f"{', '.join(primaries)}: ALWAYS_PRIMARY on more than one backend; at most one "
            "server can be the primary"
        )
    if parsed and len(parsed) == len(backends) and all(b.values["weight"] == 0 for b in parsed):
        problems.append(
            f"{variable}: every weight is 0; Pgpool-II divides each weight by their sum "
            "(measured: SHOW POOL NODES gives lb_weight -nan), give at least one backend a "
            "weight > 0"
        )
    return parsed


def _number_text(value: int | float) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return format(value, "f").rstrip("0").rstrip(".") if isinstance(value, float) else str(value)


def backends_section(backends: Sequence[Mapping[str, Any]], version: str) -> list[list[str]]:
    """The backend_*N ``[key, value]`` pairs of pgpool.conf, N = the entry's index.

    Each ``pgpool_backends`` entry has a ``hostname`` and any of ``port`` (default 5432,
    range 1024-65535), ``weight`` (default 1, a number from 0 to 100000000), ``flag``
    (``ALLOW_TO_FAILOVER``, ``DISALLOW_TO_FAILOVER``, ``ALWAYS_PRIMARY``, or a list of
    them, written joined with '|'), ``data_directory`` and ``application_name``. Per
    backend the keys come in `BACKEND_KEYS` order. Problems name ``pgpool_backends[i]``.
    """
    ver, text = _supported(version)
    problems: list[str] = []
    parsed = _backends(backends, ver, text, problems)
    _raise(problems)
    pairs: list[list[str]] = []
    for backend in parsed:
        n = backend.index
        for key in BACKEND_KEYS:
            if key not in backend.values:
                continue
            value = backend.values[key]
            numeric = key in ("port", "weight")
            rendered = _number_text(value) if numeric else "'" + str(value) + "'"
            pairs.append([f"backend_{key}{n}", rendered])
    return pairs


# ------------------------------------------------------------------------- reload or restart
#: The pgpool.conf keys (of `SETTINGS`) whose new value a reload (``pgpool reload``,
#: SIGHUP to the main process) applies; a change of any other key - including unknown
#: keys and backend keys other than `RELOADABLE_BACKEND` - needs a restart (safe default).
#: Source: the per-parameter sentence of the documentation shipped with Pgpool-II 4.6.1
#: (Debian 13, /usr/share/doc/pgpool2/runtime-*.html): "This parameter can be changed by
#: reloading the Pgpool-II configurations" vs "This parameter can only be set at server
#: start"; the same sentences in the documentation shipped with 4.3.5 (Debian 12). Checked
#: on 4.3.5 and 4.6.1 by changing a sample of keys in the file, sending SIGHUP and reading
#: ``PGPOOL SHOW <key>`` (a start-only key keeps its old value; docs/pgpool-facts.md).
#: Deliberately left out:
#:
#: * log_directory, log_filename, log_file_mode, log_rotation_age, log_rotation_size,
#:   log_truncate_on_rotation: reloadable on 4.6 (documented and measured) but not on
#:   4.3.5 (measured: log_filename and log_rotation_age keep their old value; its docs say
#:   nothing), so treated as restart on every version;
#: * wd_remove_shutdown_nodes, wd_lost_node_removal_timeout,
#:   wd_no_show_node_removal_timeout: PGPOOL SHOW takes the new value, but the docs say
#:   nothing and the watchdog process keeps its own state: restart (safe default);
#: * connection_cache, logging_collector, backend_clustering_mode,
#:   process_management_mode: no sentence in the docs; measured start-only (SHOW keeps the
#:   old value; process_management_mode not measured).
#:
#: Not documented either way, but measured reloadable on both versions (SHOW takes the new
#: value): disable_load_balance_on_write, auto_failback_interval,
#: dml_adaptive_object_relationship_list, lobj_lock_table, process_management_strategy
#: (4.6). health_check_password and sr_check_password: CFGCXT_RELOAD in Pgpool-II's
#: src/config/pool_config_variables.c (SHOW masks them, so not measurable), like the user
#: names next to them, which the docs mark reloadable. 4.7 (the 4.7.3 package's docs and
#: a SIGHUP on 4.7.3): recovery_database reloads; work_dir, wd_listen_address,
#: wd_listen_port, wd_heartbeat_listen_addresses and wd_heartbeat_listen_port are
#: start-only. 4.7.3 also keeps authentication_timeout and memqcache_oiddir on SIGHUP (its
#: docs say "only be set at server start"), which this version-independent set cannot say
#: without changing older versions (docs/versions-forky.md).
RELOADABLE: frozenset[str] = _words(
    """
    allow_clear_text_frontend_auth allow_sql_comments app_name_redirect_preference_list
    authentication_timeout auto_failback auto_failback_interval
    cache_safe_memqcache_table_list cache_unsafe_memqcache_table_list check_temp_table
    check_unlogged_table client_idle_limit client_idle_limit_in_recovery
    client_min_messages connect_timeout database_redirect_preference_list delay_threshold
    delay_threshold_by_time detach_false_primary disable_load_balance_on_write
    dml_adaptive_object_relationship_list enable_pool_hba failback_command
    failover_command failover_if_affected_tuples_mismatch failover_on_backend_error
    failover_on_backend_shutdown follow_primary_command health_check_database
    health_check_max_retries health_check_password health_check_period
    health_check_retry_delay health_check_timeout health_check_user
    ignore_leading_white_space insert_lock lobj_lock_table log_backend_messages
    log_client_messages log_connections log_destination log_disconnections
    log_error_verbosity log_hostname log_line_prefix log_min_messages log_pcp_processes
    log_per_node_statement log_standby_delay log_statement max_spare_children
    memqcache_auto_cache_invalidation memqcache_oiddir min_spare_children
    notice_per_node_statement prefer_lower_delay_standby
    primary_routing_query_pattern_list process_management_strategy
    read_only_function_list recovery_1st_stage_command recovery_2nd_stage_command
    recovery_database recovery_password recovery_timeout recovery_user relcache_query_target
    replicate_select replication_stop_on_mismatch reset_query_list
    search_primary_node_timeout sr_check_database sr_check_password sr_check_period
    sr_check_user statement_level_load_balance syslog_facility syslog_ident
    user_redirect_preference_list write_function_list
    """
)

#: Backend keys (``backend_<key>N``) a reload applies to a backend that is already
#: configured (backend_hostnameN unchanged). Docs: backend_weight "allows updating the
#: values by reloading", backend_flag and backend_application_name reloadable; measured on
#: both versions. backend_hostname, backend_port, backend_data_directory: "the existing
#: values cannot be updated, so you must restart". A backend added by a reload is
#: registered but stays "down" (measured: SHOW POOL_NODES status down until
#: pcp_attach_node), and removing one needs a restart: so a new or removed backend counts
#: as a restart.
RELOADABLE_BACKEND: frozenset[str] = frozenset({"weight", "flag", "application_name"})

_BACKEND_KEY = re.compile(r"backend_(?P<key>[a-z_]+?)(?P<index>\d+)")
_CONF_LINE = re.compile(
    r"\s*(?P<key>[A-Za-z_][A-Za-z0-9_.]*)\s*=?\s*"
    r"(?:'(?P<quoted>[^'\n]*)'|(?P<bare>[^\s#']+))?\s*(?:#.*)?"
)


def parse_conf(text: str) -> dict[str, str]:
    """``{key: value}`` of pgpool.conf text, as Pgpool-II reads it for the purpose here.

    ``key = value`` (the ``=`` is optional), ``#`` starts a comment outside quotes, a
    single-quoted value is taken literally without its quotes, a repeated key takes its
    last value (measured). Lines that are not settings are skipped.
    """
    if text is None:
        return {}
    if not isinstance(text, str):
        raise PoolkitError(f"pgpool.conf: expected text, got {_type_name(text)}")
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _CONF_LINE.fullmatch(line)
        if match is None or (match["quoted"] is None and match["bare"] is None):
            continue
        values[match["key"]] = match["quoted"] if match["quoted"] is not None else match["bare"]
    return values


def _comparable(key: str, value: str | None) -> str | None:
    """`value` as written (quotes off) in a form where equal settings compare equal."""
    if value is None:
        return None
    if len(value) >= 2 and value[0] == value[-1] == "'":
        value = value[1:-1]
    value = value.strip()
    if key in _BOOLEAN:
        lowered = value.lower()
        if lowered in _TRUE:
            return "on"
        if lowered in _FALSE:
            return "off"
    try:
        number = float(value)
    except ValueError:
        return value
    return _number_text(number) if math.isfinite(number) else value


def _reloadable(key: str, old: Mapping[str, str], new: Mapping[str, str]) -> bool:
    if key in RELOADABLE:
        return True
    match = _BACKEND_KEY.fullmatch(key)
    if match is None or match["key"] not in RELOADABLE_BACKEND:
        return False
    host = f"backend_hostname{match['index']}"
    return (
        host in old and host in new and _comparable(host, old[host]) == _comparable(host, new[host])
    )


def restart_required(old_conf_text: str, new_settings: Sequence[Sequence[str]]) -> list[str]:
    """The keys whose change between the deployed pgpool.conf and the new ``[key, value]``
    pairs (`conf_settings` + `backends_section`) a reload does not apply (sorted).

    A key added or removed is a change; quoting, comments, blanks and the spelling of a
    boolean or number do not count. A change needs a restart unless the key is in
    `RELOADABLE`, or is a `RELOADABLE_BACKEND` key of a backend whose
    backend_hostnameN stays the same: unknown keys, backend hosts, ports and data
    directories, and added or removed backends need a restart. Empty `old_conf_text`
    (nothing deployed yet) gives [], since a first start reads everything. The role
    restarts Pgpool-II when the list is not empty, else reloads.
    """
    return restart_keys(
        old_conf_text,
        new_settings,
        file="pgpool.conf",
        parse=parse_conf,
        pair=lambda key, value: (key.strip(), value),
        comparable=_comparable,
        restarts=lambda key, old, new: not _reloadable(key, old, new),
    )


# ------------------------------------------------------------------------- preflight


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


@dataclass(frozen=True)
class _Budget:
    connections: int
    explanation: str


def _budget(config: Mapping[str, Any], problems: list[str]) -> _Budget | None:
    """The backend connections Pgpool-II may use on each backend, or None (problem noted)."""
    sizing = config.get("sizing")
    if sizing:
        share = None
        if isinstance(sizing, Mapping) and isinstance(sizing.get("budget"), Mapping):
            share = sizing["budget"].get("pgpool_share")
        if isinstance(share, int) and not isinstance(share, bool) and share >= 0:
            return _Budget(
                share,
                f"pgpool_topology's sizing: budget.pgpool_share {share}, Pgpool-II's part"
                " of the backends' connections next to PgBouncer",
            )
        problems.append(
            "pgpool_topology: its sizing is not the dict poolkit_size returns, with "
            "budget.pgpool_share (the topology needs a pgpool section)"
        )
        return None
    if config.get("backend_max_connections") is None:
        problems.append(
            "pgpool_backend_max_connections: not set; set it to the backends' "
            "max_connections (or give pgpool_topology a pgpool section), so that nodes x"
            " num_init_children x max_pool can be checked against it"
        )
        return None
    numbers: dict[str, int] = {}
    for key in (
        "backend_max_connections",
        "backend_superuser_reserved_connections",
        "backend_reserved_connections",
        "backend_other_connections",
    ):
        numbers[key] = _checked_int(
            config.get(key), f"pgpool_{key}", problems, DEFAULTS.get(key, 0)
        )
    total = numbers["backend_max_connections"]
    budget = total - sum(v for k, v in numbers.items() if k != "backend_max_connections")
    explanation = (
        f"pgpool_backend_max_connections {total} - "
        f"pgpool_backend_superuser_reserved_connections "
        f"{numbers['backend_superuser_reserved_connections']} - "
        f"pgpool_backend_reserved_connections {numbers['backend_reserved_connections']} - "
        f"pgpool_backend_other_connections {numbers['backend_other_connections']}"
    )
    if budget < 1:
        problems.append(
            f"pgpool_backend_max_connections: {explanation} = {budget} leaves no connection "
            "for Pgpool-II; raise max_connections or lower the reserved connections"
        )
        return None
    return _Budget(budget, explanation)


def _budget_problems(
    config: Mapping[str, Any], children: int, max_pool: int, problems: list[str]
) -> None:
    nodes = _checked_int(config.get("nodes"), "pgpool_nodes", problems, DEFAULTS["nodes"])
    if config.get("nodes") is not None and nodes < 1:
        problems.append(f"pgpool_nodes: {nodes}; expected at least 1 Pgpool-II node")
        return
    cancel = _checked_bool(
        config.get("query_cancel"), "pgpool_query_cancel", problems, DEFAULTS["query_cancel"]
    )
    budget = _budget(config, problems)
    if budget is None:
        return
    factor = 2 if cancel else 1
    need = nodes * children * max_pool * factor
    if need <= budget.connections:
        return
    per_child = nodes * max_pool * factor
    largest = budget.connections // per_child
    cancel_text = (
        " x 2 (pgpool_query_cancel: a cancel request needs a second connection per child)"
        if cancel
        else ""
    )
    fix = (
        f"the largest pgpool_num_init_children that fits is floor({budget.connections} / "
        f"({nodes} x {max_pool} x {factor})) = {largest}"
        if largest >= 1
        else f"not even 1 child fits with pgpool_max_pool {max_pool}"
    )
    lower_pool = (
        f", or lower pgpool_max_pool (poolkit's sizing uses {PGPOOL_MAX_POOL})"
        if max_pool > PGPOOL_MAX_POOL
        else ""
    )
    problems.append(
        f"pgpool_num_init_children: {_plural(nodes, 'Pgpool-II node')} x num_init_children "
        f"{children} x max_pool {max_pool}{cancel_text} = {need} backend connections, above "
        f"the {budget.connections} each backend has for Pgpool-II ({budget.explanation}); "
        f"{fix}{lower_pool}. Rule: {SOURCES['pgpool']}"
    )


def _name(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _pool_passwd_users(users: Any, problems: list[str]) -> set[str] | None:
    return _user_names(users, "pgpool_users", "{name, password}", problems)


def _check_users(
    config: Mapping[str, Any], ver: tuple[int, int, int] | None, text: str, problems: list[str]
) -> None:
    """health_check_user / sr_check_user where Pgpool-II needs them, and their passwords."""
    mode = str(config.get("backend_clustering_mode") or DEFAULTS["backend_clustering_mode"])
    health_period = _checked_int(
        config.get("health_check_period"), "pgpool_health_check_period", problems, 0
    )
    sr_period = _checked_int(config.get("sr_check_period"), "pgpool_sr_check_period", problems, 0)
    reasons: dict[str, list[str]] = {"health_check_user": [], "sr_check_user": []}
    if ver is not None and ver[:2] >= USERS_REQUIRED_SINCE:
        for found in reasons.values():
            found.append(
                f"Pgpool-II {text} defaults it to '' (4.6.0 migration notes: 'You need to "
                "set them in 4.6')"
            )
    if health_period > 0:
        reasons["health_check_user"].append(
            f"pgpool_health_check_period is {health_period}: the health check logs in as "
            "this user, and a failing check detaches the backend (measured on 4.6.1 with an "
            "empty user: 'health check failed', then failover)"
        )
    if mode.lower() == "streaming_replication":
        reasons["sr_check_user"].append(
            "backend_clustering_mode is streaming_replication: Pgpool-II finds the primary "
            "as this user even with sr_check_period 0 (measured on 4.3.5 and 4.6.1 without "
            "it: 'find_primary_node: ... failed', Pgpool-II never finishes starting)"
        )
    if sr_period > 0:
        reasons["sr_check_user"].append(f"pgpool_sr_check_period is {sr_period}")
    method = config.get("pool_passwd_method") or "aes"
    users = _pool_passwd_users(config.get("users"), problems)
    for key, why in reasons.items():
        user = _name(config.get(key))
        if user is None:
            if why:
                problems.append(
                    f"pgpool_{key}: not set; {'; '.join(why)}. Set it to a PostgreSQL role "
                    "that can log in (sr_check_user: a superuser or a member of pg_monitor)"
                )
            continue
        password_key = key.replace("_user", "_password")
        if config.get(password_key) or users is None:
            continue
        if user not in users:
            problems.append(
                f"pgpool_{key}: {user!r} has no pgpool_{password_key} and is not in "
                "pgpool_users; Pgpool-II then takes its password from pool_passwd, so add "
                "it to pgpool_users"
            )
        elif method == "md5":
            problems.append(
                f"pgpool_{key}: {user!r} has no pgpool_{password_key}, and pool_passwd holds "
                "md5 hashes (pgpool_pool_passwd_method md5), from which Pgpool-II cannot "
                "log in; use pgpool_pool_passwd_method aes or set the password"
            )


def _exporter_problems(config: Mapping[str, Any], problems: list[str]) -> None:
    """`poolkit pgpool-exporter` as a unit of the role (opt-in): a pool_passwd user to log
    in through Pgpool-II with, a database, and a port of its own."""
    if not config.get("exporter_enabled"):
        return
    problems.extend(exporter_service_problems("pgpool", config))
    user = config.get("exporter_user")
    users = {
        entry.get("name") if isinstance(entry, Mapping) else entry
        for entry in (config.get("users") or [])
    }
    if not user:
        problems.append(
            "pgpool_exporter_user: not set; name a pgpool_users entry (a role that exists on "
            "the backends with that password) for the exporter to log in through Pgpool-II"
        )
    elif user not in users:
        problems.append(
            f"pgpool_exporter_user: {user!r} is not in pgpool_users; add {{name: {user}, "
            "password: ...}} (from Ansible Vault, the role's password on the backends): "
            "Pgpool-II needs it in pool_passwd, and the exporter logs in with it (stored "
            "encrypted with systemd-creds, never in plaintext)"
        )
    if not config.get("exporter_database"):
        problems.append(
            "pgpool_exporter_database: empty; name a database the exporter's user may connect "
            "to (default postgres)"
        )
    port = _checked_int(config.get("exporter_port"), "pgpool_exporter_port", problems, 9719)
    if not 1 <= port <= 65535:
        problems.append(f"pgpool_exporter_port: {port}; expected a port from 1 to 65535")
    for key in ("port", "pcp_port"):
        if config.get(key) is not None and str(config.get(key)) == str(port):
            problems.append(
                f"pgpool_exporter_port: {port} is pgpool_{key}'s port too; choose another"
            )


def _follow_problems(config: Mapping[str, Any], problems: list[str]) -> None:
    """`poolkit pgpool-follow` (pgpool_follow_patroni): Patroni endpoints, a PCP user to send
    its requests as, nothing in Pgpool-II that promotes (Patroni does), and a primary search
    that ends (a request sent during an endless search is never served)."""
    endpoints = config.get("follow_patroni") or []
    if not isinstance(endpoints, list) or not all(
        isinstance(e, str) and e.startswith(("https://", "http://")) for e in endpoints
    ):
        problems.append(
            f"pgpool_follow_patroni: {endpoints!r}; expected a list of Patroni REST API URLs "
            "(https://member:8008), one per member, or [] to leave Pgpool-II unfollowed"
        )
        return
    if not endpoints:
        return
    for key in ("follow_interval", "follow_retry"):
        value = config.get(key)
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            seconds = -1.0
        if not 0 < seconds <= 60:
            problems.append(f"pgpool_{key}: {value!r}; expected seconds in (0, 60]")
    if not [name for name in config.get("pcp_users") or [] if name]:
        problems.append(
            "pgpool_follow_patroni is set but pgpool_pcp_users is empty: add {name: ..., "
            "password: ...} (from Ansible Vault); the follower sends its PCP requests as the "
            "first user (its password kept encrypted by systemd-creds)"
        )
    for key in ("failover_command", "follow_primary_command"):
        if str(config.get(key) or "").strip():
            problems.append(
                f"pgpool_extra_settings.{key}: set, with pgpool_follow_patroni; Patroni "
                "promotes and the follower only tells Pgpool-II which backend is primary: "
                f"remove {key} (a second promoter makes a split brain)"
            )
    timeout = config.get("search_primary_node_timeout")
    if timeout is not None and str(timeout).strip() in ("0", "0.0"):
        problems.append(
            "pgpool_extra_settings.search_primary_node_timeout: 0 (search forever), with "
            "pgpool_follow_patroni; Pgpool-II serves no request while it searches, so the "
            "follower could never attach Patroni's leader: give a finite number of seconds "
            "(10, say; Pgpool-II's default is 300)"
        )


#: check() settings the role has no variable of its own for: they come from
#: pgpool_extra_settings, and messages name them there.
EXTRA_CHECKED = ("process_management_mode", "min_spare_children", "max_spare_children")


def _variable(key: str) -> str:
    """The role variable that holds check()'s `key`."""
    return f"pgpool_extra_settings.{key}" if key in EXTRA_CHECKED else f"pgpool_{key}"


def check(config: Mapping[str, Any]) -> None:
    """Preflight consistency of the role's Pgpool-II variables; None when all is well.

    `config` holds, by their names without the ``pgpool_`` prefix: version,
    num_init_children, max_pool, reserved_connections, process_management_mode,
    min_spare_children, max_spare_children, nodes (Pgpool-II nodes, default 1),
    query_cancel (default true), the backends' budget (backend_max_connections,
    backend_superuser_reserved_connections (default 3), backend_reserved_connections,
    backend_other_connections) or sizing (what ``poolkit_size`` returns: its
    budget.pgpool_share wins), backends, backend_clustering_mode, health_check_period,
    health_check_user, health_check_password, sr_check_period, sr_check_user,
    sr_check_password, users (the pool_passwd users), pool_passwd_method, and TLS: ssl,
    ssl_cert, ssl_key, ssl_ca_cert (file names), enable_pool_hba and hba_rules, and the
    exporter's exporter_enabled, exporter_user, exporter_database, exporter_port, port,
    pcp_port and service_manager. A null
    number means Pgpool-II's default (`DEFAULTS`).

    Checks: nodes x num_init_children x max_pool (x 2 with query_cancel) fits in the
    budget (the Pgpool-II docs' rule, `poolkit.sizing.SOURCES`), reserved_connections
    below num_init_children, the dynamic process manager's spare children, every
    backend (`backends_section`), health_check_user / sr_check_user where Pgpool-II needs
    them, and that a check user without a password can get one from pool_passwd. Every
    problem found is reported in one PoolkitError, one per line.
    """
    problems, ver, text = PGPOOL.preflight(config, "pgpool_version")

    def number(key: str) -> int:
        return _checked_int(config.get(key), _variable(key), problems, DEFAULTS[key])

    children = number("num_init_children")
    max_pool = number("max_pool")
    reserved = number("reserved_connections")
    if children < 1:
        problems.append(
            f"pgpool_num_init_children: {children}; Pgpool-II needs at least 1 child "
            "(measured: 0 is 'outside the valid range')"
        )
    if max_pool < 1:
        problems.append(
            f"pgpool_max_pool: {max_pool}; each child needs at least 1 cached connection "
            "(measured: 0 gives 'invalid connection pool number: 0')"
        )
    if children >= 1 and max_pool >= 1:
        _budget_problems(config, children, max_pool, problems)
    if reserved and reserved >= children:
        problems.append(
            f"pgpool_reserved_connections: {reserved} is not below pgpool_num_init_children "
            f"{children}; Pgpool-II refuses clients once more than num_init_children - "
            f"reserved_connections are connected, so at most {max(children - 1, 0)}"
        )
    mode = config.get("process_management_mode") or DEFAULTS["process_management_mode"]
    if str(mode).lower() == "dynamic":
        low, high = number("min_spare_children"), number("max_spare_children")
        if high > children:
            problems.append(
                f"{_variable('max_spare_children')}: {high} is above pgpool_num_init_children "
                f"{children} (measured: Pgpool-II refuses to start); lower it to at most "
                f"{children}"
            )
        if low >= high:
            problems.append(
                f"{_variable('min_spare_children')}: {low} is not below"
                f" {_variable('max_spare_children')} {high} (measured: Pgpool-II refuses to"
                " start)"
            )
    _backends(config.get("backends"), ver, text, problems)
    _check_users(config, ver, text, problems)
    _tls_problems(config, problems)
    _exporter_problems(config, problems)
    _follow_problems(config, problems)
    _raise(problems)


def _tls_problems(config: Mapping[str, Any], problems: list[str]) -> None:
    """ssl and its files, and pool_hba.conf rules that need ssl (files: the role's check)."""
    ssl = config.get("ssl")
    if ssl is not None and not isinstance(ssl, bool):
        problems.append(f"pgpool_ssl: expected true or false, got {ssl!r}")
        return
    tls_file_problems(
        config,
        "pgpool",
        bool(ssl),
        ("ssl_cert", "ssl_key"),
        ("ssl_ca_cert",),
        problems,
        missing="pgpool_ssl is true; Pgpool-II needs its certificate and key to offer TLS",
        unused="pgpool_ssl is false, so Pgpool-II uses no TLS; set pgpool_ssl: true",
    )
    if ssl:
        return
    rules = config.get("hba_rules") or []
    if config.get("enable_pool_hba", True) and isinstance(rules, Sequence):
        for index, rule in enumerate(rules):
            if isinstance(rule, Mapping) and rule.get("type") == "hostssl":
                problems.append(
                    f"pgpool_hba_rules[{index}]: type hostssl, but pgpool_ssl is false, so "
                    "Pgpool-II ignores the rule and its clients are refused; set pgpool_ssl: "
                    "true"
                )
