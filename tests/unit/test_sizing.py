"""Example-based tests of the sizing model and its renderings (one behaviour per test)."""

from __future__ import annotations

import configparser
import copy
import json
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import yaml

from poolkit import PoolkitError
from poolkit.render_size import render
from poolkit.sizing import size, size_dict, square_root_staffing
from poolkit.topology import parse_topology

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = yaml.safe_load((REPO / "examples" / "topology.yml").read_text(encoding="utf-8"))


def minimal(**database: Any) -> dict[str, Any]:
    return {
        "database": {"max_connections": 100, "cpu_cores": 4, **database},
        "apps": [{"name": "web", "instances": 2, "connections_per_process": 5}],
    }


def example(**sections: Any) -> dict[str, Any]:
    data = copy.deepcopy(EXAMPLE)
    for key, value in sections.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def pools_by_label(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"{p['database']}/{p['user']}": p for p in result["pgbouncer"]["pools"]}


# ----------------------------------------------------------------- the example


def test_example_budget():
    budget = size_dict(EXAMPLE)["budget"]
    assert budget["server_connections"] == 400 - 3 - 0 - 10
    assert (budget["pgbouncer_share"], budget["pgpool_share"]) == (194, 193)


def test_example_pools():
    pools = pools_by_label(size_dict(EXAMPLE))
    assert (pools["app/app"]["pool_size"], pools["app/app"]["reserve_pool_size"]) == (6, 6)
    assert (
        pools["reports/reporter"]["pool_size"],
        pools["reports/reporter"]["reserve_pool_size"],
    ) == (
        2,
        2,
    )


def test_example_pgbouncer_settings():
    pgb = size_dict(EXAMPLE)["pgbouncer"]
    assert pgb["default_pool_size"] == 2
    assert pgb["min_pool_size"] == 1
    assert pgb["reserve_pool_timeout"] == 3
    assert pgb["max_client_conn"] == 368  # ceil(572 x 5/4 / 2) + 10
    assert pgb["max_db_connections"] == 12


def test_example_pgpool_gets_its_share_halved_for_query_cancel():
    assert size_dict(EXAMPLE)["pgpool"] == {"num_init_children": 96, "max_pool": 1, "nodes": 1}


def test_example_nofile_is_the_floor():
    assert size_dict(EXAMPLE)["limits"]["nofile"] == 1024


# ----------------------------------------------------------------- the model


def test_single_default_pool_aims_at_useful_concurrency():
    result = size_dict(minimal())
    pgb = result["pgbouncer"]
    assert result["budget"]["demand"] == 4 * 2
    assert (pgb["default_pool_size"], pgb["reserve_pool_size"], pgb["min_pool_size"]) == (8, 4, 4)
    assert pgb["pools"] == [
        {
            "database": "*",
            "user": "*",
            "share": 1,
            "pool_size": 8,
            "reserve_pool_size": 4,
            "demand": 8,
            "ceiling": 97,
        }
    ]


def test_spindles_add_to_useful_concurrency():
    assert size_dict(minimal(effective_spindle_count=3))["budget"]["useful_concurrency"] == 11


def test_shares_split_demand_between_pools():
    data = minimal()
    data["pools"] = [
        {"database": "a", "user": "a", "share": 3},
        {"database": "b", "user": "b", "share": 1},
    ]
    pools = pools_by_label(size_dict(data))
    assert (pools["a/a"]["pool_size"], pools["b/b"]["pool_size"]) == (6, 2)


def test_processes_split_demand():
    data = minimal()
    data["poolers"] = {"hosts": 2, "processes_per_host": 2}
    assert size_dict(data)["pgbouncer"]["default_pool_size"] == 2  # 8 / 4 processes


def test_workload_above_useful_concurrency_raises_demand():
    data = minimal(cpu_cores=2)
    data["workload"] = {"peak_tps": 1000, "mean_transaction_ms": 10}  # L = 10
    result = size_dict(data)
    assert result["budget"]["littles_law"] == 17  # ceil(10 + 2 sqrt(10))
    assert result["budget"]["demand"] == 17
    assert any("transactions in flight at peak" in note for note in result["notes"])


def test_workload_below_useful_concurrency_keeps_the_floor():
    data = minimal()
    data["workload"] = {"peak_tps": 10, "mean_transaction_ms": 1}
    assert size_dict(data)["budget"]["demand"] == 8


def derivation(result: dict[str, Any], name: str) -> dict[str, Any]:
    return next(entry for entry in result["explain"] if entry["name"] == name)


CALIBRATION = {"useful_concurrency": 20, "source": "poolkit calibrate 2026-12-01 db1: r2=0.998"}


def test_calibration_replaces_the_floor():
    data = minimal(cpu_cores=2)  # floor 4
    data["calibration"] = CALIBRATION
    result = size_dict(data)
    assert (result["budget"]["useful_concurrency"], result["budget"]["demand"]) == (20, 20)


def test_calibration_explain_says_where_the_number_came_from():
    data = minimal(cpu_cores=2)
    data["calibration"] = CALIBRATION
    useful = derivation(size_dict(data, explain=True), "budget.useful_concurrency")
    assert "measured: poolkit calibrate 2026-12-01 db1: r2=0.998" in useful["formula"]
    assert (
        "instead of the floor cpu_cores x 2 + effective_spindle_count = 2 x 2 + 0 = 4"
        in (useful["formula"])
    )
    assert useful["source"].startswith("poolkit calibrate: the Universal Scalability Law")


def test_calibration_source_is_in_the_json():
    data = minimal()
    data["calibration"] = CALIBRATION
    assert size_dict(data)["budget"]["useful_concurrency_source"] == CALIBRATION["source"]


def test_calibration_note_replaces_the_floor_note():
    data = minimal()
    data["calibration"] = CALIBRATION
    notes = size_dict(data)["notes"]
    assert any(note.startswith("Demand 20 is the measured useful concurrency") for note in notes)
    assert not any("a floor for commit-bound OLTP" in note for note in notes)


def test_calibration_table_row_says_measured():
    data = minimal()
    data["calibration"] = CALIBRATION
    text = render(size(parse_topology(data)), "table")
    assert "useful concurrency  20  measured (calibration.source); the floor 4 cores" in text


def test_workload_still_raises_a_calibrated_demand():
    data = minimal()
    data["calibration"] = {**CALIBRATION, "useful_concurrency": 6}
    data["workload"] = {"peak_tps": 1000, "mean_transaction_ms": 10}  # 17 with headroom
    assert size_dict(data)["budget"]["demand"] == 17


def test_without_calibration_the_floor_decides():
    result = size_dict(minimal(cpu_cores=2), explain=True)
    assert result["budget"]["useful_concurrency"] == 4
    assert "useful_concurrency_source" not in result["budget"]
    formula = derivation(result, "budget.useful_concurrency")["formula"]
    assert formula.endswith("= 4 (a floor, not the optimum)")


@pytest.mark.parametrize(
    ("load", "expected"),
    [
        (Fraction(0), 1),
        (Fraction(1, 100), 1),  # 0.01 + 0.2
        (Fraction(1), 3),
        (Fraction(4), 8),  # exactly 4 + 2 x 2
        (Fraction(12), 19),
        (Fraction(100), 120),
        (Fraction(10**6), 10**6 + 2000),
    ],
)
def test_square_root_staffing(load, expected):
    assert square_root_staffing(load) == expected


def test_budget_caps_pools_and_says_so():
    result = size_dict(minimal(max_connections=10, cpu_cores=16))  # budget 7, demand 32
    pool = result["pgbouncer"]["pools"][0]
    assert (pool["pool_size"], pool["reserve_pool_size"], pool["demand"]) == (7, 0, 32)
    assert any("caps pools below their demand" in note for note in result["notes"])


def test_reserve_restores_demand_with_spare_hosts_down():
    budget = size_dict(EXAMPLE)["budget"]
    assert budget["active_spares_down"] < budget["demand"] <= budget["with_reserve_spares_down"]


def test_max_client_conn_holds_all_clients_with_spare_hosts_down():
    result = size_dict(EXAMPLE)
    surviving = result["budget"]["pgbouncer_surviving_processes"]
    assert surviving * result["pgbouncer"]["max_client_conn"] >= result["clients"]["total"]


def test_query_cancel_off_gives_pgpool_its_whole_share():
    pgpool = example(pgpool={"nodes": 1, "query_cancel": False})
    assert size_dict(pgpool)["pgpool"]["num_init_children"] == 193


def test_pgpool_nodes_divide_children():
    pgpool = example(pgpool={"nodes": 2})
    assert size_dict(pgpool)["pgpool"]["num_init_children"] == 48  # 193 // (2 x 1 x 2)


def test_budget_percent_moves_the_split():
    result = size_dict(example(pgpool={"budget_percent": 25}))
    assert (result["budget"]["pgbouncer_share"], result["budget"]["pgpool_share"]) == (291, 96)


def test_without_pgpool_section_there_is_no_pgpool_key():
    result = size_dict(example(pgpool=None))
    assert "pgpool" not in result
    assert result["budget"]["pgbouncer_share"] == result["budget"]["server_connections"]
    assert result["budget"]["pgpool_worst_case"] == 0


def test_budget_too_small_says_which_max_connections_would_do():
    with pytest.raises(PoolkitError) as excinfo:
        size(parse_topology(example(database={**EXAMPLE["database"], "max_connections": 27})))
    message = str(excinfo.value)
    assert message.startswith("database.max_connections: 27 leaves 14 server connection(s)")
    assert message.endswith("expected max_connections >= 28")


def test_budget_suggested_by_the_error_is_enough():
    size(parse_topology(example(database={**EXAMPLE["database"], "max_connections": 28})))


def test_other_connections_can_exhaust_the_budget():
    with pytest.raises(PoolkitError, match=r"leaves 0 server .* expected max_connections >= 14$"):
        size_dict(minimal(max_connections=13, other_connections=10))


def test_max_db_connections_covers_every_pool_of_a_database():
    data = minimal()
    data["pools"] = [
        {"database": "app", "user": "web", "share": 3},
        {"database": "app", "user": "jobs", "share": 1},
    ]
    pgb = size_dict(data)["pgbouncer"]
    pools = pools_by_label({"pgbouncer": pgb})
    total = sum(p["pool_size"] + p["reserve_pool_size"] for p in pools.values())
    assert pgb["databases"] == [
        {"database": "app", "pool_size": 2, "reserve_pool_size": 1, "max_db_connections": total}
    ]
    assert pgb["max_db_connections"] == total


def test_pools_sharing_a_database_get_user_overrides():
    data = minimal()
    data["pools"] = [
        {"database": "app", "user": "web", "share": 3},
        {"database": "app", "user": "jobs", "share": 1},
    ]
    users = size_dict(data)["pgbouncer"]["users"]
    assert users == [
        {"user": "web", "pool_size": 6, "reserve_pool_size": 3},
        {"user": "jobs", "pool_size": 2, "reserve_pool_size": 1},
    ]


def test_pair_that_ini_cannot_express_falls_back_to_the_smaller_size_with_a_note():
    data = minimal(cpu_cores=16)
    data["pools"] = [
        {"database": "a", "user": "x", "share": 3},
        {"database": "a", "user": "y", "share": 1},
        {"database": "b", "user": "x", "share": 1},
    ]
    result = size_dict(data)
    assert [u["user"] for u in result["pgbouncer"]["users"]] == ["y"]
    assert any(note.startswith("pool a/x:") for note in result["notes"])


def test_missing_pools_are_flagged_in_notes():
    assert any("No pools listed" in note for note in size_dict(minimal())["notes"])


def test_many_clients_raise_nofile_and_say_so():
    data = minimal()
    data["apps"] = [{"name": "fn", "serverless_concurrency": 5000}]
    result = size_dict(data)
    assert result["pgbouncer"]["max_client_conn"] == 6260
    assert result["limits"]["nofile"] == 8192
    assert any("LimitNOFILE" in note for note in result["notes"])


def test_clients_far_above_demand_are_explained():
    notes = size_dict(EXAMPLE)["notes"]
    assert any("572 application connections share 32 active" in note for note in notes)


def test_several_processes_need_peering_for_cancel():
    assert any("[peers]" in note for note in size_dict(EXAMPLE)["notes"])


def test_honest_caveat_when_demand_is_the_rule_of_thumb():
    assert any("a floor for commit-bound OLTP" in note for note in size_dict(minimal())["notes"])


@pytest.mark.parametrize(
    ("poolers", "expected"),
    [
        ({}, "unknown"),
        ({"version": "1.20.1"}, "unsupported"),
        ({"version": "1.22.0"}, "unsupported"),
        ({"version": "1.22.0", "max_prepared_statements": 100}, "supported"),
        ({"version": "1.24.1"}, "supported"),
        ({"version": "1.24.1", "max_prepared_statements": 0}, "unsupported"),
        ({"max_prepared_statements": 200}, "supported"),
    ],
)
def test_prepared_statement_support(poolers, expected):
    data = minimal()
    data["poolers"] = poolers
    assert size_dict(data)["client_settings"]["prepared_statements"] == expected


def test_driver_settings_disable_prepared_statements_when_unsupported():
    drivers = size_dict(minimal())["client_settings"]["drivers"]
    assert drivers == {
        "psycopg": {"prepare_threshold": None},
        "asyncpg": {"statement_cache_size": 0},
        "pgjdbc": {"prepareThreshold": 0},
    }


def test_sqlalchemy_pool_matches_the_counted_connections():
    apps = size_dict(EXAMPLE)["client_settings"]["apps"]
    assert apps[0] == {
        "name": "web",
        "form": "processes",
        "sqlalchemy": {"pool_size": 10, "max_overflow": 0},
    }
    assert apps[2]["sqlalchemy"] == {"pool_size": 1, "max_overflow": 0}


def _figures(value: Any, path: str = "") -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        return [item for k, v in value.items() for item in _figures(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [item for i, v in enumerate(value) for item in _figures(v, f"{path}[{i}]")]
    return [(path, value)]


def test_all_figures_are_integers():
    result = size_dict(EXAMPLE, explain=True)
    for section in ("pgbouncer", "pgpool", "limits", "budget", "clients"):
        for path, value in _figures(result[section], section):
            if path.endswith(("database", "user", "name", "pool_mode")):
                continue
            assert type(value) is int, path


def test_explain_values_match_the_figures():
    result = size_dict(EXAMPLE, explain=True)
    for entry in result["explain"]:
        section, _, key = entry["name"].partition(".")
        if "[" in key:  # per-pool entries
            label, _, field = key.partition("].")
            assert pools_by_label(result)[label.removeprefix("pools[")][field] == entry["value"]
        else:
            assert result[section][key] == entry["value"], entry["name"]
        assert entry["formula"] and entry["source"]


def test_size_dict_rejects_bad_input():
    with pytest.raises(PoolkitError, match=r"^database\.cpu_cores: missing"):
        size_dict({"database": {"max_connections": 10}, "apps": []})


# ----------------------------------------------------------------- renderings


def test_json_rendering_is_the_dict():
    sizing = size(parse_topology(EXAMPLE))
    assert json.loads(render(sizing, "json")) == size_dict(EXAMPLE)


def test_yaml_rendering_is_the_dict():
    sizing = size(parse_topology(EXAMPLE))
    assert yaml.safe_load(render(sizing, "yaml")) == size_dict(EXAMPLE)


def test_ini_rendering_reads_back_as_pgbouncer_settings():
    sizing = size(parse_topology(EXAMPLE))
    parser = configparser.ConfigParser(inline_comment_prefixes=None)
    parser.read_string(render(sizing, "ini", explain=True))
    assert parser["pgbouncer"].getint("default_pool_size") == 2
    assert parser["pgbouncer"].getint("max_client_conn") == 368
    assert parser["databases"]["app"] == "pool_size=6 reserve_pool=6 max_db_connections=12"


def test_ini_quotes_unusual_database_names():
    data = minimal()
    data["pools"] = [{"database": "Sales@EU", "user": "app"}]
    assert '"Sales@EU" = pool_size=' in render(size(parse_topology(data)), "ini")


def test_table_shows_each_section():
    text = render(size(parse_topology(EXAMPLE)), "table", source="examples/topology.yml")
    for heading in ("Server connections", "Demand", "PgBouncer pools", "pgpool.conf", "Notes"):
        assert f"\n{heading}" in text
    assert text.startswith("poolkit size examples/topology.yml: transaction pooling")


def test_table_explain_lists_formulas_and_sources():
    text = render(size(parse_topology(EXAMPLE)), "table", explain=True)
    assert "How each figure was derived" in text
    assert "source: HikariCP wiki, About Pool Sizing" in text


def test_table_lines_fit_a_terminal():
    text = render(size(parse_topology(EXAMPLE)), "table", explain=True)
    assert max(len(line) for line in text.splitlines()) <= 110


# ----------------------------------------------------------------- docs/sizing.md


def _doc_block(after: str, fence: str = "```") -> str:
    text = (REPO / "docs" / "sizing.md").read_text(encoding="utf-8")
    start = text.index(fence, text.index(after)) + len(fence)
    start = text.index("\n", start) + 1
    return text[start : text.index("\n```", start) + 1]


def test_worked_example_in_the_docs_is_the_real_table():
    expected = render(size(parse_topology(EXAMPLE)), "table", source="examples/topology.yml")
    assert _doc_block("<!-- poolkit size examples/topology.yml -->") == expected


def test_ini_excerpt_in_the_docs_is_the_real_ini():
    ini = render(size(parse_topology(EXAMPLE)), "ini").splitlines()
    for line in _doc_block("`--format ini` prints").splitlines():
        assert line in ini
