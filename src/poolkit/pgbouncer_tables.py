"""What each PgBouncer release reads: the [pgbouncer], [databases] and [users] keys with the
first release that has them, those a RELOAD cannot change, the removed ones, value kinds,
PgBouncer's defaults, and version parsing. Data and lookups only.

Sources of these tables (checked when written):

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

import re

from poolkit.settings import Product

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
