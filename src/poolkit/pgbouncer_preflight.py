"""Preflight for the pgbouncer role: every consistency problem of its variables (pool sizes
against their limits, the file limit, authentication, TLS, the exporter, following
Patroni), reported at once, each naming the variable (`check`)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from poolkit.pgbouncer_sections import (
    _capacity,
    _databases,
    _Entry,
    _Pool,
    _pools,
)
from poolkit.pgbouncer_tables import (
    DEFAULTS,
    PGBOUNCER,
    POOL_MODES,
    SSL_MODES,
    SUPPORTED_AUTH_TYPES,
    SYSTEMD_NOFILE,
)
from poolkit.settings import checked_int as _checked_int
from poolkit.settings import tls_file_problems
from poolkit.settings import user_names as _user_names
from poolkit.sizing import FD_EXTRA, FD_MARGIN, FD_ROUND, fd_limit
from poolkit.values import exporter_service_problems
from poolkit.values import raise_all as _raise
from poolkit.values import type_name as _type_name

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
