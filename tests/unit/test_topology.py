"""Validation of topology dicts: every bad input names its field and what is expected."""

from __future__ import annotations

import copy
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import yaml

from poolkit import PoolkitError
from poolkit.topology import DEFAULT_POOL, Calibration, parse_topology

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = yaml.safe_load((REPO / "examples" / "topology.yml").read_text(encoding="utf-8"))


def minimal() -> dict[str, Any]:
    return {
        "database": {"max_connections": 100, "cpu_cores": 4},
        "apps": [{"name": "web", "instances": 2, "connections_per_process": 5}],
    }


def changed(path: str, value: Any, base: dict[str, Any] | None = None) -> dict[str, Any]:
    """A deep copy of `base` (the example) with `path` (dots, [index]) set or deleted."""
    data = copy.deepcopy(EXAMPLE if base is None else base)
    parts = path.replace("]", "").replace("[", ".").split(".")
    target: Any = data
    for part in parts[:-1]:
        target = target[int(part)] if isinstance(target, list) else target[part]
    last: Any = int(parts[-1]) if isinstance(target, list) else parts[-1]
    if value is DELETE:
        del target[last]
    else:
        target[last] = value
    return data


DELETE = object()


def test_example_parses():
    topo = parse_topology(EXAMPLE)
    assert topo.database.max_connections == 400
    assert topo.poolers.processes == 4
    assert topo.poolers.surviving_processes == 2
    assert topo.pgpool is not None and topo.pgpool.nodes == 1
    assert [p.label for p in topo.pools] == ["app/app", "reports/reporter"]
    assert topo.total_clients == 6 * 4 * 10 + 2 * 8 * 2 + 300 * 1


def test_defaults_fill_optional_fields():
    topo = parse_topology(minimal())
    assert topo.database.superuser_reserved_connections == 3
    assert topo.database.reserved_connections == 0
    assert topo.database.other_connections == 0
    assert topo.database.effective_spindle_count == 0
    assert (topo.poolers.hosts, topo.poolers.processes_per_host, topo.poolers.spare_hosts) == (
        1,
        1,
        0,
    )
    assert topo.pgpool is None
    assert topo.workload is None


def test_missing_pools_means_one_default_pool():
    topo = parse_topology(minimal())
    assert topo.pools == (DEFAULT_POOL,)
    assert topo.pools_defaulted


def test_process_app_defaults_to_one_process():
    app = parse_topology(minimal()).apps[0]
    assert app.processes == 1
    assert app.connections == 2 * 1 * 5


def test_serverless_app_defaults_to_one_connection_per_invocation():
    data = minimal()
    data["apps"] = [{"name": "fn", "serverless_concurrency": 50}]
    app = parse_topology(data).apps[0]
    assert app.serverless
    assert app.connections == 50


def test_empty_sections_mean_defaults():
    data = minimal()
    data["poolers"] = None
    data["workload"] = None
    topo = parse_topology(data)
    assert topo.poolers.processes == 1
    assert topo.workload is None


def test_empty_pgpool_section_means_pgpool_with_defaults():
    data = minimal()
    data["pgpool"] = None
    pgpool = parse_topology(data).pgpool
    assert pgpool is not None
    assert (pgpool.nodes, pgpool.budget_percent, pgpool.query_cancel) == (1, 50, True)


def test_workload_numbers_are_exact_fractions():
    data = minimal()
    data["workload"] = {"peak_tps": 1000, "mean_transaction_ms": 2.5}
    workload = parse_topology(data).workload
    assert workload is not None
    assert workload.mean_transaction_ms == Fraction(5, 2)
    assert workload.busy_connections == Fraction(5, 2)


@pytest.mark.parametrize(
    ("version", "expected"),
    [("1.24.1", (1, 24, 1)), ("1.21", (1, 21, 0)), ("2.0.10", (2, 0, 10))],
)
def test_version_is_parsed(version, expected):
    assert parse_topology(changed("poolers.version", version)).poolers.version == expected


BAD_INPUTS = [
    # missing keys
    pytest.param(changed("database", DELETE), "database: missing", id="missing-database"),
    pytest.param(
        changed("database.max_connections", DELETE),
        "database.max_connections: missing; expected an integer >= 1",
        id="missing-max_connections",
    ),
    pytest.param(
        changed("database.cpu_cores", DELETE),
        "database.cpu_cores: missing",
        id="missing-cpu_cores",
    ),
    pytest.param(changed("apps", DELETE), "apps: missing", id="missing-apps"),
    pytest.param(
        changed("apps[0].connections_per_process", DELETE),
        "apps[0].connections_per_process: missing",
        id="missing-connections_per_process",
    ),
    pytest.param(
        changed("pools[1].user", DELETE), "pools[1].user: missing", id="missing-pool-user"
    ),
    pytest.param(
        changed("workload.mean_transaction_ms", DELETE),
        "workload.mean_transaction_ms: missing",
        id="missing-mean_transaction_ms",
    ),
    # unknown keys, with a hint for typos
    pytest.param(
        changed("database.max_conections", 400, changed("database.max_connections", DELETE)),
        "database.max_conections: unknown key; expected one of cpu_cores, "
        "effective_spindle_count, max_connections, other_connections, reserved_connections, "
        "superuser_reserved_connections (did you mean max_connections?)",
        id="typo-max_conections",
    ),
    pytest.param(
        {**{k: v for k, v in EXAMPLE.items() if k != "apps"}, "aps": EXAMPLE["apps"]},
        "aps: unknown key; expected one of apps, calibration, database",
        id="typo-top-level",
    ),
    pytest.param(
        changed("poolers.spare_host", 1), "(did you mean spare_hosts?)", id="typo-spare_host"
    ),
    pytest.param(changed("apps[1].proceses", 2), "apps[1].proceses: unknown key", id="typo-app"),
    pytest.param(changed("pools[0].shares", 2), "pools[0].shares: unknown key", id="typo-pool"),
    pytest.param(
        changed("pgpool.num_init_children", 2),
        "pgpool.num_init_children: unknown",
        id="pgpool-output-as-input",
    ),
    pytest.param(changed("database.1", 2), "database.1: unknown key", id="non-string-key"),
    # wrong types
    pytest.param(
        changed("database.max_connections", "400"),
        "database.max_connections: expected an integer >= 1 (PostgreSQL max_connections), "
        "got '400' (a string)",
        id="string-for-int",
    ),
    pytest.param(
        changed("database.max_connections", True),
        "database.max_connections: expected an integer >= 1 (PostgreSQL max_connections), "
        "got true (a boolean)",
        id="bool-for-int",
    ),
    pytest.param(
        changed("database.cpu_cores", 7.5),
        "database.cpu_cores: expected an integer >= 1 (cores of the database host), got 7.5",
        id="float-for-int",
    ),
    pytest.param(
        changed("poolers.hosts", 2.0),
        "poolers.hosts: expected an integer >= 1 (PgBouncer hosts), got 2.0",
        id="integral-float-for-int",
    ),
    pytest.param(
        changed("database.other_connections", None),
        "database.other_connections: expected an integer >= 0",
        id="null-for-int",
    ),
    pytest.param(
        changed("database", [1, 2]), "database: expected a mapping", id="list-for-section"
    ),
    pytest.param(changed("apps", {"name": "web"}), "apps: expected a list", id="mapping-for-list"),
    pytest.param(changed("apps[0]", "web"), "apps[0]: expected a mapping", id="string-for-app"),
    pytest.param(
        changed("pools[0].user", True),
        "pools[0].user: expected a non-empty string, got true (a boolean); quote it",
        id="yaml-on-as-user",
    ),
    pytest.param(
        changed("pools[0].database", "my db"),
        "pools[0].database: expected a non-empty name without spaces",
        id="name-with-space",
    ),
    pytest.param(
        changed("pools[0].database", ""),
        "pools[0].database: expected a non-empty name",
        id="empty-name",
    ),
    pytest.param(
        changed("pgpool.query_cancel", "yes"),
        "pgpool.query_cancel: expected true or false, got 'yes' (a string)",
        id="string-for-bool",
    ),
    pytest.param(
        changed("workload.peak_tps", "3000"),
        "workload.peak_tps: expected a number > 0",
        id="string-for-number",
    ),
    pytest.param(
        changed("workload.peak_tps", float("nan")),
        "workload.peak_tps: expected a number > 0",
        id="nan-for-number",
    ),
    pytest.param(
        changed("poolers.version", 1.2),
        'poolers.version: expected a quoted PgBouncer version such as "1.24.1"',
        id="float-version",
    ),
    pytest.param(
        changed("poolers.version", "latest"),
        "poolers.version: expected a PgBouncer version such as \"1.24.1\", got 'latest'",
        id="bad-version",
    ),
    pytest.param([EXAMPLE], "topology: expected a mapping", id="list-document"),
    pytest.param("database: 1", "topology: expected a mapping", id="scalar-document"),
    pytest.param(None, "topology: empty; expected a mapping", id="empty-document"),
    # zero and negative counts
    pytest.param(
        changed("database.cpu_cores", 0),
        "database.cpu_cores: expected an integer >= 1 (cores of the database host), got 0",
        id="zero-cores",
    ),
    pytest.param(
        changed("database.max_connections", -5),
        "database.max_connections: expected an integer >= 1",
        id="negative-max_connections",
    ),
    pytest.param(
        changed("database.other_connections", -1),
        "database.other_connections: expected an integer >= 0",
        id="negative-other",
    ),
    pytest.param(
        changed("poolers.hosts", 0), "poolers.hosts: expected an integer >= 1", id="zero-hosts"
    ),
    pytest.param(
        changed("poolers.processes_per_host", 0),
        "poolers.processes_per_host: expected an integer >= 1",
        id="zero-processes",
    ),
    pytest.param(
        changed("pgpool.nodes", 0), "pgpool.nodes: expected an integer >= 1", id="zero-nodes"
    ),
    pytest.param(
        changed("pools[0].share", 0), "pools[0].share: expected an integer >= 1", id="zero-share"
    ),
    pytest.param(
        changed("apps[0].instances", 0),
        "apps[0].instances: expected an integer >= 1",
        id="zero-instances",
    ),
    pytest.param(
        changed("apps[2].serverless_concurrency", -3),
        "apps[2].serverless_concurrency: expected an integer >= 1",
        id="negative-serverless",
    ),
    pytest.param(
        changed("workload.peak_tps", 0), "workload.peak_tps: expected a number > 0", id="zero-tps"
    ),
    pytest.param(
        changed("pgpool.budget_percent", 100),
        "pgpool.budget_percent: expected an integer from 1 to 99",
        id="pgpool-takes-everything",
    ),
    # cross-field rules
    pytest.param(
        changed("poolers.spare_hosts", 2),
        "poolers.spare_hosts: expected an integer < poolers.hosts (2) so at least one "
        "PgBouncer host stays up, got 2",
        id="spare_hosts-equals-hosts",
    ),
    pytest.param(
        changed("poolers.spare_hosts", 5),
        "poolers.spare_hosts: expected an integer < poolers.hosts (2)",
        id="spare_hosts-above-hosts",
    ),
    pytest.param(
        changed("database.max_connections", 3),
        "database.max_connections: expected more than superuser_reserved_connections + "
        "reserved_connections (3 + 0 = 3), as PostgreSQL requires, got 3",
        id="reserved-eats-max_connections",
    ),
    pytest.param(changed("apps", []), "apps: expected a list with at least one", id="no-apps"),
    pytest.param(changed("pools", []), "pools: expected a list with at least one", id="no-pools"),
    pytest.param(
        changed("apps[0].serverless_concurrency", 10),
        "apps[0]: mixes the process form (instances, processes, connections_per_process) with "
        "the serverless form (serverless_concurrency)",
        id="mixed-app-forms",
    ),
    pytest.param(
        changed("apps[0]", {"name": "web"}),
        "apps[0]: no connection counts; expected either",
        id="app-without-counts",
    ),
    pytest.param(
        changed("apps[1].name", "web"),
        "apps[1].name: duplicate application name 'web' (also apps[0])",
        id="duplicate-app",
    ),
    pytest.param(
        changed("pools[1]", {"database": "app", "user": "app"}),
        "pools[1]: duplicate database/user pair app/app (also pools[0])",
        id="duplicate-pool",
    ),
]


def test_calibration_is_parsed():
    data = {**minimal(), "calibration": {"useful_concurrency": 24, "source": "run 1"}}
    assert parse_topology(data).calibration == Calibration(24, "run 1")


def test_calibration_is_optional():
    assert parse_topology(minimal()).calibration is None


CALIBRATION_ERRORS = [
    pytest.param(
        {"useful_concurrency": 0, "source": "x"},
        "calibration.useful_concurrency: expected an integer >= 1",
        id="zero",
    ),
    pytest.param(
        {"useful_concurrency": 24.0, "source": "x"},
        "calibration.useful_concurrency: expected an integer >= 1 (the active connections "
        "poolkit calibrate recommends), got 24.0",
        id="float",
    ),
    pytest.param(
        {"source": "x"}, "calibration.useful_concurrency: missing; expected", id="no-number"
    ),
    pytest.param(
        {"useful_concurrency": 24},
        "calibration.source: missing; expected a non-empty string saying where the number "
        "comes from",
        id="no-source",
    ),
    pytest.param(
        {"useful_concurrency": 24, "source": " "},
        "calibration.source: expected a non-empty string",
        id="blank-source",
    ),
    pytest.param(
        {"useful_concurrency": 24, "source": "x", "file": "c.json"},
        "calibration.file: unknown key; expected one of source, useful_concurrency",
        id="unknown-key",
    ),
    pytest.param(24, "calibration: expected a mapping with keys source", id="not-a-mapping"),
]


@pytest.mark.parametrize(("calibration", "message"), CALIBRATION_ERRORS)
def test_bad_calibration_names_the_key(calibration, message):
    with pytest.raises(PoolkitError) as excinfo:
        parse_topology({**minimal(), "calibration": calibration})
    assert message in str(excinfo.value)


def test_misspelt_calibration_gets_a_hint():
    with pytest.raises(PoolkitError, match=r"calibraton: unknown key.*did you mean calibration"):
        parse_topology({**minimal(), "calibraton": {}})


@pytest.mark.parametrize(("data", "message"), BAD_INPUTS)
def test_bad_input_names_field_and_expectation(data, message):
    with pytest.raises(PoolkitError) as excinfo:
        parse_topology(data)
    assert message in str(excinfo.value)
    assert "\n" not in str(excinfo.value)


def test_error_is_a_value_error_for_callers_that_catch_those():
    with pytest.raises(ValueError, match=r"^database\.cpu_cores: "):
        parse_topology(changed("database.cpu_cores", 0))
