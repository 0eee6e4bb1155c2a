"""PgBouncer configuration by version: pgbouncer.ini sections, preflight checks, restarts.

Pure functions behind the ``poolkit_pgbouncer_*`` Ansible filters
(filter_plugins/poolkit_pgbouncer.py) that the ``pgbouncer`` role renders pgbouncer.ini
with. Versions are strings such as ``"1.24.1"`` throughout; `parse_version` reads the
output of ``pgbouncer --version`` or a Debian package version.

Every user-fixable problem raises one `PoolkitError` listing each problem on its own
line, each naming the Ansible variable to change (``pgbouncer_<key>``,
``pgbouncer_extra_settings.<key>``, ``pgbouncer_databases[i] (name).key``, ...).

Sources of the tables below (checked when written):

* Measured on the Debian packages PgBouncer 1.18.0 (Debian 12), 1.24.1 (Debian 13) and
  1.26.1 (Debian forky, docs/versions-forky.md):
  ``SHOW CONFIG`` lists every ``[pgbouncer]`` key and whether RELOAD can change it (its
  ``changeable`` column); starting PgBouncer with each ``[databases]`` / ``[users]`` key
  shows which it reads (an unknown one stops it with "unrecognized connection parameter"
  or "unrecognized user parameter"); the same probes fixed the quoting rules
  (`connstr_value`) and the characters a section key may hold (`NAME_PATTERN`).
* For versions in between: PgBouncer's changelog (pgbouncer.org/changelog.html, NEWS.md)
  and pull requests, cited next to each entry. Where the changelog says nothing, the
  entry requires the oldest version measured to have it (conservative). 1.25 was not
  measured: its keys are dated by the 1.26.1 package's NEWS.md.
* Versions older than 1.18 were not measured: they are refused as a whole (`OLDEST`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from poolkit import PoolkitError
from poolkit.advisories import PGBOUNCER_SAFE_MAX_PACKET
from poolkit.settings import Product, octal_mode, restart_keys, setting_lines, tls_file_problems
from poolkit.settings import as_bool as _as_bool
from poolkit.settings import checked_int as _checked_int
from poolkit.settings import non_negative as _non_negative
from poolkit.settings import string as _string
from poolkit.settings import user_names as _user_names
from poolkit.sizing import FD_EXTRA, FD_MARGIN, FD_ROUND, fd_limit
from poolkit.values import did_you_mean as _did_you_mean
from poolkit.values import exporter_service_problems
from poolkit.values import raise_all as _raise
from poolkit.values import type_name as _type_name

#: The oldest PgBouncer whose settings poolkit knows (measured: Debian 12's 1.18.0).
OLDEST = (1, 18)
#: The newest PgBouncer measured (Debian forky's 1.26.1); newer versions are assumed to
#: keep every key but those in `REMOVED`, and keys they add are unknown.
NEWEST = (1, 26)

_B = OLDEST  # known to 1.18.0 (measured); not checked against older versions

# ------------------------------------------------------------------------- [pgbouncer]
#: Every [pgbouncer] key -> the first (major, minor) that reads it. The order is the
#: order of PgBouncer's configuration docs (doc/config.md): generic settings (with the
#: connection limits and pooling), authentication, logging, console access, connection
#: sanity checks and timeouts, TLS, dangerous timeouts, low-level network settings.
#: `ini_settings` writes the keys in this order. Not listed: ``conffile`` (SHOW CONFIG
#: shows it, but it names the file itself) and ``service_name`` (Windows only: the
#: Debian builds refuse it, 1.26.1 too).
SETTINGS: dict[str, tuple[int, int]] = {
    # Generic settings
    "logfile": _B,
    "pidfile": _B,
    "listen_addr": _B,
    "listen_port": _B,
    "unix_socket_dir": _B,
    "unix_socket_mode": _B,
    "unix_socket_group": _B,
    "user": _B,
    "pool_mode": _B,
    "max_client_conn": _B,
    "default_pool_size": _B,
    "min_pool_size": _B,
    "reserve_pool_size": _B,
    "reserve_pool_timeout": _B,
    "max_db_connections": _B,
    # 1.24.0 "Tracking and limiting connection counts per user and database" (#1137 and
    # its per-database sibling); measured absent in 1.18.0.
    "max_db_client_connections": (1, 24),
    "max_user_connections": _B,
    "max_user_client_connections": (1, 24),
    "server_round_robin": _B,
    # 1.20.0: "Introduce the track_extra_parameters" (#867).
    "track_extra_parameters": (1, 20),
    "ignore_startup_parameters": _B,
    # 1.19.0: "Add support for peering between PgBouncer processes" (#666).
    "peer_id": (1, 19),
    "disable_pqexec": _B,
    "application_name_add_host": _B,
    "job_name": _B,
    "stats_period": _B,
    # 1.21.0: "Add support for protocol-level named prepared statements" (#845).
    "max_prepared_statements": (1, 21),
    # 1.25.0: "Add scram_iterations setting" (#1339); measured in 1.26.1.
    "scram_iterations": (1, 25),
    # Authentication settings
    "auth_type": _B,
    "auth_hba_file": _B,
    # 1.23.0: "Add support for user name maps for cert and peer authentication" (#996).
    "auth_ident_file": (1, 23),
    "auth_file": _B,
    "auth_user": _B,
    "auth_query": _B,
    # 1.19.0: "Add auth_dbname option" (#764, global and per database).
    "auth_dbname": (1, 19),
    # 1.25.0: "Add LDAP authentication! ... using auth_ldap_options" (#731); measured in
    # 1.26.1 (auth_type = ldap, also new in 1.25, is not in `AUTH_TYPES`).
    "auth_ldap_options": (1, 25),
    # Log settings
    "syslog": _B,
    "syslog_ident": _B,
    "syslog_facility": _B,
    "log_connections": _B,
    "log_disconnections": _B,
    "log_pooler_errors": _B,
    "log_stats": _B,
    "verbose": _B,
    # Console access control
    "admin_users": _B,
    "stats_users": _B,
    # Connection sanity checks, timeouts
    "server_reset_query": _B,
    "server_reset_query_always": _B,
    "server_check_delay": _B,
    "server_check_query": _B,
    "server_fast_close": _B,
    "server_lifetime": _B,
    "server_idle_timeout": _B,
    "server_connect_timeout": _B,
    "server_login_retry": _B,
    "client_login_timeout": _B,
    "autodb_idle_timeout": _B,
    # 1.26.0: "Add pool_idle_timeout setting" (#1491); measured in 1.26.1.
    "pool_idle_timeout": (1, 26),
    "dns_max_ttl": _B,
    "dns_nxdomain_ttl": _B,
    "dns_zone_check_period": _B,
    "resolv_conf": _B,
    # 1.25.0: "... can be changed/disabled using query_wait_notify" (#1264); measured in
    # 1.26.1.
    "query_wait_notify": (1, 25),
    # 1.26.0: "Add login_notify_message setting" (#1488); measured in 1.26.1.
    "login_notify_message": (1, 26),
    # TLS settings
    "client_tls_sslmode": _B,
    "client_tls_key_file": _B,
    "client_tls_cert_file": _B,
    "client_tls_ca_file": _B,
    "client_tls_protocols": _B,
    "client_tls_ciphers": _B,
    # 1.25.0: "Add client_tls13_ciphers and server_tls13_ciphers" (#1352); measured in
    # 1.26.1.
    "client_tls13_ciphers": (1, 25),
    "client_tls_ecdhcurve": _B,
    "client_tls_dheparams": _B,
    "server_tls_sslmode": _B,
    "server_tls_ca_file": _B,
    "server_tls_key_file": _B,
    "server_tls_cert_file": _B,
    "server_tls_protocols": _B,
    "server_tls_ciphers": _B,
    "server_tls13_ciphers": (1, 25),  # 1.25.0 (#1352), as client_tls13_ciphers
    # Dangerous timeouts
    "query_timeout": _B,
    "query_wait_timeout": _B,
    # 1.19.0: "Add a dedicated cancel_wait_timeout setting" (#833).
    "cancel_wait_timeout": (1, 19),
    "client_idle_timeout": _B,
    "idle_transaction_timeout": _B,
    # 1.25.0: "Add transaction_timeout setting, both globally and at the user level"
    # (#1242); measured in 1.26.1.
    "transaction_timeout": (1, 25),
    # Removed in 1.26.0 with online restart (-R, #1581): see `REMOVED`.
    "suspend_timeout": _B,
    # Low-level network settings
    "pkt_buf": _B,
    "max_packet_size": _B,
    "listen_backlog": _B,
    "sbuf_loopcnt": _B,
    "so_reuseport": _B,
    "tcp_defer_accept": _B,
    "tcp_socket_buffer": _B,
    "tcp_keepalive": _B,
    "tcp_keepcnt": _B,
    "tcp_keepidle": _B,
    "tcp_keepintvl": _B,
    "tcp_user_timeout": _B,
}

#: [pgbouncer] keys a RELOAD (SIGHUP) does not change: a new value needs a restart.
#: Source: ``SHOW CONFIG``'s ``changeable`` column is "no" for exactly these on 1.18.0,
#: 1.24.1 and 1.26.1 (track_extra_parameters exists from 1.20; every key new in 1.25 or
#: 1.26 is changeable), i.e. the keys flagged
#: CF_NO_RELOAD in PgBouncer's src/main.c; the docs' SHOW CONFIG entry: "changeable:
#: Either yes or no, shows if the variable can be changed while running. If no, the
#: variable can be changed only at boot time." peer_id is changeable (yes) on 1.24.1.
RESTART_KEYS: frozenset[str] = frozenset(
    {
        "disable_pqexec",
        "job_name",
        "listen_addr",
        "listen_backlog",
        "listen_port",
        "pidfile",
        "pkt_buf",
        "resolv_conf",
        "so_reuseport",
        "track_extra_parameters",
        "unix_socket_dir",
        "unix_socket_group",
        "unix_socket_mode",
        "user",
    }
)

# ------------------------------------------------------------------------- [databases]
#: Keys of a ``pgbouncer_databases`` entry (besides ``name``) -> first (major, minor),
#: in the order `databases_section` writes them. ``reserve_pool_size`` is written as
#: ``reserve_pool``, the name every version reads (1.24.1 and 1.26.1 also read
#: reserve_pool_size, 1.18.0 refuses it: measured). ``password`` is refused (plain text in
#: pgbouncer.ini). 1.26.1 reads every key below (measured, one start per key).
DATABASE_KEYS: dict[str, tuple[int, int]] = {
    "host": _B,
    "port": _B,
    "dbname": _B,
    "user": _B,
    "auth_user": _B,
    "auth_dbname": (1, 19),  # 1.19.0, #764: "in the connection string, or globally"
    "auth_query": (1, 22),  # 1.22.0: "Support configuring auth_query per database" (#979)
    "pool_size": _B,
    "min_pool_size": _B,
    "reserve_pool_size": _B,
    "max_db_connections": _B,
    "max_db_client_connections": (1, 24),  # 1.24.0 connection limits; absent in 1.18.0
    "pool_mode": _B,
    # 1.26.0: "Allow query_wait_timeout to be configured per user and per database"
    # (#1449); measured in 1.26.1.
    "query_wait_timeout": (1, 26),
    "server_lifetime": (1, 23),  # 1.23.0: "Allow server_lifetime configuration per db" (#1057)
    # Uncertain: #736 added it, the changelog does not say in which release; measured in
    # 1.24.1, absent in 1.18.0, so 1.24 (conservative).
    "load_balance_hosts": (1, 24),
    "connect_query": _B,
    "client_encoding": _B,
    "datestyle": _B,
    "timezone": _B,
    "application_name": _B,
}
_DATABASE_INI_NAMES = {"reserve_pool_size": "reserve_pool"}

# ------------------------------------------------------------------------- [users]
#: Keys of a ``pgbouncer_user_settings`` entry (besides ``name``) -> first (major, minor),
#: in the order `users_section` writes them. Measured: 1.18.0 reads only pool_mode and
#: max_user_connections; 1.24.1 reads these up to client_idle_timeout, 1.26.1
#: reads all of them (neither reads ``reserve_pool``).
USER_KEYS: dict[str, tuple[int, int]] = {
    "pool_mode": _B,
    "pool_size": (1, 23),  # 1.23.0: "Allow pool_size configuration per user" (#1049)
    # Uncertain release (not in the 1.23 changelog; measured in 1.24.1): 1.24.
    "reserve_pool_size": (1, 24),
    "max_user_connections": _B,
    "max_user_client_connections": (1, 24),  # 1.24.0 (#1137)
    # #1188 / #1189, merged 2024-10/11, released in 1.24.0.
    "query_timeout": (1, 24),
    "idle_transaction_timeout": (1, 24),
    "client_idle_timeout": (1, 24),
    # 1.26.0 (#1449), as in [databases]; measured in 1.26.1.
    "query_wait_timeout": (1, 26),
    # 1.25.0: transaction_timeout "both globally and at the user level" (#1242); measured
    # in 1.26.1.
    "transaction_timeout": (1, 25),
}

#: Characters a [databases] / [users] key may hold: measured on 1.18.0 and 1.24.1, any
#: other character (space, '@', ':', '$', '/', '+', non-ASCII, even double-quoting the
#: name as the docs suggest) is a syntax error that stops PgBouncer from starting.
NAME_PATTERN = re.compile(r"[A-Za-z0-9_.-]+")

POOL_MODES = ("session", "transaction", "statement")
AUTH_TYPES = ("any", "trust", "plain", "md5", "cert", "hba", "pam", "scram-sha-256")
SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
#: auth_type values the role supports; the others are refused by `check`.
SUPPORTED_AUTH_TYPES = ("scram-sha-256", "md5", "hba", "cert")

# Value kinds of [pgbouncer] keys (PgBouncer's CF_INT / CF_TIME_USEC / CF_STR / lookups).
_BOOLEAN = frozenset(
    {
        "application_name_add_host",
        "disable_pqexec",
        "log_connections",
        "log_disconnections",
        "log_pooler_errors",
        "log_stats",
        "server_fast_close",
        "server_reset_query_always",
        "server_round_robin",
        "so_reuseport",
        "syslog",
        "tcp_defer_accept",
        "tcp_keepalive",
    }
)
#: Whole-number [pgbouncer] keys: numeric strings such as "20" (from templated
#: defaults) are accepted and written as numbers.
INTEGER_SETTINGS = frozenset(
    {
        "default_pool_size",
        "listen_backlog",
        "listen_port",
        "max_client_conn",
        "max_db_client_connections",
        "max_db_connections",
        "max_packet_size",
        "max_prepared_statements",
        "max_user_client_connections",
        "max_user_connections",
        "min_pool_size",
        "peer_id",
        "pkt_buf",
        # Whole seconds: 1.26.1 refuses 2.5 ("invalid value", measured).
        "query_wait_notify",
        "reserve_pool_size",
        "sbuf_loopcnt",
        "scram_iterations",
        "stats_period",
        "tcp_keepcnt",
        "tcp_keepidle",
        "tcp_keepintvl",
        "tcp_socket_buffer",
        "tcp_user_timeout",
        "verbose",
    }
)
#: Seconds, fractions allowed (PgBouncer: "all timeouts can be set in floats").
_SECONDS = frozenset(
    {
        "autodb_idle_timeout",
        "cancel_wait_timeout",
        "client_idle_timeout",
        "client_login_timeout",
        "dns_max_ttl",
        "dns_nxdomain_ttl",
        "dns_zone_check_period",
        "idle_transaction_timeout",
        "pool_idle_timeout",
        "query_timeout",
        "query_wait_timeout",
        "reserve_pool_timeout",
        "server_check_delay",
        "server_connect_timeout",
        "server_idle_timeout",
        "server_lifetime",
        "server_login_retry",
        "suspend_timeout",
        "transaction_timeout",
    }
)
#: Comma-separated lists: a YAML list is joined with ", ".
_LISTS = frozenset(
    {
        "admin_users",
        "ignore_startup_parameters",
        "listen_addr",
        "stats_users",
        "track_extra_parameters",
    }
)
_CHOICES: dict[str, tuple[str, ...]] = {
    "pool_mode": POOL_MODES,
    "auth_type": AUTH_TYPES,
    "client_tls_sslmode": SSL_MODES,
    "server_tls_sslmode": SSL_MODES,
    "load_balance_hosts": ("disable", "round-robin"),
}
_DATABASE_INTEGERS = frozenset(
    {
        "port",
        "pool_size",
        "min_pool_size",
        "reserve_pool_size",
        "max_db_connections",
        "max_db_client_connections",
        "query_wait_timeout",
        "server_lifetime",
    }
)
_USER_INTEGERS = frozenset(USER_KEYS) - {"pool_mode"}

#: PgBouncer's defaults: what `check` assumes for a variable that is null ("leave the
#: default"), and the figures `poolkit.pgbouncer_plan` falls back to without a topology.
DEFAULTS = {
    "default_pool_size": 20,
    "min_pool_size": 0,
    "reserve_pool_size": 0,
    "reserve_pool_timeout": 5,
    "max_client_conn": 100,
    "max_db_connections": 0,
    "max_user_connections": 0,
    "listen_port": 6432,
    "processes": 1,
    "auth_type": "md5",
}
#: The soft file descriptor limit a systemd service gets when LimitNOFILE is not set.
SYSTEMD_NOFILE = 1024

_SAFE_CONNSTR = re.compile(r"[A-Za-z0-9_.,:/@*+%-]+")

#: PgBouncer for `poolkit.settings`: its version parsing, release range and messages.
PGBOUNCER = Product(
    name="PgBouncer",
    prefix="pgbouncer",
    banner="pgbouncer",
    expected=(
        "'pgbouncer --version' output or a package version such as '1.24.1' or '1.24.1-1.pgdg120+1'"
    ),
    oldest=OLDEST,
    newest=NEWEST,
    debian_12="1.18.0",
)


# ------------------------------------------------------------------------- versions


def parse_version(text: str) -> str:
    """``"1.24.1"`` from ``pgbouncer --version`` output or a Debian package version.

    Accepts "PgBouncer 1.24.1\\nlibevent ...", "1.24.1-1", "1.18.0-1+b2",
    "1.24.1-1.pgdg120+1", "1:1.24.1-1" and "1.24" (read as 1.24.0).
    """
    return PGBOUNCER.parse_version(text)


_supported = PGBOUNCER.supported
_too_new = PGBOUNCER.too_new

#: [pgbouncer] keys a release stopped reading -> the last (major, minor) that reads them.
#: 1.26.0 removed suspend_timeout with online restart (-R, #1581); 1.26.1 refuses to start
#: with it ("ERROR unknown parameter: pgbouncer/suspend_timeout", measured).
REMOVED: dict[str, tuple[int, int]] = {"suspend_timeout": (1, 25)}


def _unavailable(key: str, ver: tuple[int, int, int], text: str) -> str:
    """'' when `ver` reads the [pgbouncer] `key`, else why not (too new, or removed)."""
    if key in REMOVED:
        return _too_new(key, SETTINGS[key], ver, text) or PGBOUNCER.removed(
            key, REMOVED[key], ver, text
        )
    return _too_new(key, SETTINGS[key], ver, text)


def keys_read_by(version: str) -> frozenset[str]:
    """The `SETTINGS` keys PgBouncer `version` reads: what its SHOW CONFIG lists (but
    conffile and service_name, which poolkit never writes)."""
    ver, text = _supported(version)
    return frozenset(key for key in SETTINGS if not _unavailable(key, ver, text))


def _unknown_setting(key: str, ver: tuple[int, int, int], text: str) -> str:
    return PGBOUNCER.unknown_setting(key, SETTINGS, ver, text)


# ------------------------------------------------------------------------- values


def _text(value: Any, variable: str) -> str:
    _string(value, variable)
    if any(ch in value for ch in "\n\r\0"):
        raise PoolkitError(
            f"{variable}: the value contains a line break or NUL character, which "
            "pgbouncer.ini cannot hold"
        )
    return str(value)


def _seconds(value: Any, variable: str) -> str:
    if isinstance(value, float) and not isinstance(value, bool):
        if not math.isfinite(value) or value < 0:
            raise PoolkitError(f"{variable}: expected seconds >= 0, got {value!r}")
        return format(value, "f").rstrip("0").rstrip(".") or "0"
    if isinstance(value, str) and re.fullmatch(r"\d+(\.\d+)?", value.strip()):
        return value.strip()
    if isinstance(value, str):
        raise PoolkitError(f"{variable}: expected seconds (a number >= 0), got {value!r}")
    return str(_non_negative(value, variable))


def _boolean(value: Any, variable: str) -> str:
    """ "1" or "0" from a bool, 1/0, or a templated "True" / "false" / "yes" / "0" ..."""
    return "1" if _as_bool(value, variable) else "0"


def _list(value: Any, variable: str) -> str:
    if isinstance(value, str):
        return _text(value, variable)
    if isinstance(value, (list, tuple)):
        items = [_text(item, f"{variable}[{i}]") for i, item in enumerate(value)]
        for i, item in enumerate(items):
            if not item.strip() or "," in item:
                raise PoolkitError(
                    f"{variable}[{i}]: {item!r} cannot be an element of a comma-separated "
                    "list (empty or contains a comma)"
                )
        return ", ".join(item.strip() for item in items)
    raise PoolkitError(f"{variable}: expected a list of strings, got {_type_name(value)}")


def _choice(key: str, value: Any, variable: str) -> str:
    choices = _CHOICES[key]
    if isinstance(value, str) and value in choices:
        return str(value)
    raise PoolkitError(f"{variable}: {value!r} is not one of {', '.join(choices)}")


def _setting_value(key: str, value: Any, variable: str) -> str:
    """The pgbouncer.ini text of one [pgbouncer] value."""
    if key in _BOOLEAN:
        return _boolean(value, variable)
    if key in INTEGER_SETTINGS:
        return str(_non_negative(value, variable))
    if key in _SECONDS:
        return _seconds(value, variable)
    if key in _LISTS:
        return _list(value, variable)
    if key == "unix_socket_mode":
        return octal_mode(value, variable)
    if key in _CHOICES:
        return _choice(key, value, variable)
    return _text(value, variable)


# ------------------------------------------------------------------------- [pgbouncer]


def ini_settings(
    settings: Mapping[str, Any], version: str, extra: Mapping[str, Any] | None = None
) -> list[list[str]]:
    """The [pgbouncer] section as ``[key, value]`` pairs for PgBouncer `version`.

    `settings` maps the keys the role models to the values of their variables
    (``pgbouncer_<key>``); None means "not set" and leaves PgBouncer's default. `extra`
    is ``pgbouncer_extra_settings``, for keys the role does not model. Modeled keys come
    in `SETTINGS` order, extra keys after them, sorted. Every unknown key, key too new
    for `version`, extra key the role models and malformed value is reported in one
    PoolkitError, one problem per line.
    """
    ver, text = _supported(version)
    return setting_lines(
        PGBOUNCER,
        settings,
        extra,
        order=SETTINGS,
        refusal=lambda key: None if key in SETTINGS else _unknown_setting(str(key), ver, text),
        unavailable=lambda key: _unavailable(key, ver, text),
        render=_setting_value,
    )


#: Releases where a non-empty ignore_startup_parameters lets one unauthenticated packet
#: spin the process (CVE-2026-107349; measured on 1.24.1 with ``options`` listed too).
_OPTIONS_SPIN = ((1, 20, 0), (1, 26, 1))
#: Before 1.26.0 PgBouncer's packet buffer growth overflows near 2^31 (CVE-2026-6668).
_PACKET_OVERFLOW_FIXED = (1, 26, 0)
#: What JDBC drivers send in their StartupMessage and PgBouncer must not refuse.
_JDBC_PARAMETER = "extra_float_digits"
#: track_extra_parameters' default from 1.20 until 1.26 changed what is tracked.
_TRACKED_BY_DEFAULT = "IntervalStyle"


def hardened_settings(
    version: str, ignore: Any = None, track: Any = None, max_packet_size: Any = None
) -> dict[str, Any]:
    """ignore_startup_parameters, track_extra_parameters and max_packet_size for `version`,
    each None ("not set") or the value the user gave or the safe default for the release.

    A null `ignore` is ``[extra_float_digits]`` (JDBC drivers send it) except on 1.20.0 to
    1.26.0, where any non-empty list lets one unauthenticated packet spin the process
    (CVE-2026-107349): there it is empty and extra_float_digits is tracked instead (added to
    a null or given `track`). A null `max_packet_size` is PostgreSQL's own message limit
    below 1.26.0, which keeps CVE-2026-6668's buffer overflow out of reach.
    """
    ver, _ = _supported(version)
    result: dict[str, Any] = {
        "ignore_startup_parameters": ignore,
        "track_extra_parameters": track,
        "max_packet_size": max_packet_size,
    }
    if ignore is None:
        if _OPTIONS_SPIN[0] <= ver < _OPTIONS_SPIN[1]:
            tracked = [_TRACKED_BY_DEFAULT] if track is None else track
            if isinstance(tracked, str):
                tracked = [item.strip() for item in tracked.split(",") if item.strip()]
            if isinstance(tracked, list) and _JDBC_PARAMETER not in tracked:
                tracked = [*tracked, _JDBC_PARAMETER]
            result["ignore_startup_parameters"] = None
            result["track_extra_parameters"] = tracked
        else:
            result["ignore_startup_parameters"] = [_JDBC_PARAMETER]
    if max_packet_size is None and ver < _PACKET_OVERFLOW_FIXED:
        result["max_packet_size"] = PGBOUNCER_SAFE_MAX_PACKET
    return result


# ------------------------------------------------------------------------- sections


def connstr_value(text: str) -> str:
    """One value of a [databases] / [users] line, quoted when PgBouncer needs it.

    Measured on 1.18.0 and 1.24.1: a value with spaces is read inside single quotes, a
    quote inside them is doubled (``'it''s'``), a backslash is an ordinary character
    (PgBouncer is not libpq: ``\\'`` is a syntax error), and an empty value cannot be
    written at all (``''`` is a syntax error). Values made of letters, digits and
    ``_ . , : / @ * + % -`` stay unquoted.
    """
    if text == "":
        raise PoolkitError("an empty value cannot be written in pgbouncer.ini")
    if _SAFE_CONNSTR.fullmatch(text):
        return text
    return "'" + text.replace("'", "''") + "'"


@dataclass
class _Entry:
    """One parsed pgbouncer_databases / pgbouncer_user_settings entry."""

    index: int
    name: str
    label: str
    values: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    follow: str = ""


#: Where a ``follow`` database entry gets its address: ``leader`` is the Patroni cluster's
#: running leader, ``replicas`` its streaming replicas within the lag bound (read-only
#: pools; the leader when none streams) (``pgbouncer_patroni_endpoints``; `poolkit follow`,
#: docs/ha.md).
FOLLOW_CHOICES = ("leader", "replicas")


#: Before 1.25.0 PgBouncer checks a server's certificate against the whole host list
#: ("pg2,pg3" is not in any certificate: pgbouncer#1300, fixed by #1303 in 1.25.0), so with
#: server_tls_sslmode verify-full a host list never connects.
HOST_LIST_VERIFY_FULL_FROM = (1, 25, 0)


def host_lists_connect(version: str, server_tls_sslmode: str) -> bool:
    """Whether a [databases] host list (``host=pg2,pg3``) can connect on this release with
    this server_tls_sslmode (`HOST_LIST_VERIFY_FULL_FROM`)."""
    ver, _ = _supported(version)
    return server_tls_sslmode != "verify-full" or ver >= HOST_LIST_VERIFY_FULL_FROM


def _split_followed(databases: Any, problems: list[str]) -> tuple[Any, dict[str, str]]:
    """`databases` without their ``follow`` keys, and ``{name: follow}`` of the entries
    that had one. A followed entry's address comes from the cluster: host or port with it
    is an error."""
    if isinstance(databases, (str, Mapping)) or not isinstance(databases, Sequence):
        return databases, {}
    items: list[Any] = []
    followed: dict[str, str] = {}
    for index, item in enumerate(databases):
        if isinstance(item, Mapping) and "follow" in item:
            where = f"pgbouncer_databases[{index}] ({item.get('name')})"
            follow = item["follow"]
            if follow not in FOLLOW_CHOICES:
                problems.append(
                    f"{where}.follow: expected {' or '.join(FOLLOW_CHOICES)} (the Patroni "
                    "cluster's running leader or its streaming replicas, from "
                    f"pgbouncer_patroni_endpoints), got {follow!r}"
                )
            for key in ("host", "port"):
                if key in item:
                    problems.append(
                        f"{where}: both {key} and follow are set; a followed database's address"
                        f" comes from the Patroni cluster, so remove {key} (or follow, for a"
                        " fixed server)"
                    )
            item = {k: v for k, v in item.items() if k != "follow"}
            followed[str(item.get("name"))] = str(follow)
        items.append(item)
    return items, followed


def _sizing_databases(sizing: Any, problems: list[str]) -> dict[str, Mapping[str, Any]]:
    """``{database: {pool_size, reserve_pool_size, max_db_connections}}`` from a sizing."""
    if sizing is None or (isinstance(sizing, Mapping) and not sizing):
        return {}
    expected = (
        "pgbouncer_topology: its sizing is not the dict poolkit_size returns (with "
        "pgbouncer.databases: a list of {database, pool_size, reserve_pool_size, "
        "max_db_connections})"
    )
    try:
        entries = sizing["pgbouncer"]["databases"]
    except (KeyError, TypeError):
        problems.append(expected)
        return {}
    if not isinstance(entries, list) or not all(
        isinstance(e, Mapping) and isinstance(e.get("database"), str) for e in entries
    ):
        problems.append(expected)
        return {}
    return {str(e["database"]): e for e in entries}


def _entries(
    items: Any,
    variable: str,
    keys: Mapping[str, tuple[int, int]],
    ver: tuple[int, int, int] | None,
    text: str,
    problems: list[str],
    *,
    section: str,
    finish: Callable[[_Entry], None],
) -> list[_Entry]:
    """Validate names and keys of list entries; `finish` converts each entry's values."""
    if items is None:
        return []
    if isinstance(items, (str, Mapping)) or not isinstance(items, Sequence):
        problems.append(f"{variable}: expected a list of mappings, got {_type_name(items)}")
        return []
    entries: list[_Entry] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        where = f"{variable}[{index}]"
        if not isinstance(item, Mapping):
            problems.append(f"{where}: expected a mapping with a name, got {_type_name(item)}")
            continue
        name = item.get("name")
        if name is None or name == "":
            what = (
                "the database name clients connect to, or '*'"
                if section == "databases"
                else "the user name"
            )
            problems.append(f"{where}: name is missing; set it to {what}")
            continue
        if not isinstance(name, str):
            problems.append(f"{where}.name: expected a string, got {_type_name(name)}")
            continue
        name = str(name)
        label = f"{where} ({name})"
        if not (NAME_PATTERN.fullmatch(name) or (section == "databases" and name == "*")):
            problems.append(
                f"{label}.name: PgBouncer cannot read {name!r} as a [{section}] name; use "
                "only letters, digits, '_', '.' and '-'"
                + (" (or '*' for the fallback entry)" if section == "databases" else "")
            )
            continue
        if section == "databases" and name == "pgbouncer":
            problems.append(
                f"{label}.name: 'pgbouncer' is reserved for PgBouncer's admin console; "
                "choose another name"
            )
            continue
        if name in seen:
            problems.append(
                f"{label}: duplicate of {variable}[{seen[name]}]; each name may appear once"
            )
            continue
        seen[name] = index
        entry = _Entry(index, name, label)
        for key, value in item.items():
            if key == "name":
                continue
            key_variable = f"{label}.{key}"
            if section == "databases" and key == "password":
                problems.append(
                    f"{key_variable}: a password here would sit in plain text in "
                    "pgbouncer.ini; list the user in pgbouncer_users (userlist.txt) or use "
                    "auth_user and auth_query instead"
                )
                continue
            if key not in keys:
                problems.append(
                    f"{key_variable}: PgBouncer has no [{section}] setting '{key}'"
                    + _did_you_mean(str(key), keys)
                )
                continue
            if value is None:
                continue
            if ver is not None and (complaint := _too_new(key, keys[key], ver, text)):
                problems.append(
                    f"{key_variable}: {complaint}; remove it or install a newer PgBouncer"
                )
                continue
            entry.values[key] = value
            entry.sources[key] = key_variable
        finish(entry)
        entries.append(entry)
    return entries


def _convert(entry: _Entry, integers: frozenset[str], problems: list[str]) -> None:
    """Turn an entry's raw values into ints / checked strings, in place."""
    for key in list(entry.values):
        variable = entry.sources[key]
        value = entry.values[key]
        try:
            if key in integers:
                number = _non_negative(value, variable)
                if key == "port" and not 1 <= number <= 65535:
                    raise PoolkitError(f"{variable}: expected a port from 1 to 65535, got {number}")
                entry.values[key] = number
            elif key in _CHOICES:
                entry.values[key] = _choice(key, value, variable)
            else:
                converted = _text(value, variable)
                if converted == "":
                    raise PoolkitError(
                        f"{variable}: empty; PgBouncer cannot read an empty value here, "
                        "remove the key instead"
                    )
                entry.values[key] = converted
        except PoolkitError as exc:
            problems.append(str(exc))
            del entry.values[key]


_SIZED = ("pool_size", "reserve_pool_size", "max_db_connections")


def _databases(
    databases: Any,
    ver: tuple[int, int, int] | None,
    text: str,
    sizing: Any,
    problems: list[str],
    *,
    require_host: bool = True,
) -> list[_Entry]:
    """Parsed pgbouncer_databases entries with the sizing merged in; a followed entry
    (``follow``) has no address of its own and its `_Entry.follow` set."""
    sized = _sizing_databases(sizing, problems)
    databases, followed = _split_followed(databases, problems)

    def finish(entry: _Entry) -> None:
        _convert(entry, _DATABASE_INTEGERS, problems)
        entry.follow = followed.get(entry.name, "")
        if (
            require_host
            and not entry.follow
            and "host" not in entry.values
            and "host" not in entry.sources
        ):
            problems.append(
                f"{entry.label}: host is missing; set it to the PostgreSQL server's address"
            )
        row = sized.get(entry.name)
        if row is None:
            return
        for key in _SIZED:
            if key in entry.values or key in entry.sources or row.get(key) is None:
                continue
            source = f"pgbouncer_topology (sized: pgbouncer.databases[{entry.name}].{key})"
            try:
                entry.values[key] = _non_negative(row[key], source)
                entry.sources[key] = source
            except PoolkitError as exc:
                problems.append(str(exc))

    return _entries(
        databases,
        "pgbouncer_databases",
        DATABASE_KEYS,
        ver,
        text,
        problems,
        section="databases",
        finish=finish,
    )


def _line(entry: _Entry, keys: Iterable[str], ini_names: Mapping[str, str]) -> list[str]:
    parts = [
        f"{ini_names.get(key, key)}={connstr_value(str(entry.values[key]))}"
        for key in keys
        if key in entry.values
    ]
    return [entry.name, " ".join(parts)]


def databases_section(
    databases: Sequence[Mapping[str, Any]],
    version: str,
    sizing: Mapping[str, Any] | None = None,
) -> list[list[str]]:
    """The [databases] section as ``[name, connection string]`` pairs, in the given order.

    Each entry of ``pgbouncer_databases`` has a ``name`` ("*" is the fallback entry), a
    ``host`` and any of `DATABASE_KEYS`. With `sizing` (what ``poolkit_size`` returns), an
    entry without pool_size / reserve_pool_size / max_db_connections takes them from
    ``sizing.pgbouncer.databases`` where ``database`` is the entry's name; explicit values
    win. Keys are written in `DATABASE_KEYS` order, reserve_pool_size as reserve_pool.
    """
    ver, text = _supported(version)
    problems: list[str] = []
    entries = _databases(databases, ver, text, sizing, problems)
    _raise(problems)
    return [
        _line(entry, DATABASE_KEYS, _DATABASE_INI_NAMES) for entry in entries if not entry.follow
    ]


def followed_databases(
    databases: Sequence[Mapping[str, Any]],
    version: str,
    sizing: Mapping[str, Any] | None = None,
    follow: str = "leader",
) -> dict[str, str]:
    """``{name: settings}`` of the entries with ``follow`` equal to `follow`: their
    [databases] line without the address, which `poolkit follow` prepends
    (``host=<leader> port=<its port>``, or the replicas' host list) in the include file.
    Same checks and sizing merge as `databases_section`."""
    ver, text = _supported(version)
    problems: list[str] = []
    entries = _databases(databases, ver, text, sizing, problems)
    _raise(problems)
    return {
        entry.name: _line(entry, DATABASE_KEYS, _DATABASE_INI_NAMES)[1]
        for entry in entries
        if entry.follow == follow
    }


def _sizing_users(sizing: Any, problems: list[str]) -> dict[str, Mapping[str, Any]]:
    """``{user: {pool_size, reserve_pool_size}}``: the sizing's [users] lines (users whose
    pools differ in size from others of the same database)."""
    if sizing is None or (isinstance(sizing, Mapping) and not sizing):
        return {}
    try:
        entries = sizing["pgbouncer"].get("users") or []
    except (KeyError, TypeError, AttributeError):
        return {}  # _sizing_databases reports a malformed sizing
    if not isinstance(entries, list) or not all(
        isinstance(e, Mapping) and isinstance(e.get("user"), str) for e in entries
    ):
        problems.append(
            "pooler_topology: the sizing's pgbouncer.users is not a list of {user, pool_size,"
            " reserve_pool_size}"
        )
        return {}
    return {str(e["user"]): e for e in entries}


def users_section(
    users: Sequence[Mapping[str, Any]] | None, version: str, sizing: Mapping[str, Any] | None = None
) -> list[list[str]]:
    """The [users] section as ``[name, settings]`` pairs: `users` in the given order, then
    the sizing's users that `users` does not name.

    `users` is ``pgbouncer_user_settings`` (per-user pool settings), not the login users
    of userlist.txt. Each entry has a ``name`` and any of `USER_KEYS`. With `sizing` (what
    ``poolkit_size`` returns), every user of ``sizing.pgbouncer.users`` (a user whose pools
    differ in size from the others of its database) gets its pool_size and
    reserve_pool_size unless its entry sets them: explicit values win, as for databases.
    A release without per-user pool sizes (pool_size 1.23, reserve_pool_size 1.24) cannot
    deploy such a sizing: that is an error naming the users, not a silent smaller pool.
    """
    ver, text = _supported(version)
    problems: list[str] = []
    entries = _entries(
        users,
        "pgbouncer_user_settings",
        USER_KEYS,
        ver,
        text,
        problems,
        section="users",
        finish=lambda entry: _convert(entry, _USER_INTEGERS, problems),
    )
    sized = _sizing_users(sizing, problems)
    by_name = {entry.name: entry for entry in entries}
    for name, figures in sized.items():
        entry = by_name.get(name)
        if entry is None:
            entry = _Entry(len(entries), name, f"pooler_topology user {name}")
            entries.append(entry)
            by_name[name] = entry
        for key in ("pool_size", "reserve_pool_size"):
            if key in entry.values or figures.get(key) is None:
                continue
            variable = f"pooler_topology (user {name}: {key} {figures[key]})"
            if complaint := _too_new(key, USER_KEYS[key], ver, text):
                problems.append(
                    f"{variable}: the topology sizes this user's pools apart from the other"
                    f" users of its database, but {complaint}. Give the database's users the"
                    " same share in pooler_topology.pools (one pool size for the database),"
                    " or install PgBouncer 1.24 or newer"
                )
                continue
            entry.values[key] = _checked_int(figures[key], variable, problems)
            entry.sources[key] = variable
    _raise(problems)
    return [_line(entry, USER_KEYS, {}) for entry in entries]


# ------------------------------------------------------------------------- connections


@dataclass(frozen=True)
class _Pool:
    """Effective sizes of one [databases] entry (or of the default pool)."""

    label: str
    pool: int
    pool_source: str
    reserve: int
    reserve_source: str
    max_db: int
    max_db_source: str
    min_pool: int
    min_pool_source: str
    explicit_min_or_pool: bool


def _pick(entry: _Entry, key: str, fallback: int) -> tuple[int, str]:
    """An entry's value of `key` and where it came from, else the global variable's."""
    if key in entry.values:
        return entry.values[key], entry.sources[key]
    return fallback, "pgbouncer_" + ("default_pool_size" if key == "pool_size" else key)


def _pools(
    entries: list[_Entry],
    default_pool: int,
    reserve: int,
    max_db: int,
    min_pool: int,
) -> list[_Pool]:
    if not entries:
        return [
            _Pool(
                "the default pool (pgbouncer_databases is empty)",
                default_pool,
                "pgbouncer_default_pool_size",
                reserve,
                "pgbouncer_reserve_pool_size",
                max_db,
                "pgbouncer_max_db_connections",
                min_pool,
                "pgbouncer_min_pool_size",
                False,
            )
        ]
    pools = []
    for entry in entries:
        pool, pool_source = _pick(entry, "pool_size", default_pool)
        res, res_source = _pick(entry, "reserve_pool_size", reserve)
        cap, cap_source = _pick(entry, "max_db_connections", max_db)
        low, low_source = _pick(entry, "min_pool_size", min_pool)
        pools.append(
            _Pool(
                entry.label,
                pool,
                pool_source,
                res,
                res_source,
                cap,
                cap_source,
                low,
                low_source,
                "min_pool_size" in entry.values or "pool_size" in entry.values,
            )
        )
    return pools


def _capacity(pools: list[_Pool]) -> int:
    """Server connections one process may open: per entry max_db_connections when set
    (> 0: all users' pools of the database share it), else pool_size + reserve_pool_size."""
    return sum(p.max_db if p.max_db > 0 else p.pool + p.reserve for p in pools)


def server_connections_per_process(
    databases: Sequence[Mapping[str, Any]],
    default_pool_size: int,
    reserve_pool_size: int,
    sizing: Mapping[str, Any] | None = None,
) -> int:
    """Server connections one PgBouncer process may open, for its file descriptor limit.

    Per ``pgbouncer_databases`` entry (after the same sizing merge as
    `databases_section`): its max_db_connections when that is set (> 0), because every
    user's pool of the database counts against it; else pool_size + reserve_pool_size,
    each defaulting to `default_pool_size` / `reserve_pool_size` (one pool: a forced
    user, or one user per database). No entries count as one default pool. With the
    entries a sizing produced this equals the sizing's per-process server connections.
    """
    problems: list[str] = []
    default = _checked_int(default_pool_size, "pgbouncer_default_pool_size", problems)
    reserve = _checked_int(reserve_pool_size, "pgbouncer_reserve_pool_size", problems)
    entries = _databases(databases, None, "", sizing, problems, require_host=False)
    _raise(problems)
    return _capacity(_pools(entries, default, reserve, 0, 0))


def _follow_problems(config: Mapping[str, Any], entries: list[_Entry], problems: list[str]):
    """Followed databases need the Patroni cluster's REST API endpoints, and each endpoint
    must be an http(s) URL; the replicas' lag bound is bytes >= 0."""
    endpoints = config.get("patroni_endpoints") or []
    if isinstance(endpoints, str) or not isinstance(endpoints, Sequence):
        problems.append(
            "pgbouncer_patroni_endpoints: expected a list of Patroni REST API URLs "
            f"(https://host:8008), got {_type_name(endpoints)}"
        )
        return
    for index, endpoint in enumerate(endpoints):
        if not isinstance(endpoint, str) or not re.fullmatch(r"https?://[^/\s]+/?", endpoint):
            problems.append(
                f"pgbouncer_patroni_endpoints[{index}]: {endpoint!r} is not a Patroni REST API "
                "URL; write https://host:8008 (scheme, host and port, no path)"
            )
    _checked_int(config.get("follow_max_replica_lag"), "pgbouncer_follow_max_replica_lag", problems)
    followers = [entry.label for entry in entries if entry.follow]
    if followers and not endpoints:
        problems.append(
            f"pgbouncer_patroni_endpoints: empty, but {', '.join(followers)} follow the "
            "Patroni leader; list the REST API URL of every cluster member "
            "(https://host:8008)"
        )


def nofile(max_client_conn: int, server_connections: int) -> int:
    """LimitNOFILE for one PgBouncer process: `poolkit.sizing.fd_limit`, the same formula
    as the sizing's ``limits.nofile``."""
    problems: list[str] = []
    clients = _checked_int(max_client_conn, "max_client_conn", problems)
    servers = _checked_int(server_connections, "server_connections", problems)
    _raise(problems)
    return fd_limit(clients, servers)


# ------------------------------------------------------------------------- preflight


def _names(value: Any, variable: str, problems: list[str]) -> list[str]:
    """User names from a list or a comma-separated string (admin_users, stats_users)."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return [str(v) for v in value]
    problems.append(f"{variable}: expected a list of user names, got {value!r}")
    return []


def _login_users(users: Any, problems: list[str]) -> set[str]:
    """Names of the userlist users: entries are {name, ...} mappings or plain names."""
    names = _user_names(users, "pgbouncer_users", "{name, password} or {name, verifier}", problems)
    return set() if names is None else names


def _auth_problems(config: Mapping[str, Any], entries: list[_Entry], problems: list[str]) -> None:
    auth_type = config.get("auth_type") or DEFAULTS["auth_type"]
    if not isinstance(auth_type, str):
        problems.append(f"pgbouncer_auth_type: expected a string, got {_type_name(auth_type)}")
        auth_type = DEFAULTS["auth_type"]
    reasons = {
        "plain": "sends passwords in clear text",
        "trust": "checks no password",
        "any": "checks no password and ignores the user name",
        "pam": "is not supported by the pgbouncer role",
    }
    if auth_type not in SUPPORTED_AUTH_TYPES:
        reason = reasons.get(auth_type, "is not a PgBouncer auth_type")
        problems.append(
            f"pgbouncer_auth_type: {auth_type!r} {reason}; use "
            f"{', '.join(SUPPORTED_AUTH_TYPES[:-1])} or {SUPPORTED_AUTH_TYPES[-1]}"
        )
    rules = config.get("auth_hba_rules")
    if rules is not None and (isinstance(rules, (str, Mapping)) or not isinstance(rules, Sequence)):
        problems.append(
            f"pgbouncer_auth_hba_rules: expected a list of rules, got {_type_name(rules)}"
        )
    elif auth_type == "hba" and not rules:
        problems.append(
            "pgbouncer_auth_hba_rules: empty, but pgbouncer_auth_type is hba, so PgBouncer "
            "would refuse every login; add rules or choose another pgbouncer_auth_type"
        )
    users = _login_users(config.get("users"), problems)
    auth_user = config.get("auth_user") or None
    auth_query = config.get("auth_query") or None
    if auth_user is not None and not isinstance(auth_user, str):
        problems.append(f"pgbouncer_auth_user: expected a string, got {_type_name(auth_user)}")
        auth_user = None
    if auth_query and not auth_user:
        problems.append(
            "pgbouncer_auth_user: not set, but pgbouncer_auth_query is; PgBouncer runs "
            "auth_query as auth_user, so set pgbouncer_auth_user (and list it in "
            "pgbouncer_users)"
        )
    cert_login = bool(config.get("server_tls_cert_file"))
    if auth_user and auth_user not in users and not cert_login:
        problems.append(
            f"pgbouncer_auth_user: {auth_user!r} is not in pgbouncer_users and "
            "pgbouncer_server_tls_cert_file is not set; PgBouncer logs in as auth_user with "
            "its password from userlist.txt or with a TLS client certificate, so add it to "
            "pgbouncer_users or set pgbouncer_server_tls_cert_file (pg_hba method cert)"
        )
    for entry in entries:
        entry_user = entry.values.get("auth_user")
        if "auth_query" in entry.values and not (entry_user or auth_user):
            problems.append(
                f"{entry.label}.auth_query: set, but neither {entry.label}.auth_user nor "
                "pgbouncer_auth_user is; PgBouncer runs auth_query as auth_user"
            )
        if entry_user and entry_user not in users and not cert_login:
            problems.append(
                f"{entry.label}.auth_user: {entry_user!r} is not in pgbouncer_users; "
                "PgBouncer reads its password from userlist.txt, so add it to pgbouncer_users"
            )
    if auth_type in ("scram-sha-256", "md5") and not auth_query:
        if not users:
            problems.append(
                f"pgbouncer_users: empty and pgbouncer_auth_query is not set, so with "
                f"auth_type {auth_type} nobody can log in; list the users in pgbouncer_users "
                "or set pgbouncer_auth_user and pgbouncer_auth_query"
            )
        for key, what in (("admin_users", "admin console"), ("stats_users", "console")):
            for name in _names(config.get(key), f"pgbouncer_{key}", problems):
                if name not in users:
                    problems.append(
                        f"pgbouncer_{key}: {name!r} is not in pgbouncer_users, so it cannot "
                        f"log in to the {what}; add it to pgbouncer_users"
                    )


#: sslmodes under which PgBouncer checks the peer's certificate against a CA file.
_VERIFYING = ("verify-ca", "verify-full")


def _tls_problems(config: Mapping[str, Any], problems: list[str]) -> None:
    """TLS settings that cannot work together (files are checked on the host by the role)."""
    modes = {}
    for side in ("client", "server"):
        mode = config.get(f"{side}_tls_sslmode")
        if mode is not None and mode not in SSL_MODES:
            problems.append(
                f"pgbouncer_{side}_tls_sslmode: {mode!r} is not one of {', '.join(SSL_MODES)}"
            )
            mode = None
        modes[side] = mode

    def unset(key: str) -> bool:
        return not config.get(key)

    client = modes["client"] or "disable"
    tls_file_problems(
        config,
        "pgbouncer",
        client != "disable",
        ("client_tls_cert_file", "client_tls_key_file"),
        ("client_tls_ca_file",),
        problems,
        missing=(
            f"pgbouncer_client_tls_sslmode is {client!r}; PgBouncer needs its certificate and "
            "key to offer TLS to clients"
        ),
        unused=(
            f"pgbouncer_client_tls_sslmode is {modes['client'] or 'not set (disable)'}, so "
            "clients get no TLS; set pgbouncer_client_tls_sslmode (require refuses clients "
            "without TLS)"
        ),
    )
    if client in _VERIFYING and unset("client_tls_ca_file"):
        problems.append(
            f"pgbouncer_client_tls_ca_file: not set, but pgbouncer_client_tls_sslmode is "
            f"{client!r}; PgBouncer needs the CA that signed the clients' certificates"
        )
    if config.get("auth_type") == "cert" and client not in _VERIFYING:
        problems.append(
            f"pgbouncer_client_tls_sslmode: {client!r}, but pgbouncer_auth_type is cert; "
            "PgBouncer requires a valid client certificate only with verify-ca or verify-full"
        )
    server = modes["server"]
    if server in _VERIFYING and unset("server_tls_ca_file"):
        problems.append(
            f"pgbouncer_server_tls_ca_file: not set, but pgbouncer_server_tls_sslmode is "
            f"{server!r}; PgBouncer needs the CA that signed the PostgreSQL servers' "
            "certificates"
        )
    if unset("server_tls_cert_file") != unset("server_tls_key_file"):
        have, missing = (
            ("server_tls_key_file", "server_tls_cert_file")
            if unset("server_tls_cert_file")
            else ("server_tls_cert_file", "server_tls_key_file")
        )
        problems.append(
            f"pgbouncer_{missing}: not set, but pgbouncer_{have} is; PgBouncer presents a "
            "client certificate to PostgreSQL only with both"
        )
    if server in (None, "disable") and not unset("server_tls_cert_file"):
        problems.append(
            "pgbouncer_server_tls_sslmode: "
            f"{'disable' if server else 'not set (disable before PgBouncer 1.20)'}, but "
            "pgbouncer_server_tls_cert_file is set, which PgBouncer presents only over TLS; "
            "set pgbouncer_server_tls_sslmode to require or verify-full"
        )


def _pool_problems(pools: list[_Pool], max_user: int, problems: list[str]) -> None:
    for p in pools:
        if p.explicit_min_or_pool and p.min_pool > p.pool:
            problems.append(
                f"{p.label}: min_pool_size {p.min_pool} ({p.min_pool_source}) is above "
                f"pool_size {p.pool} ({p.pool_source}); lower min_pool_size to at most {p.pool}"
            )
        total = p.pool + p.reserve
        sizes = (
            f"pool_size {p.pool} ({p.pool_source}) + reserve_pool_size {p.reserve} "
            f"({p.reserve_source}) = {total}"
        )
        for cap, cap_name, cap_source in (
            (p.max_db, "max_db_connections", p.max_db_source),
            (max_user, "max_user_connections", "pgbouncer_max_user_connections"),
        ):
            if cap <= 0:
                continue
            if p.pool > cap:
                problems.append(
                    f"{p.label}: pool_size {p.pool} ({p.pool_source}) is above {cap_name} "
                    f"{cap} ({cap_source}), so the pool can never fill; raise {cap_name} to "
                    f"at least {total} or lower pool_size"
                )
            elif total > cap:
                problems.append(
                    f"{p.label}: {sizes} is above {cap_name} {cap} ({cap_source}), so the "
                    f"reserve pool can never be used in full; raise {cap_name} to at least "
                    f"{total} or lower the pool sizes"
                )


# Debian releases whose prometheus-pgbouncer-exporter package is prometheus-community's
# pgbouncer_exporter (Go, metric names pgbouncer_pools_*, pgbouncer_stats_*). Debian 12's
# package of the same name is another program (a Python exporter, version 1.7) with other
# metric names, which poolkit's alert rules and dashboard do not read.
EXPORTER_DEBIAN_MIN = 13


def _exporter_problems(config: Mapping[str, Any], problems: list[str]) -> None:
    """The PgBouncer exporter (opt-in): a stats_users member with a password to log in with,
    reached over each process's own unix socket, on a release that packages the exporter."""
    if not config.get("exporter_enabled"):
        return
    problems.extend(exporter_service_problems("pgbouncer", config))
    distribution = str(config.get("distribution") or "")
    release = str(config.get("distribution_version") or "")
    if distribution == "Debian" and release.isdigit() and int(release) < EXPORTER_DEBIAN_MIN:
        problems.append(
            f"pgbouncer_exporter_enabled: Debian {release}'s prometheus-pgbouncer-exporter is "
            "not prometheus-community's pgbouncer_exporter but another program (a Python "
            "exporter) with other metric names, which poolkit's alert rules and dashboard do "
            f"not read; enable it on Debian {EXPORTER_DEBIAN_MIN} or later, or set "
            "pgbouncer_exporter_enabled: false here and scrape this host's PgBouncer from "
            "elsewhere (see README, Monitoring)"
        )
    if not config.get("unix_socket_dir"):
        problems.append(
            "pgbouncer_exporter_enabled: the exporter of process N reads that process over its "
            "unix socket (with several processes the TCP port reaches any of them), but "
            "pgbouncer_unix_socket_dir is empty; set it (default /run/pgbouncer)"
        )
    user = config.get("exporter_user")
    if not user:
        problems.append(
            "pgbouncer_exporter_user: not set; name a member of pgbouncer_stats_users with a "
            "password in pgbouncer_users (the exporter logs in as that user, never as an admin)"
        )
        return
    if user in _names(config.get("admin_users"), "pgbouncer_admin_users", []):
        problems.append(
            f"pgbouncer_exporter_user: {user!r} is in pgbouncer_admin_users; the exporter only "
            "reads SHOW commands, so give it a user that is in pgbouncer_stats_users only"
        )
    if user not in _names(config.get("stats_users"), "pgbouncer_stats_users", []):
        problems.append(
            f"pgbouncer_exporter_user: {user!r} is not in pgbouncer_stats_users; add it there "
            "so it may run SHOW commands on the admin console"
        )
    if user not in (config.get("password_users") or []):
        problems.append(
            f"pgbouncer_exporter_user: {user!r} has no password in pgbouncer_users; add "
            f"{{name: {user}, password: ...}} (from Ansible Vault): the exporter logs in with it "
            "(a verifier alone cannot log in), and the role stores it encrypted with "
            "systemd-creds, never in plaintext"
        )
    port = _checked_int(config.get("exporter_port"), "pgbouncer_exporter_port", problems, 9127)
    processes = _checked_int(config.get("processes"), "pgbouncer_processes", [], 1)
    if not 1 <= port <= 65535 - max(processes - 1, 0):
        problems.append(
            f"pgbouncer_exporter_port: {port}; process N listens on port + N - 1, so expected "
            f"a port from 1 to {65535 - max(processes - 1, 0)}"
        )
    elif (
        port
        <= _checked_int(config.get("listen_port"), "pgbouncer_listen_port", [], 6432)
        < (port + max(processes, 1))
    ):
        problems.append(
            f"pgbouncer_exporter_port: {port} to {port + max(processes, 1) - 1} (one per "
            f"process) includes pgbouncer_listen_port {config.get('listen_port')}; move one"
        )


def check(config: Mapping[str, Any]) -> None:
    """Preflight consistency of the role's PgBouncer variables; None when all is well.

    `config` holds, by their names without the ``pgbouncer_`` prefix: default_pool_size,
    min_pool_size, reserve_pool_size, max_client_conn, max_db_connections,
    max_user_connections, limit_nofile, processes, listen_port, pool_mode, auth_type,
    auth_user, auth_query, auth_hba_rules, databases, users (the userlist users, as
    {name, ...} mappings or plain names), admin_users, stats_users, version, sizing and
    the TLS settings (client_tls_sslmode, client_tls_cert_file, client_tls_key_file,
    client_tls_ca_file, server_tls_sslmode, server_tls_ca_file, server_tls_cert_file,
    server_tls_key_file; files are named, their presence is the role's check), and the
    exporter's (exporter_enabled, exporter_user, exporter_port, password_users: the users
    given with a password, unix_socket_dir, service_manager, distribution,
    distribution_version: Ansible's facts).
    A null number means PgBouncer's default (`DEFAULTS`); a null limit_nofile means
    systemd's default soft limit of 1024. Every problem found is reported in one
    PoolkitError, one per line, each naming the variable(s) to change.
    """
    problems, ver, text = PGBOUNCER.preflight(config, "version")

    def number(key: str) -> int:
        return _checked_int(config.get(key), f"pgbouncer_{key}", problems, DEFAULTS.get(key, 0))

    default_pool = number("default_pool_size")
    min_pool = number("min_pool_size")
    reserve = number("reserve_pool_size")
    max_client = number("max_client_conn")
    max_db = number("max_db_connections")
    max_user = number("max_user_connections")
    processes = number("processes")
    port = number("listen_port")
    limit = config.get("limit_nofile")
    limit_nofile = None if limit is None else number("limit_nofile")

    if min_pool > default_pool:
        problems.append(
            f"pgbouncer_min_pool_size: {min_pool} is above pgbouncer_default_pool_size "
            f"{default_pool}; lower pgbouncer_min_pool_size to at most {default_pool}"
        )
    if config.get("max_client_conn") is not None and max_client < 1:
        problems.append(
            f"pgbouncer_max_client_conn: {max_client}; PgBouncer would refuse every client,"
            " allow at least 1"
        )
    if config.get("default_pool_size") is not None and default_pool < 1:
        problems.append(
            f"pgbouncer_default_pool_size: {default_pool}; a pool without server connections"
            " makes its clients wait until query_wait_timeout, allow at least 1"
        )
    if config.get("processes") is not None and processes < 1:
        problems.append(f"pgbouncer_processes: {processes}; run at least 1 PgBouncer process")
    if config.get("listen_port") is not None and not 1 <= port <= 65535:
        problems.append(f"pgbouncer_listen_port: {port}; expected a port from 1 to 65535")
    pool_mode = config.get("pool_mode")
    if pool_mode is not None and pool_mode not in POOL_MODES:
        problems.append(f"pgbouncer_pool_mode: {pool_mode!r} is not one of {', '.join(POOL_MODES)}")

    entries = _databases(config.get("databases"), ver, text, config.get("sizing"), problems)
    pools = _pools(entries, default_pool, reserve, max_db, min_pool)
    _pool_problems(pools, max_user, problems)

    servers = _capacity(_pools(entries, default_pool, reserve, 0, 0))
    need = fd_limit(max_client, servers)
    have = SYSTEMD_NOFILE if limit_nofile is None else limit_nofile
    if have < need:
        state = (
            f"not set, so systemd's default soft limit of {SYSTEMD_NOFILE} applies, which"
            if limit_nofile is None
            else str(limit_nofile)
        )
        problems.append(
            f"pgbouncer_limit_nofile: {state} is below the {need} file descriptors one "
            f"PgBouncer process may need ((max_client_conn {max_client} + {servers} server "
            f"connections per process) x {float(FD_MARGIN):g} + {FD_EXTRA}, rounded up to a "
            f"multiple of {FD_ROUND}); raise pgbouncer_limit_nofile to at least {need}"
        )

    _auth_problems(config, entries, problems)
    _tls_problems(config, problems)
    _exporter_problems(config, problems)
    _follow_problems(config, entries, problems)
    _raise(problems)


# ------------------------------------------------------------------------- restarts


def ini_section(text: str, name: str) -> dict[str, str]:
    """``{key: value}`` of one section of pgbouncer.ini text (keys lower-cased; comments
    and %include lines skipped), e.g. to compare a deployed file with ``poolkit size``."""
    values: dict[str, str] = {}
    current = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in ";#" or line.startswith("%"):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1].strip().lower()
            continue
        if current == name and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip().lower()] = value.strip()
    return values


def _normal(key: str, value: str | None) -> str | None:
    if value is None or key not in _LISTS:
        return value
    return ",".join(part.strip() for part in value.split(","))


def restart_required(old_ini_text: str, new_settings: Sequence[Sequence[str]]) -> list[str]:
    """The `RESTART_KEYS` whose value differs between the deployed pgbouncer.ini and the
    new [pgbouncer] pairs (sorted; a key added or removed differs too).

    Empty `old_ini_text` (nothing deployed yet) gives [], since a first start reads
    everything. The role restarts PgBouncer when the list is not empty, else reloads.
    """
    return restart_keys(
        old_ini_text,
        new_settings,
        file="pgbouncer.ini",
        parse=lambda text: ini_section(text, "pgbouncer"),
        pair=lambda key, value: (key.strip().lower(), value.strip()),
        comparable=_normal,
        restarts=lambda key, old, new: key in RESTART_KEYS,
    )
