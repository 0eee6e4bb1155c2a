"""Pgpool-II configuration by version: pgpool.conf, backends, preflight, restarts.

Pure functions behind the ``poolkit_pgpool_*`` Ansible filters
(plugins/filter/poolkit_pgpool.py) and the pgpool role's plan (`poolkit.pgpool_plan`).
This module is the one place to import them from; each job lives in a module of its own:

* `poolkit.pgpool_tables`: what each release reads (keys, renames, choices, backend keys,
  defaults) and version parsing;
* `poolkit.pgpool_settings`: pgpool.conf's settings, checked and quoted;
* `poolkit.pgpool_backends`: the backend_*N lines;
* `poolkit.pgpool_preflight`: every consistency problem of the role's variables;
* `poolkit.pgpool_passwd`: pool_passwd and pcp.conf;
* here: reading a deployed pgpool.conf and deciding between reload and restart.

Versions are strings such as ``"4.6.1"`` throughout; `parse_version` reads the output of
``pgpool --version`` or a Debian package version.

Every user-fixable problem raises one `PoolkitError` listing each problem on its own
line, each naming the Ansible variable to change (``pgpool_<key>``,
``pgpool_extra_settings.<key>``, ``pgpool_backends[i].port``, ...).

pool_passwd and pcp.conf are written by `poolkit.pgpool_passwd`, whose functions are
importable from here too.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence

from poolkit import PoolkitError
from poolkit.pgpool_backends import (  # noqa: F401 (the module's public names)
    _number_text,
    backends_section,
)
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
from poolkit.pgpool_preflight import (  # noqa: F401 (the module's public names)
    EXTRA_CHECKED,
    check,
)
from poolkit.pgpool_settings import (  # noqa: F401 (the module's public names)
    RETIRED_CHOICES,
    conf_settings,
    conf_string,
)
from poolkit.pgpool_tables import (  # noqa: F401 (the module's public names)
    _BOOLEAN,
    BACKEND_DEFAULTS,
    BACKEND_FLAGS,
    BACKEND_KEYS,
    CHOICES,
    DEFAULTS,
    INTEGER_SETTINGS,
    LISTS,
    MAX_BACKENDS,
    MAX_WEIGHT,
    NEWEST,
    OLDEST,
    PGPOOL,
    PORT_RANGE,
    REFUSED,
    RENAMED,
    SETTINGS,
    USERS_REQUIRED_SINCE,
    Version,
    _words,
    is_indexed,
    keys_read_by,
    parse_version,
    written_name,
)
from poolkit.settings import FALSE as _FALSE
from poolkit.settings import TRUE as _TRUE
from poolkit.settings import restart_keys
from poolkit.values import type_name as _type_name

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
