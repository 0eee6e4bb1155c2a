"""Monitoring for the poolers: Prometheus alert rules and a Grafana dashboard from the sizing.

`monitoring_spec(sizing)` takes the figures the rules need from what ``poolkit size``
computes (`poolkit.sizing.size_dict`, the ``poolkit_size`` filter); `alert_rules(spec)`
writes a Prometheus rule file whose thresholds are those figures as literal numbers, so
they follow the real pool sizes (regenerate the file when the topology changes);
`dashboard(spec)` writes a Grafana dashboard. `rule_queries` and `dashboard_queries` list
every PromQL expression, for tests that run them against a real Prometheus. Pure
functions: ``poolkit alerts`` and ``poolkit dashboard`` (poolkit/cli/) write the files.

Metric names, read from the exporters' sources
----------------------------------------------
PgBouncer: prometheus-community/pgbouncer_exporter (collector.go; CHANGELOG.md; README.md),
the Go exporter Debian 13 packages as prometheus-pgbouncer-exporter 0.10.2 (Debian 14:
0.12.0; packages.debian.org). It connects to the admin console (database ``pgbouncer``)
of one PgBouncer process; port 9127. Prometheus adds the target labels (job, instance).

* ``pgbouncer_up``: 1 when the scrape's SHOW commands worked, 0 when PgBouncer refused or
  failed them. ``pgbouncer_version_info{version}``.
* SHOW POOLS, labels ``database``, ``user``: ``pgbouncer_pools_`` +
  ``client_active_connections`` (cl_active), ``client_waiting_connections`` (cl_waiting),
  ``client_active_cancel_connections``, ``client_waiting_cancel_connections``,
  ``server_active_connections`` (sv_active), ``server_active_cancel_connections``,
  ``server_being_canceled_connections``, ``server_idle_connections`` (sv_idle),
  ``server_used_connections`` (sv_used), ``server_testing_connections`` (sv_tested),
  ``server_login_connections`` (sv_login), ``client_maxwait_seconds`` (maxwait: whole
  seconds; the exporter does not read maxwait_us). The cancel ones: PR #144 (2024).
* SHOW STATS, label ``database``: ``pgbouncer_stats_`` + ``queries_pooled_total``
  (total_query_count), ``sql_transactions_pooled_total`` (total_xact_count),
  ``queries_duration_seconds_total`` and ``server_in_transaction_seconds_total``
  (total_query_time, total_xact_time: microseconds x 1e-6), ``client_wait_seconds_total``,
  ``received_bytes_total``, ``sent_bytes_total``. From 0.11.0 (PR #194, "feat!: add
  prepared statement metrics") the exporter reads SHOW STATS_TOTALS and the prefix is
  ``pgbouncer_stats_totals_`` with the same suffixes: every stats query here takes
  ``A or B`` of both names, so it works with Debian 13's 0.10.2 and with 0.11+.
* SHOW DATABASES, labels ``name`` (PgBouncer's database name, = SHOW POOLS' ``database``),
  ``database`` (the server's), ``host``, ``port`` and more: ``pgbouncer_databases_`` +
  ``pool_size``, ``reserve_pool``, ``max_connections``, ``current_connections``,
  ``paused``, ``disabled``. PgBouncer 1.24 renamed the column reserve_pool to
  reserve_pool_size, which newer exporters map and 0.10.2 may not, so nothing here reads
  ``reserve_pool``: the reserve comes from the sizing.
* SHOW CONFIG: ``pgbouncer_config_max_client_connections``,
  ``pgbouncer_config_max_user_connections`` (no labels).
* SHOW LISTS (no labels): ``pgbouncer_databases``, ``pgbouncer_users``, ``pgbouncer_pools``,
  ``pgbouncer_free_clients``, ``pgbouncer_used_clients`` (client connections of the
  process, the figure max_client_conn limits), ``pgbouncer_login_clients``,
  ``pgbouncer_free_servers``, ``pgbouncer_used_servers``, ``pgbouncer_cached_dns_names``,
  ``pgbouncer_cached_dns_zones``, ``pgbouncer_in_flight_dns_queries``.

Pgpool-II: pgpool/pgpool2_exporter (pgpool2_exporter.go; README.md); port 9719. It logs in
through Pgpool-II and runs its SHOW commands.

* ``pgpool2_up`` (no labels): 0 when SHOW POOL_VERSION fails.
* SHOW POOL_PROCESSES: ``pgpool2_frontend_total`` (child processes),
  ``pgpool2_frontend_used_ratio`` (children serving a client / all; no labels), and
  ``pgpool2_frontend_used{username, database}`` (per user and database, not a total). A
  child counts as used while it shows a database and user, which Pgpool-II fills only
  while a client is connected, not for a cached idle connection (pgpool2
  src/utils/pool_process_reporting.c, get_processes).
* SHOW POOL_POOLS (no labels): ``pgpool2_backend_total``, ``pgpool2_backend_used``,
  ``pgpool2_backend_used_ratio``; per child ``pgpool2_backend_by_process_total``,
  ``..._used``, ``..._used_ratio`` (label ``pool_pid``).
* SHOW POOL_NODES, labels ``hostname``, ``port``, ``role``: ``pgpool2_pool_nodes_status``
  (1 up or waiting, 0 down or unused), ``pgpool2_pool_nodes_select_cnt`` (a counter:
  SELECTs load-balanced to the node), ``pgpool2_pool_nodes_replication_delay``.
* Pgpool-II 4.2+, same labels: ``pgpool2_pool_backend_stats_`` + ``status``,
  ``select_cnt``, ``insert_cnt``, ``update_cnt``, ``delete_cnt``, ``ddl_cnt``,
  ``other_cnt``, ``panic_cnt``, ``fatal_cnt``, ``error_cnt``; and
  ``pgpool2_pool_health_check_stats_*``. SHOW POOL_CACHE: ``pgpool2_pool_cache_`` +
  ``cache_hit_ratio``, ``num_hash_entries``, ``used_hash_entries``,
  ``num_cache_entries``, ``used_cache_entries_size``, ``free_cache_entries_size``.

Label matchers never name a job: the rules work whatever the scrape config calls the
targets. The one place a job would be the usual answer, "the exporter's target is down"
(``up == 0``), is matched instead with the targets that exported ``pgbouncer_up`` (or
``pgpool2_up``) within `PRESENCE_WINDOW`; a target down for longer drops out of it.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any

from poolkit import PoolkitError
from poolkit.values import as_int, did_you_mean, raise_all, type_name

# ----------------------------------------------------------------- design constants

#: PgBouncer's default query_wait_timeout (seconds); the topology does not set it.
QUERY_WAIT_TIMEOUT = 120
#: Critical maxwait (seconds) when query_wait_timeout is 0 (clients wait forever).
MAXWAIT_CRITICAL_WITHOUT_TIMEOUT = 60
#: Server connections in use, as a fraction of pool_size + reserve_pool_size.
POOL_FULL = Fraction(9, 10)
#: Client connections, as a fraction of max_client_conn.
CLIENTS_HIGH = Fraction(4, 5)
#: Pgpool-II children serving a client, as a fraction of all children.
FRONTEND_FULL = Fraction(9, 10)
#: How long a scrape target counts as a PgBouncer (Pgpool-II) exporter after its last sample.
PRESENCE_WINDOW = "1d"
#: The range `dashboard_queries` puts for Grafana's $__rate_interval.
RATE_WINDOW = "5m"

PGBOUNCER_FIGURES = ("max_client_conn", "reserve_pool_timeout", "query_wait_timeout")
POOL_KEYS = ("database", "user", "pool_size", "reserve_pool_size")
PGPOOL_FIGURES = ("num_init_children", "max_pool", "nodes")

#: Each figure's smallest value and what it is, for messages.
_FIGURES: dict[str, tuple[int, str]] = {
    "max_client_conn": (1, "client connections per PgBouncer process"),
    "reserve_pool_timeout": (0, "seconds"),
    "query_wait_timeout": (0, "seconds, 0 disables it"),
    "pool_size": (1, "server connections of the pool"),
    "reserve_pool_size": (0, "extra server connections of the pool"),
    "num_init_children": (1, "Pgpool-II child processes per node"),
    "max_pool": (1, "cached connections per child"),
    "nodes": (1, "Pgpool-II nodes"),
}

#: Server connections a pool cannot hand to the next client. Idle ones (sv_idle) and used
#: ones (sv_used: idle longer than server_check_delay, handed out after a quick check) are
#: free, and stay open up to server_idle_timeout after a burst: counting them would keep the
#: alert firing long after the load is gone. The same sum as `poolkit status`.
IN_USE = (
    "pgbouncer_pools_server_active_connections",
    "pgbouncer_pools_server_testing_connections",
    "pgbouncer_pools_server_login_connections",
)

#: Every metric name this module's queries read (all verified, see the module docstring).
METRICS = frozenset(
    {
        "up",
        "pgbouncer_up",
        "pgbouncer_used_clients",
        "pgbouncer_pools_client_active_connections",
        "pgbouncer_pools_client_waiting_connections",
        "pgbouncer_pools_client_maxwait_seconds",
        "pgbouncer_pools_server_idle_connections",
        "pgbouncer_pools_server_used_connections",
        *IN_USE,
        "pgbouncer_databases_pool_size",
        "pgbouncer_stats_sql_transactions_pooled_total",
        "pgbouncer_stats_queries_pooled_total",
        "pgbouncer_stats_server_in_transaction_seconds_total",
        "pgbouncer_stats_queries_duration_seconds_total",
        "pgbouncer_stats_totals_sql_transactions_pooled_total",
        "pgbouncer_stats_totals_queries_pooled_total",
        "pgbouncer_stats_totals_server_in_transaction_seconds_total",
        "pgbouncer_stats_totals_queries_duration_seconds_total",
        "pgpool2_up",
        "pgpool2_pool_nodes_status",
        "pgpool2_pool_nodes_select_cnt",
        "pgpool2_frontend_used_ratio",
        "pgpool2_backend_used_ratio",
    }
)

# Go templates of Prometheus' alert annotations.
_INSTANCE = "{{ $labels.instance }}"
_POOL = "{{ $labels.database }}/{{ $labels.user }}"
_VALUE = "{{ $value }}"
_NODE = "{{ $labels.hostname }}:{{ $labels.port }} ({{ $labels.role }})"


# ----------------------------------------------------------------- the spec


def monitoring_spec(sizing: Any, overrides: Any = None) -> dict[str, Any]:
    """The figures the rules and the dashboard need, from `poolkit.sizing.size_dict`'s result.

    ``{"pgbouncer": {max_client_conn, reserve_pool_timeout, query_wait_timeout, pools:
    [{database, user, pool_size, reserve_pool_size}]}, "pgpool": {num_init_children,
    max_pool, nodes}}``; ``pgpool`` only when the sizing has it. query_wait_timeout is
    PgBouncer's default (`QUERY_WAIT_TIMEOUT`) unless overridden.

    `overrides` has the same shape and replaces figures with the deployed values (an
    Ansible filter passes the role variables); a null leaf keeps the sizing's figure, a
    ``pools`` list replaces the whole list, and a ``pgpool`` section is added when the
    sizing has none. Figures may be numeric strings ("20", a templated variable).
    """
    if not isinstance(sizing, Mapping):
        raise PoolkitError(
            f"sizing: expected the mapping `poolkit size --format json` prints (or the "
            f"poolkit_size filter returns), got {type_name(sizing)}"
        )
    pgbouncer = sizing.get("pgbouncer")
    if not isinstance(pgbouncer, Mapping):
        raise PoolkitError(
            f"sizing.pgbouncer: expected the pgbouncer section of `poolkit size --format "
            f"json`, got {'nothing' if pgbouncer is None else type_name(pgbouncer)}"
        )
    raw: dict[str, Any] = {"pgbouncer": {"query_wait_timeout": QUERY_WAIT_TIMEOUT}}
    for key in (*PGBOUNCER_FIGURES, "pools"):
        if key in pgbouncer:
            raw["pgbouncer"][key] = pgbouncer[key]
    if isinstance(raw["pgbouncer"].get("pools"), list):  # the sizing's pools carry more keys
        raw["pgbouncer"]["pools"] = [
            {k: v for k, v in pool.items() if k in POOL_KEYS} if isinstance(pool, Mapping) else pool
            for pool in raw["pgbouncer"]["pools"]
        ]
    pgpool = sizing.get("pgpool")
    if isinstance(pgpool, Mapping):
        raw["pgpool"] = {k: v for k, v in pgpool.items() if k in PGPOOL_FIGURES}
    elif pgpool is not None:
        raw["pgpool"] = pgpool
    spec = _checked(raw, "sizing")
    if overrides is None:
        return spec
    return _checked(_merged(spec, overrides), "overrides")


def _merged(spec: dict[str, Any], overrides: Any) -> dict[str, Any]:
    if not isinstance(overrides, Mapping):
        raise PoolkitError(
            f"overrides: expected a mapping shaped like the spec ({{pgbouncer: {{...}}, "
            f"pgpool: {{...}}}}), got {type_name(overrides)}"
        )
    problems: list[str] = []
    _unknown(overrides, ("pgbouncer", "pgpool"), "overrides", problems)
    merged = copy.deepcopy(spec)
    for section in ("pgbouncer", "pgpool"):
        figures = overrides.get(section)
        if figures is None:
            continue
        if not isinstance(figures, Mapping):
            problems.append(
                f"overrides.{section}: expected a mapping of figures, got {type_name(figures)}"
            )
            continue
        given = {key: value for key, value in figures.items() if value is not None}
        if given:
            merged.setdefault(section, {}).update(given)
    raise_all(problems)
    return merged


def _checked(raw: Any, where: str) -> dict[str, Any]:
    """`raw` as a spec of whole numbers, or one PoolkitError naming every bad key."""
    if not isinstance(raw, Mapping):
        raise PoolkitError(
            f"{where}: expected a mapping with pgbouncer (and pgpool) figures, as "
            f"monitoring_spec returns, got {type_name(raw)}"
        )
    problems: list[str] = []
    _unknown(raw, ("pgbouncer", "pgpool"), where, problems)
    spec: dict[str, Any] = {}
    pgbouncer = raw.get("pgbouncer")
    if not isinstance(pgbouncer, Mapping):
        problems.append(
            f"{where}.pgbouncer: expected a mapping with {', '.join(PGBOUNCER_FIGURES)} and "
            f"pools, got {'nothing' if pgbouncer is None else type_name(pgbouncer)}"
        )
    else:
        name = f"{where}.pgbouncer"
        _unknown(pgbouncer, (*PGBOUNCER_FIGURES, "pools"), name, problems)
        spec["pgbouncer"] = {
            key: _figure(pgbouncer, key, name, problems) for key in PGBOUNCER_FIGURES
        }
        spec["pgbouncer"]["pools"] = _pools(pgbouncer, name, problems)
    pgpool = raw.get("pgpool")
    if pgpool is not None:
        if not isinstance(pgpool, Mapping):
            problems.append(
                f"{where}.pgpool: expected a mapping with {', '.join(PGPOOL_FIGURES)}, "
                f"got {type_name(pgpool)}"
            )
        else:
            _unknown(pgpool, PGPOOL_FIGURES, f"{where}.pgpool", problems)
            spec["pgpool"] = {
                key: _figure(pgpool, key, f"{where}.pgpool", problems) for key in PGPOOL_FIGURES
            }
    raise_all(problems)
    return spec


def _unknown(data: Mapping[str, Any], keys: Sequence[str], where: str, problems: list) -> None:
    for key in data:
        if key not in keys:
            problems.append(
                f"{where}.{key}: unknown key; expected one of {', '.join(keys)}"
                f"{did_you_mean(str(key), keys)}"
            )


def _figure(data: Mapping[str, Any], key: str, where: str, problems: list) -> int:
    minimum, meaning = _FIGURES[key]
    name = f"{where}.{key}"
    if key not in data:
        problems.append(f"{name}: missing; expected a whole number >= {minimum} ({meaning})")
        return minimum
    try:
        number = as_int(data[key], name)
    except PoolkitError as exc:
        problems.append(f"{exc} ({meaning})")
        return minimum
    if number < minimum:
        problems.append(f"{name}: expected a whole number >= {minimum} ({meaning}), got {number}")
    return number


def _pools(pgbouncer: Mapping[str, Any], where: str, problems: list) -> list[dict[str, Any]]:
    name = f"{where}.pools"
    pools = pgbouncer.get("pools")
    if not isinstance(pools, list):
        problems.append(
            f"{name}: expected a list of {{database, user, pool_size, reserve_pool_size}}, "
            f"got {'nothing' if pools is None else type_name(pools)}"
        )
        return []
    result: list[dict[str, Any]] = []
    seen: dict[tuple[str, str], int] = {}
    for index, pool in enumerate(pools):
        item = f"{name}[{index}]"
        if not isinstance(pool, Mapping):
            problems.append(
                f"{item}: expected a mapping with {', '.join(POOL_KEYS)}, got {type_name(pool)}"
            )
            continue
        _unknown(pool, POOL_KEYS, item, problems)
        entry: dict[str, Any] = {}
        for key in ("database", "user"):
            value = pool.get(key)
            if not isinstance(value, str) or not value:
                problems.append(f"{item}.{key}: expected a non-empty string, got {value!r}")
            entry[key] = value
        for key in ("pool_size", "reserve_pool_size"):
            entry[key] = _figure(pool, key, item, problems)
        label = (entry["database"], entry["user"])
        if label in seen and all(isinstance(part, str) for part in label):
            problems.append(
                f"{item}: pool {label[0]}/{label[1]} is already {name}[{seen[label]}]; "
                "expected each database/user pool once"
            )
        seen.setdefault(label, index)
        result.append(entry)
    return result


# ----------------------------------------------------------------- thresholds


def maxwait_thresholds(pgbouncer: Mapping[str, int]) -> tuple[Fraction, Fraction]:
    """(warning, critical) seconds of the longest client wait.

    Warning once a client waited longer than reserve_pool_timeout (after it PgBouncer opens
    the reserve, so a longer wait means even the reserve is busy; 1 s when it is 0);
    critical past half of query_wait_timeout, the wait at which PgBouncer disconnects it.
    """
    warning = Fraction(pgbouncer["reserve_pool_timeout"] or 1)
    timeout = pgbouncer["query_wait_timeout"]
    critical = Fraction(timeout, 2) if timeout else Fraction(MAXWAIT_CRITICAL_WITHOUT_TIMEOUT)
    return warning, critical


def pool_limit(pool: Mapping[str, int]) -> int:
    """Server connections a pool may open: pool_size + reserve_pool_size."""
    return pool["pool_size"] + pool["reserve_pool_size"]


def _number(value: Fraction | int) -> str:
    """A threshold as PromQL writes it: 54, 5.4, 0.9."""
    value = Fraction(value)
    if value.denominator == 1:
        return str(value.numerator)
    return repr(round(float(value), 6))


def _selector(metric: str, **labels: str) -> str:
    # json.dumps escapes quotes and backslashes the way PromQL strings expect.
    matchers = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in labels.items())
    return f"{metric}{{{matchers}}}" if labels else metric


def _exporter_down(up_metric: str) -> str:
    return (
        f"{up_metric} == 0 or (up == 0 and on (job, instance) "
        f"present_over_time({up_metric}[{PRESENCE_WINDOW}]))"
    )


# ----------------------------------------------------------------- alert rules


def alert_rules(spec: Any) -> dict[str, Any]:
    """A Prometheus rule file: group ``poolkit-pgbouncer``, and ``poolkit-pgpool`` when the
    spec has pgpool. Thresholds are the spec's figures as literal numbers."""
    spec = _checked(spec, "spec")
    groups = [{"name": "poolkit-pgbouncer", "rules": _pgbouncer_rules(spec["pgbouncer"])}]
    if "pgpool" in spec:
        groups.append({"name": "poolkit-pgpool", "rules": _pgpool_rules(spec["pgpool"])})
    return {"groups": groups}


def _rule(
    alert: str,
    expr: str,
    severity: str,
    summary: str,
    description: str,
    runbook: str,
    wait: str,
    labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    rule: dict[str, Any] = {"alert": alert, "expr": expr}
    if wait:
        rule["for"] = wait
    rule["labels"] = {"severity": severity, **(labels or {})}
    rule["annotations"] = {"summary": summary, "description": description, "runbook": runbook}
    return rule


def _pgbouncer_rules(pgb: Mapping[str, Any]) -> list[dict[str, Any]]:
    timeout = pgb["query_wait_timeout"]
    timeout_text = f"{timeout} s" if timeout else "0: never"
    warning, critical = maxwait_thresholds(pgb)
    reserve = pgb["reserve_pool_timeout"]
    warning_reason = (
        f"reserve_pool_timeout ({reserve} s), after which PgBouncer opens the reserve pool"
        if reserve
        else "1 s (reserve_pool_timeout is 0)"
    )
    critical_reason = (
        f"half of query_wait_timeout ({timeout} s), at which PgBouncer disconnects it"
        if timeout
        else f"{MAXWAIT_CRITICAL_WITHOUT_TIMEOUT} s (query_wait_timeout is 0: clients wait forever)"
    )
    clients = pgb["max_client_conn"]
    rules = [
        _rule(
            "PgBouncerExporterDown",
            _exporter_down("pgbouncer_up"),
            "critical",
            f"No PgBouncer metrics from {_INSTANCE}",
            f"Prometheus cannot scrape the PgBouncer exporter at {_INSTANCE}, or the exporter "
            "cannot run SHOW commands on PgBouncer's admin console (pgbouncer_up is 0). The "
            "other PgBouncer alerts are blind for this process.",
            "Check PgBouncer and the exporter (systemctl status pgbouncer "
            "prometheus-pgbouncer-exporter; their journals). The exporter's user must be in "
            "stats_users (pgbouncer_stats_users) with a verifier in userlist.txt "
            "(pgbouncer_users), and max_client_conn must leave it a connection.",
            "1m",
        ),
        _rule(
            "PgBouncerClientsWaiting",
            "pgbouncer_pools_client_waiting_connections > 0",
            "critical",
            f"Clients queue for a server connection in pool {_POOL} on {_INSTANCE}",
            f"{_VALUE} client(s) have waited for a server connection for over a minute: every "
            f"server connection of the pool is busy. PgBouncer disconnects a client after "
            f"query_wait_timeout ({timeout_text}).",
            "Look for long or idle-in-transaction sessions first (SHOW SERVERS; "
            "pg_stat_activity on the server). If the load is real, raise the pool: its share "
            "in pooler_topology.pools and re-run the sizing (poolkit size), or pool_size in "
            "pgbouncer_databases, keeping every pooler inside max_connections.",
            "1m",
        ),
        _rule(
            "PgBouncerMaxWaitHigh",
            f"pgbouncer_pools_client_maxwait_seconds > {_number(warning)}",
            "warning",
            f"Clients wait over {_number(warning)} s for a server connection in pool {_POOL} "
            f"on {_INSTANCE}",
            f"The oldest waiting client has waited {_VALUE} s, longer than {warning_reason}: "
            "the pool and its reserve did not absorb the load.",
            "Short bursts: raise reserve_pool_size (pgbouncer_reserve_pool_size). Sustained: "
            "find slow transactions, then raise the pool (its share in pooler_topology.pools, "
            "poolkit size). The exporter reports maxwait in whole seconds.",
            "1m",
        ),
        _rule(
            "PgBouncerMaxWaitHigh",
            f"pgbouncer_pools_client_maxwait_seconds > {_number(critical)}",
            "critical",
            f"Clients wait over {_number(critical)} s for a server connection in pool {_POOL} "
            f"on {_INSTANCE}",
            f"The oldest waiting client has waited {_VALUE} s, more than {critical_reason}.",
            "Find what holds the server connections (SHOW SERVERS; pg_stat_activity: long "
            "queries, idle in transaction, locks) and end it; then raise the pool (its share "
            "in pooler_topology.pools, poolkit size) or query_wait_timeout "
            "(pgbouncer_query_wait_timeout) if clients can wait that long.",
            "",
        ),
    ]
    for pool in pgb["pools"]:
        limit = pool_limit(pool)
        labels = {"database": pool["database"], "user": pool["user"]}
        in_use = " + ".join(_selector(metric, **labels) for metric in IN_USE)
        rules.append(
            _rule(
                "PgBouncerServerPoolNearlyFull",
                f"({in_use}) >= {_number(limit * POOL_FULL)}",
                "warning",
                f"Pool {_POOL} on {_INSTANCE} uses {_number(POOL_FULL * 100)}% or more of its "
                "server connections",
                f"{_VALUE} server connections are in use (active, tested or logging in; idle and "
                f"used ones are free) of pool_size {pool['pool_size']} + reserve_pool_size "
                f"{pool['reserve_pool_size']} = {limit} (the sizing), for 5 minutes. Clients "
                f"queue once all {limit} are busy.",
                "If clients also wait (PgBouncerClientsWaiting), raise the pool: its share in "
                "pooler_topology.pools and re-run the sizing, or pool_size in "
                "pgbouncer_databases, within max_connections (poolkit size shows the budget). "
                "If not, the pool is tight but enough.",
                "5m",
                # The series carry the same labels: this only tells the rules apart for
                # promtool's duplicate-rule lint.
                labels,
            )
        )
    rules.append(
        _rule(
            "PgBouncerClientConnectionsHigh",
            f"pgbouncer_used_clients > {_number(clients * CLIENTS_HIGH)}",
            "warning",
            f"PgBouncer on {_INSTANCE} holds over {_number(CLIENTS_HIGH * 100)}% of "
            "max_client_conn",
            f"{_VALUE} client connections of max_client_conn {clients} (the sizing, per "
            f"process), for 5 minutes. At {clients} PgBouncer refuses new clients.",
            "Look for a connection leak (SHOW CLIENTS by addr and application_name). If the "
            "clients are real, update the apps in pooler_topology and re-run the sizing, or "
            "raise pgbouncer_max_client_conn (pgbouncer_limit_nofile follows it).",
            "5m",
        )
    )
    return rules


def _pgpool_rules(pgpool: Mapping[str, int]) -> list[dict[str, Any]]:
    children = pgpool["num_init_children"]
    return [
        _rule(
            "Pgpool2ExporterDown",
            _exporter_down("pgpool2_up"),
            "critical",
            f"No Pgpool-II metrics from {_INSTANCE}",
            f"Prometheus cannot scrape the Pgpool-II exporter at {_INSTANCE}, or the exporter "
            "cannot run SHOW POOL_VERSION through Pgpool-II (pgpool2_up is 0). The other "
            "Pgpool-II alerts are blind for this node.",
            "Check Pgpool-II and the exporter (systemctl status pgpool2; the exporter's "
            "journal). The exporter's user must log in through Pgpool-II (pool_passwd, "
            "pool_hba.conf), and a free child must be left for it (num_init_children).",
            "1m",
        ),
        _rule(
            "Pgpool2BackendDown",
            "pgpool2_pool_nodes_status == 0",
            "critical",
            f"Pgpool-II on {_INSTANCE} has backend {_NODE} down",
            "SHOW POOL_NODES reports the node down (or unused) for a minute: Pgpool-II sends "
            "it no queries. With the primary down writes fail until a failover; with a "
            "standby down its reads go to the other nodes.",
            "Check PostgreSQL on that host and Pgpool-II's health check (pgpool_health_check_*"
            " variables, its log). Once the node is back and replicating, attach it again: "
            "pcp_attach_node -n <node id> (pgpool_pcp_port).",
            "1m",
        ),
        _rule(
            "Pgpool2FrontendNearlyFull",
            f"pgpool2_frontend_used_ratio >= {_number(FRONTEND_FULL)}",
            "warning",
            f"Pgpool-II on {_INSTANCE} uses {_number(FRONTEND_FULL * 100)}% or more of its "
            "child processes",
            "{{ $value | humanizePercentage }} of the child processes serve a client "
            f"(num_init_children is {children} in the sizing), for 5 minutes. A client "
            "session holds a child for its whole life; with every child busy new clients "
            "wait in the listen backlog.",
            "Move bursty or idle-heavy clients behind PgBouncer, or raise num_init_children "
            "(pgpool_num_init_children) within max_connections: poolkit size shows the "
            "budget (nodes x num_init_children x max_pool).",
            "5m",
        ),
    ]


def rule_queries(rules: Any) -> list[str]:
    """Every PromQL expression of a rule file (`alert_rules`' result), in order."""
    groups = rules.get("groups") if isinstance(rules, Mapping) else None
    if not isinstance(groups, list):
        raise PoolkitError(
            f"rules: expected a rule file mapping with a groups list, got {type_name(rules)}"
        )
    queries: list[str] = []
    for index, group in enumerate(groups):
        entries = group.get("rules") if isinstance(group, Mapping) else None
        if not isinstance(entries, list):
            raise PoolkitError(f"rules.groups[{index}]: expected a mapping with a rules list")
        for number, rule in enumerate(entries):
            expr = rule.get("expr") if isinstance(rule, Mapping) else None
            if not isinstance(expr, str):
                raise PoolkitError(
                    f"rules.groups[{index}].rules[{number}].expr: expected a PromQL string"
                )
            queries.append(expr)
    return queries


# ----------------------------------------------------------------- dashboard

_DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
_PGB = 'instance=~"$instance", database=~"$database"'
_PGPOOL = 'instance=~"$pgpool_instance"'


def _stats_rate(suffix: str) -> str:
    """Per-second rate of a SHOW STATS counter under both exporter names (0.10 and 0.11+)."""
    names = (f"pgbouncer_stats_{suffix}", f"pgbouncer_stats_totals_{suffix}")
    rates = " or ".join(f"rate({name}{{{_PGB}}}[$__rate_interval])" for name in names)
    return f"sum by (instance, database) ({rates})"


def _target(ref: str, expr: str, legend: str) -> dict[str, Any]:
    return {"datasource": _DATASOURCE, "refId": ref, "expr": expr, "legendFormat": legend}


def _thresholds(*steps: tuple[str, Fraction | int]) -> dict[str, Any]:
    return {
        "mode": "absolute",
        "steps": [{"color": "green", "value": None}]
        + [{"color": color, "value": float(value)} for color, value in steps],
    }


def _panel(
    title: str,
    targets: list[tuple[str, str]],
    *,
    unit: str = "short",
    description: str = "",
    kind: str = "timeseries",
    thresholds: tuple[tuple[str, Fraction | int], ...] = (),
    maximum: float | None = None,
) -> dict[str, Any]:
    defaults: dict[str, Any] = {"unit": unit, "min": 0, "thresholds": _thresholds(*thresholds)}
    if maximum is not None:
        defaults["max"] = maximum
    if kind == "timeseries":
        defaults["custom"] = {"thresholdsStyle": {"mode": "line" if thresholds else "off"}}
        options: dict[str, Any] = {
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
            "tooltip": {"mode": "multi", "sort": "desc"},
        }
    else:
        defaults["color"] = {"mode": "thresholds"}
        options = {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "background",
            "graphMode": "none",
            "textMode": "value_and_name",
            "orientation": "auto",
            "justifyMode": "auto",
        }
    return {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": _DATASOURCE,
        "targets": [
            _target(chr(ord("A") + index), expr, legend)
            for index, (expr, legend) in enumerate(targets)
        ],
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": options,
    }


def _pgbouncer_panels(pgb: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    per_pool = "{{instance}} {{database}}/{{user}}"
    sized = ""
    clients: tuple[tuple[str, Fraction | int], ...] = ()
    waits: tuple[tuple[str, Fraction | int], ...] = ()
    if pgb is not None:
        sized = " Sized limits (pool_size + reserve_pool_size per process): " + ", ".join(
            f"{p['database']}/{p['user']} {p['pool_size']} + {p['reserve_pool_size']}"
            for p in pgb["pools"]
        )
        clients = (
            ("orange", pgb["max_client_conn"] * CLIENTS_HIGH),
            ("red", pgb["max_client_conn"]),
        )
        warning, critical = maxwait_thresholds(pgb)
        waits = (("orange", warning), ("red", critical))
    in_use = " + ".join(f"{metric}{{{_PGB}}}" for metric in IN_USE)
    return [
        _panel(
            "Client connections per pool",
            [
                (
                    f"sum by (instance, database, user) "
                    f"(pgbouncer_pools_client_active_connections{{{_PGB}}})",
                    f"{per_pool} active",
                ),
                (
                    f"sum by (instance, database, user) "
                    f"(pgbouncer_pools_client_waiting_connections{{{_PGB}}})",
                    f"{per_pool} waiting",
                ),
            ],
            description="SHOW POOLS cl_active (linked to a server or idle) and cl_waiting "
            "(waiting for a server connection: the pool is busy).",
        ),
        _panel(
            "Server connections per pool",
            [
                (
                    f"sum by (instance, database, user) ({in_use})",
                    f"{per_pool} in use",
                ),
                (
                    f"sum by (instance, database, user) "
                    f"(pgbouncer_pools_server_idle_connections{{{_PGB}}})",
                    f"{per_pool} idle",
                ),
                (
                    'pgbouncer_databases_pool_size{instance=~"$instance", name=~"$database"}',
                    "{{instance}} {{name}} pool_size",
                ),
            ],
            description="In use: sv_active + sv_used + sv_tested + sv_login; idle connections "
            "serve the next client at once. pool_size as SHOW DATABASES reports it." + sized,
        ),
        _panel(
            "Longest client wait (maxwait)",
            [
                (
                    f"max by (instance, database, user) "
                    f"(pgbouncer_pools_client_maxwait_seconds{{{_PGB}}})",
                    per_pool,
                )
            ],
            unit="s",
            thresholds=waits,
            description="SHOW POOLS maxwait, whole seconds: how long the oldest waiting "
            "client has waited. Lines: the PgBouncerMaxWaitHigh thresholds.",
        ),
        _panel(
            "Client connections per process",
            [('pgbouncer_used_clients{instance=~"$instance"}', "{{instance}}")],
            thresholds=clients,
            description="SHOW LISTS used_clients, the connections max_client_conn limits. "
            "Lines: 80% of max_client_conn and max_client_conn itself (the sizing).",
        ),
        _panel(
            "Transactions and queries per second",
            [
                (_stats_rate("sql_transactions_pooled_total"), "{{instance}} {{database}} xact/s"),
                (_stats_rate("queries_pooled_total"), "{{instance}} {{database}} queries/s"),
            ],
            unit="ops",
            description="Rates of SHOW STATS total_xact_count and total_query_count.",
        ),
        _panel(
            "Average transaction and query time",
            [
                (
                    f"{_stats_rate('server_in_transaction_seconds_total')} / "
                    f"({_stats_rate('sql_transactions_pooled_total')} > 0)",
                    "{{instance}} {{database}} transaction",
                ),
                (
                    f"{_stats_rate('queries_duration_seconds_total')} / "
                    f"({_stats_rate('queries_pooled_total')} > 0)",
                    "{{instance}} {{database}} query",
                ),
            ],
            unit="s",
            description="Time a server connection spent in a transaction (idle in transaction "
            "included) per transaction, and executing per query.",
        ),
    ]


def _pgpool_panels(pgpool: Mapping[str, int] | None) -> list[dict[str, Any]]:
    sized = f" num_init_children in the sizing: {pgpool['num_init_children']}." if pgpool else ""
    status = _panel(
        "Backend node status",
        [
            (
                f"pgpool2_pool_nodes_status{{{_PGPOOL}}}",
                "{{instance}} {{hostname}}:{{port}} {{role}}",
            )
        ],
        kind="stat",
        thresholds=(("green", 1),),
        description="SHOW POOL_NODES: up (or waiting) or down (or unused).",
    )
    status["fieldConfig"]["defaults"]["thresholds"]["steps"][0]["color"] = "red"
    status["fieldConfig"]["defaults"]["mappings"] = [
        {
            "type": "value",
            "options": {
                "0": {"text": "down", "color": "red", "index": 0},
                "1": {"text": "up", "color": "green", "index": 1},
            },
        }
    ]
    return [
        status,
        _panel(
            "Load balancing: SELECTs per second per node",
            [
                (
                    f"sum by (instance, hostname, port, role) "
                    f"(rate(pgpool2_pool_nodes_select_cnt{{{_PGPOOL}}}[$__rate_interval]))",
                    "{{instance}} {{hostname}}:{{port}} {{role}}",
                )
            ],
            unit="ops",
            description="SHOW POOL_NODES select_cnt: the SELECTs Pgpool-II sent to each node.",
        ),
        _panel(
            "Frontend and backend slots used",
            [
                (f"pgpool2_frontend_used_ratio{{{_PGPOOL}}}", "{{instance}} frontend (children)"),
                (
                    f"pgpool2_backend_used_ratio{{{_PGPOOL}}}",
                    "{{instance}} backend (connection slots)",
                ),
            ],
            unit="percentunit",
            maximum=1,
            thresholds=(("orange", FRONTEND_FULL),),
            description="Children serving a client of all children (SHOW POOL_PROCESSES), and "
            "cached backend connections of all slots (SHOW POOL_POOLS: num_init_children x "
            "max_pool x backends). Line: the Pgpool2FrontendNearlyFull threshold." + sized,
        ),
    ]


def _variable(name: str, label: str, query: str) -> dict[str, Any]:
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": _DATASOURCE,
        "query": query,
        "definition": query,
        "refresh": 2,
        "includeAll": True,
        "multi": True,
        "allValue": ".*",
        "current": {},
        "options": [],
        "regex": "",
        "sort": 1,
        "hide": 0,
    }


def _layout(rows: list[tuple[str, list[dict[str, Any]]]]) -> list[dict[str, Any]]:
    """Rows with two panels side by side; ids and grid positions in order."""
    panels: list[dict[str, Any]] = []
    y = 0
    for title, members in rows:
        panels.append(
            {
                "type": "row",
                "title": title,
                "collapsed": False,
                "panels": [],
                "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
            }
        )
        y += 1
        for index, panel in enumerate(members):
            panel["gridPos"] = {"h": 8, "w": 12, "x": 12 * (index % 2), "y": y + 8 * (index // 2)}
            panels.append(panel)
        y += 8 * ((len(members) + 1) // 2)
    for number, panel in enumerate(panels, start=1):
        panel["id"] = number
    return panels


def dashboard(spec: Any = None) -> dict[str, Any]:
    """A Grafana dashboard JSON model: a PgBouncer row and a Pgpool-II row.

    Without a spec both rows and no sized thresholds; with one, the Pgpool-II row only when
    the spec has pgpool, and thresholds drawn from the sizing (max_client_conn, maxwait).
    """
    checked = None if spec is None else _checked(spec, "spec")
    with_pgpool = checked is None or "pgpool" in checked
    variables = [
        {
            "name": "datasource",
            "label": "Data source",
            "type": "datasource",
            "query": "prometheus",
            "current": {},
            "options": [],
            "regex": "",
            "refresh": 1,
            "hide": 0,
        },
        _variable("instance", "PgBouncer", "label_values(pgbouncer_up, instance)"),
        _variable(
            "database",
            "Database",
            'label_values(pgbouncer_pools_client_active_connections{instance=~"$instance"}, '
            "database)",
        ),
    ]
    rows = [("PgBouncer", _pgbouncer_panels(None if checked is None else checked["pgbouncer"]))]
    if with_pgpool:
        variables.append(
            _variable("pgpool_instance", "Pgpool-II", "label_values(pgpool2_up, instance)")
        )
        rows.append(("Pgpool-II", _pgpool_panels(None if checked is None else checked["pgpool"])))
    return {
        "title": "poolkit: PgBouncer and Pgpool-II",
        "uid": "poolkit-poolers",
        "description": "Generated by poolkit dashboard: pools, waits and load of the poolers.",
        "tags": ["poolkit", "pgbouncer", "pgpool"],
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": 39,
        "version": 1,
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "30s",
        "timezone": "browser",
        "annotations": {"list": []},
        "links": [],
        "templating": {"list": variables},
        "panels": _layout(rows),
    }


_VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")


def dashboard_queries(dash: Any) -> list[str]:
    """Every panel target's PromQL, runnable as is: each templating variable replaced by
    its "All" value and $__rate_interval by `RATE_WINDOW`. Variable queries
    (label_values) are Grafana's, not PromQL, and are left out."""
    panels = dash.get("panels") if isinstance(dash, Mapping) else None
    if not isinstance(panels, list):
        raise PoolkitError(
            f"dashboard: expected a Grafana dashboard mapping with a panels list, "
            f"got {type_name(dash)}"
        )
    values = {"__rate_interval": RATE_WINDOW}
    templating = dash.get("templating")
    variables = templating.get("list", []) if isinstance(templating, Mapping) else []
    for variable in variables:
        if isinstance(variable, Mapping) and "allValue" in variable:
            values[str(variable.get("name"))] = str(variable["allValue"])
    queries: list[str] = []
    for panel in _all_panels(panels):
        title = panel.get("title", "?")
        for target in panel.get("targets") or []:
            expr = target.get("expr") if isinstance(target, Mapping) else None
            if not isinstance(expr, str):
                raise PoolkitError(f"dashboard panel {title!r}: a target without an expr string")

            def value(match: re.Match[str], title: str = title) -> str:
                name = match.group(1) or match.group(2)
                if name not in values:
                    raise PoolkitError(
                        f"dashboard panel {title!r}: ${name} is not a templating variable "
                        f"with an allValue; expected one of {', '.join(sorted(values))}"
                    )
                return values[name]

            queries.append(_VARIABLE.sub(value, expr))
    return queries


def _all_panels(panels: list[Any]) -> list[Mapping[str, Any]]:
    """Panels in order, with those inside collapsed rows."""
    found: list[Mapping[str, Any]] = []
    for panel in panels:
        if not isinstance(panel, Mapping):
            continue
        found.append(panel)
        found.extend(_all_panels(panel.get("panels") or []))
    return found
