"""Preflight for the pgpool role: every consistency problem of its variables (the backends'
connection budget, check users, TLS, pool_hba, the exporter, following Patroni), reported
at once, each naming the variable (`check`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from poolkit import PoolkitError
from poolkit.pgpool_backends import _backends
from poolkit.pgpool_tables import DEFAULTS, PGPOOL, USERS_REQUIRED_SINCE
from poolkit.settings import checked_bool as _checked_bool
from poolkit.settings import checked_int as _checked_int
from poolkit.settings import octal_mode, tls_file_problems
from poolkit.settings import user_names as _user_names
from poolkit.sizing import PGPOOL_MAX_POOL, SOURCES
from poolkit.values import exporter_service_problems
from poolkit.values import raise_all as _raise

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
    ssl_cert, ssl_key, ssl_ca_cert (file names), enable_pool_hba and hba_rules,
    unix_socket_permissions (`pgpool_extra_settings`; a local trust rule), and the
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
    _local_trust_problems(config, ver, text, problems)
    _exporter_problems(config, problems)
    _follow_problems(config, problems)
    _raise(problems)


def _local_trust_problems(
    config: Mapping[str, Any], ver: tuple[int, int, int], text: str, problems: list[str]
) -> None:
    """A ``local`` pool_hba rule with method ``trust`` (PgBouncer in front of Pgpool-II on
    one host, docs/ha.md) lets whoever can open Pgpool-II's socket log in as any user, and
    Pgpool-II then logs in to the backends with pool_passwd's password. That is safe only
    when the socket admits Pgpool-II's own system user (and PgBouncer running as it) and no
    one else: unix_socket_permissions without bits for others, which Pgpool-II has since
    4.4 (4.3's sockets are 0777)."""
    rules = config.get("hba_rules") or []
    if not config.get("enable_pool_hba", True) or isinstance(rules, str):
        return
    if not isinstance(rules, Sequence):
        return
    trusted = [
        f"pgpool_hba_rules[{index}]"
        for index, rule in enumerate(rules)
        if isinstance(rule, Mapping)
        and rule.get("type") == "local"
        and str(rule.get("method", "")).strip().lower() == "trust"
    ]
    if not trusted:
        return
    where = ", ".join(trusted)
    if ver[:2] < (4, 4):
        problems.append(
            f"{where}: local trust, but Pgpool-II {text} has no unix_socket_permissions (4.4 "
            "and later): its socket is open to every local user, who could log in as any "
            "user; use scram-sha-256 for local rules on this version"
        )
        return
    value = config.get("unix_socket_permissions")
    variable = "pgpool_extra_settings.unix_socket_permissions"
    try:
        mode = octal_mode(value, variable) if value is not None else "0777"
    except PoolkitError as exc:
        problems.append(str(exc))
        return
    if int(mode, 8) & 0o007:
        problems.append(
            f"{where}: local trust, but {variable} is "
            f"{mode if value is not None else 'not set (Pgpool-II: 0777)'}: every local user "
            "can open the socket and log in as any user; set it to 0700 (Pgpool-II's system "
            "user only, and PgBouncer when it runs as that user) or 0770 with "
            "unix_socket_group"
        )


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
