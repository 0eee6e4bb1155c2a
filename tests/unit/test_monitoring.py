"""poolkit.monitoring: the spec from the sizing, alert rules, dashboard, and promtool's verdict."""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from poolkit import PoolkitError
from poolkit.monitoring import (
    METRICS,
    QUERY_WAIT_TIMEOUT,
    alert_rules,
    dashboard,
    dashboard_queries,
    monitoring_spec,
    rule_queries,
)
from poolkit.sizing import size_dict

REPO = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((REPO / "compose" / "topology.yml").read_text(encoding="utf-8"))
INVENTORY = yaml.safe_load(
    (REPO / "inventories" / "example" / "group_vars" / "pgbouncer.yml").read_text(encoding="utf-8")
)["pooler_topology"]
EXAMPLE = yaml.safe_load((REPO / "examples" / "topology.yml").read_text(encoding="utf-8"))

SPEC = {
    "pgbouncer": {
        "max_client_conn": 60,
        "reserve_pool_timeout": 3,
        "query_wait_timeout": 120,
        "pools": [{"database": "app", "user": "app", "pool_size": 4, "reserve_pool_size": 2}],
    },
    "pgpool": {"num_init_children": 23, "max_pool": 1, "nodes": 1},
}
NO_PGPOOL = {"pgbouncer": SPEC["pgbouncer"]}
METRIC_NAME = re.compile(r"\b(?:pgbouncer|pgpool2)_\w+|\bup\b")


def with_pools(*pools: tuple[str, int, int]) -> dict:
    spec = copy.deepcopy(NO_PGPOOL)
    spec["pgbouncer"]["pools"] = [
        {"database": name, "user": name, "pool_size": size, "reserve_pool_size": reserve}
        for name, size, reserve in pools
    ]
    return spec


def with_figures(**figures: int) -> dict:
    spec = copy.deepcopy(NO_PGPOOL)
    spec["pgbouncer"].update(figures)
    return spec


def rules_named(rules: dict, alert: str) -> list[dict]:
    return [r for g in rules["groups"] for r in g["rules"] if r["alert"] == alert]


def threshold(rule: dict) -> float:
    return float(re.search(r"[<>]=? ([\d.]+)$", rule["expr"]).group(1))


def all_rules() -> list[dict]:
    return [r for g in alert_rules(SPEC)["groups"] for r in g["rules"]]


def panels(dash: dict) -> list[dict]:
    return [p for p in dash["panels"] if p["type"] != "row"]


# ----------------------------------------------------------------- monitoring_spec


def test_spec_takes_the_sizings_figures():
    assert monitoring_spec(size_dict(COMPOSE)) == SPEC


def test_query_wait_timeout_is_pgbouncers_default():
    spec = monitoring_spec(size_dict(COMPOSE))
    assert spec["pgbouncer"]["query_wait_timeout"] == QUERY_WAIT_TIMEOUT == 120


def test_spec_has_no_pgpool_when_the_topology_has_none():
    assert "pgpool" not in monitoring_spec(size_dict(INVENTORY))


def test_spec_has_one_pool_per_sized_pool():
    pools = monitoring_spec(size_dict(EXAMPLE))["pgbouncer"]["pools"]
    assert [(p["database"], p["user"]) for p in pools] == [("app", "app"), ("reports", "reporter")]


def test_override_replaces_a_figure_given_as_a_string():
    spec = monitoring_spec(size_dict(COMPOSE), {"pgbouncer": {"max_client_conn": "200"}})
    assert spec["pgbouncer"]["max_client_conn"] == 200


def test_null_override_keeps_the_sizings_figure():
    spec = monitoring_spec(size_dict(COMPOSE), {"pgbouncer": {"max_client_conn": None}})
    assert spec["pgbouncer"]["max_client_conn"] == 60


def test_override_replaces_the_pools():
    pools = [{"database": "db", "user": "u", "pool_size": "8", "reserve_pool_size": 0}]
    spec = monitoring_spec(size_dict(COMPOSE), {"pgbouncer": {"pools": pools}})
    assert spec["pgbouncer"]["pools"] == [
        {"database": "db", "user": "u", "pool_size": 8, "reserve_pool_size": 0}
    ]


def test_override_adds_pgpool_to_a_sizing_without_it():
    pgpool = {"num_init_children": 32, "max_pool": 4, "nodes": 2}
    spec = monitoring_spec(size_dict(INVENTORY), {"pgpool": pgpool})
    assert spec["pgpool"] == pgpool


BAD_SIZING = [
    pytest.param([], None, "sizing: expected the mapping `poolkit size", id="not-a-mapping"),
    pytest.param({}, None, "sizing.pgbouncer: expected the pgbouncer section", id="no-pgbouncer"),
    pytest.param(
        {"pgbouncer": {**SPEC["pgbouncer"], "max_client_conn": "many"}},
        None,
        "sizing.pgbouncer.max_client_conn: expected a whole number, got 'many'",
        id="not-a-number",
    ),
    pytest.param(
        {"pgbouncer": {"reserve_pool_timeout": 3, "pools": []}},
        None,
        "sizing.pgbouncer.max_client_conn: missing; expected a whole number >= 1",
        id="missing-figure",
    ),
    pytest.param(
        {"pgbouncer": {**SPEC["pgbouncer"], "pools": [{"database": "app", "user": "app"}]}},
        None,
        "sizing.pgbouncer.pools[0].pool_size: missing",
        id="pool-without-size",
    ),
    pytest.param(
        size_dict(COMPOSE),
        {"pgbouncer": {"max_client_con": 100}},
        "overrides.pgbouncer.max_client_con: unknown key; expected one of max_client_conn, "
        "reserve_pool_timeout, query_wait_timeout, pools (did you mean max_client_conn?)",
        id="override-typo",
    ),
    pytest.param(
        size_dict(COMPOSE),
        {"pgbouncer": {"query_wait_timeout": -1}},
        "overrides.pgbouncer.query_wait_timeout: expected a whole number >= 0",
        id="override-negative",
    ),
    pytest.param(
        size_dict(INVENTORY),
        {"pgpool": {"num_init_children": 32}},
        "overrides.pgpool.max_pool: missing",
        id="override-partial-pgpool",
    ),
    pytest.param(
        size_dict(COMPOSE), ["pgbouncer"], "overrides: expected a mapping", id="override-list"
    ),
]


@pytest.mark.parametrize(("sizing", "overrides", "message"), BAD_SIZING)
def test_bad_sizing_or_overrides_name_the_key(sizing, overrides, message):
    with pytest.raises(PoolkitError) as excinfo:
        monitoring_spec(sizing, overrides)
    assert message in str(excinfo.value)


# ----------------------------------------------------------------- alert_rules


def test_rules_have_a_pgpool_group_when_the_spec_has_pgpool():
    names = [g["name"] for g in alert_rules(SPEC)["groups"]]
    assert names == ["poolkit-pgbouncer", "poolkit-pgpool"]


def test_rules_have_no_pgpool_group_without_pgpool():
    names = [g["name"] for g in alert_rules(NO_PGPOOL)["groups"]]
    assert names == ["poolkit-pgbouncer"]


def test_a_bigger_pool_gets_a_bigger_threshold():
    rules = rules_named(
        alert_rules(with_pools(("small", 4, 2), ("big", 20, 10))), "PgBouncerServerPoolNearlyFull"
    )
    small, big = (threshold(r) for r in rules)
    assert (small, big) == (5.4, 27.0)


def test_each_pool_gets_its_own_nearly_full_rule():
    rules = rules_named(
        alert_rules(with_pools(("a", 4, 2), ("b", 8, 4))), "PgBouncerServerPoolNearlyFull"
    )
    assert [r["labels"] for r in rules] == [
        {"severity": "warning", "database": "a", "user": "a"},
        {"severity": "warning", "database": "b", "user": "b"},
    ]


def test_nearly_full_counts_the_busy_server_connections_of_its_pool():
    (rule,) = rules_named(alert_rules(NO_PGPOOL), "PgBouncerServerPoolNearlyFull")
    assert rule["expr"] == (
        '(pgbouncer_pools_server_active_connections{database="app", user="app"}'
        ' + pgbouncer_pools_server_testing_connections{database="app", user="app"}'
        ' + pgbouncer_pools_server_login_connections{database="app", user="app"}) >= 5.4'
    )


def test_pool_names_are_quoted_for_promql():
    (rule,) = rules_named(
        alert_rules(with_pools(('we"ird\\db', 4, 2))), "PgBouncerServerPoolNearlyFull"
    )
    assert 'database="we\\"ird\\\\db"' in rule["expr"]


def test_client_threshold_is_80_percent_of_max_client_conn():
    (rule,) = rules_named(
        alert_rules(with_figures(max_client_conn=250)), "PgBouncerClientConnectionsHigh"
    )
    assert rule["expr"] == "pgbouncer_used_clients > 200"


@pytest.mark.parametrize(
    ("figures", "expected"),
    [
        pytest.param({"reserve_pool_timeout": 3}, (3, 60), id="reserve-timeout-and-half-wait"),
        pytest.param({"reserve_pool_timeout": 0}, (1, 60), id="no-reserve-timeout"),
        pytest.param({"query_wait_timeout": 45}, (3, 22.5), id="odd-wait-timeout"),
        pytest.param({"query_wait_timeout": 0}, (3, 60), id="wait-timeout-disabled"),
    ],
)
def test_maxwait_thresholds_follow_the_timeouts(figures, expected):
    rules = rules_named(alert_rules(with_figures(**figures)), "PgBouncerMaxWaitHigh")
    assert {r["labels"]["severity"]: threshold(r) for r in rules} == dict(
        zip(("warning", "critical"), expected, strict=True)
    )


@pytest.mark.parametrize(
    "rule", all_rules(), ids=lambda r: f"{r['alert']}-{r['labels']['severity']}"
)
def test_every_rule_has_a_severity_and_advice(rule):
    assert rule["labels"]["severity"] in {"warning", "critical"}
    assert set(rule["annotations"]) == {"summary", "description", "runbook"}


def test_rules_name_no_job():
    assert not any("job=" in query for query in rule_queries(alert_rules(SPEC)))


BAD_SPECS = [
    pytest.param("spec", "spec: expected a mapping with pgbouncer", id="not-a-mapping"),
    pytest.param({}, "spec.pgbouncer: expected a mapping", id="no-pgbouncer"),
    pytest.param(
        {**SPEC, "pgpol": {}},
        "spec.pgpol: unknown key; expected one of pgbouncer, pgpool (did you mean pgpool?)",
        id="unknown-section",
    ),
    pytest.param(
        with_figures(max_client_conn=0),
        "spec.pgbouncer.max_client_conn: expected a whole number >= 1",
        id="zero-clients",
    ),
    pytest.param(
        with_pools(("app", 0, 2)),
        "spec.pgbouncer.pools[0].pool_size: expected a whole number >= 1",
        id="empty-pool",
    ),
    pytest.param(
        {"pgbouncer": {**SPEC["pgbouncer"], "pools": [{"database": "", "user": "app"}]}},
        "spec.pgbouncer.pools[0].database: expected a non-empty string, got ''",
        id="no-database",
    ),
    pytest.param(
        with_pools(("app", 4, 2), ("app", 8, 2)),
        "spec.pgbouncer.pools[1]: pool app/app is already spec.pgbouncer.pools[0]",
        id="duplicate-pool",
    ),
    pytest.param(
        {**SPEC, "pgpool": {"num_init_children": 23, "max_pool": 1}},
        "spec.pgpool.nodes: missing",
        id="pgpool-without-nodes",
    ),
]


@pytest.mark.parametrize(("spec", "message"), BAD_SPECS)
def test_bad_spec_for_the_rules_names_the_key(spec, message):
    with pytest.raises(PoolkitError) as excinfo:
        alert_rules(spec)
    assert message in str(excinfo.value)


@pytest.mark.parametrize(("spec", "message"), BAD_SPECS)
def test_bad_spec_for_the_dashboard_names_the_key(spec, message):
    with pytest.raises(PoolkitError) as excinfo:
        dashboard(spec)
    assert message in str(excinfo.value)


def test_every_problem_of_a_spec_is_reported_at_once():
    spec = with_figures(max_client_conn=0, reserve_pool_timeout=-1)
    with pytest.raises(PoolkitError) as excinfo:
        alert_rules(spec)
    assert str(excinfo.value).count("\n") == 1


# ----------------------------------------------------------------- queries


def test_rule_queries_lists_every_rule():
    assert len(rule_queries(alert_rules(SPEC))) == len(all_rules())


@pytest.mark.parametrize(
    "query",
    rule_queries(alert_rules(SPEC)) + dashboard_queries(dashboard(SPEC)),
)
def test_every_query_reads_only_verified_metrics(query):
    names = set(METRIC_NAME.findall(query))
    assert names
    assert names <= METRICS


def test_rule_queries_refuses_what_is_not_a_rule_file():
    with pytest.raises(PoolkitError, match="rules: expected a rule file mapping"):
        rule_queries({"rules": []})


def test_dashboard_queries_replace_the_grafana_variables():
    queries = dashboard_queries(dashboard())
    assert queries
    assert not any("$" in query for query in queries)


def test_dashboard_queries_refuse_an_unknown_variable():
    dash = dashboard()
    panels(dash)[0]["targets"][0]["expr"] = "pgbouncer_up{instance=~'$nope'}"
    with pytest.raises(PoolkitError, match=r"\$nope is not a templating variable"):
        dashboard_queries(dash)


def test_dashboard_queries_read_panels_inside_collapsed_rows():
    dash = dashboard()
    row = dash["panels"][0]
    row["panels"], dash["panels"] = dash["panels"][1:], [row]
    row["collapsed"] = True
    assert dashboard_queries(dash) == dashboard_queries(dashboard())


# ----------------------------------------------------------------- dashboard


@pytest.mark.parametrize("panel", panels(dashboard()), ids=lambda p: p["title"])
def test_every_dashboard_panel_has_a_target(panel):
    assert panel["targets"]
    assert all(t["expr"] and t["legendFormat"] for t in panel["targets"])


def test_dashboard_is_json_serialisable():
    dash = dashboard(SPEC)
    assert json.loads(json.dumps(dash)) == dash


def test_dashboard_without_spec_has_both_rows():
    rows = [p["title"] for p in dashboard()["panels"] if p["type"] == "row"]
    assert rows == ["PgBouncer", "Pgpool-II"]


def test_dashboard_has_no_pgpool_row_without_pgpool():
    dash = dashboard(NO_PGPOOL)
    assert [p["title"] for p in dash["panels"] if p["type"] == "row"] == ["PgBouncer"]
    assert "pgpool_instance" not in {v["name"] for v in dash["templating"]["list"]}


def test_dashboard_datasource_is_a_prometheus_variable():
    (variable,) = [v for v in dashboard()["templating"]["list"] if v["name"] == "datasource"]
    assert (variable["type"], variable["query"]) == ("datasource", "prometheus")
    assert all(p["datasource"]["uid"] == "${datasource}" for p in panels(dashboard()))


@pytest.mark.parametrize(
    ("name", "query"),
    [
        ("instance", "label_values(pgbouncer_up, instance)"),
        (
            "database",
            'label_values(pgbouncer_pools_client_active_connections{instance=~"$instance"}, '
            "database)",
        ),
        ("pgpool_instance", "label_values(pgpool2_up, instance)"),
    ],
)
def test_dashboard_variables_come_from_exporter_labels(name, query):
    (variable,) = [v for v in dashboard()["templating"]["list"] if v["name"] == name]
    assert variable["query"] == query


def test_dashboard_panel_ids_are_unique():
    ids = [p["id"] for p in dashboard()["panels"]]
    assert len(ids) == len(set(ids))


def test_dashboard_thresholds_follow_max_client_conn():
    (panel,) = [
        p for p in panels(dashboard(SPEC)) if p["title"] == "Client connections per process"
    ]
    steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert [s["value"] for s in steps] == [None, 48.0, 60.0]


# ----------------------------------------------------------------- promtool


@pytest.fixture(scope="module")
def promtool() -> str:
    found = shutil.which("promtool") or REPO / ".venv" / "bin" / "promtool"
    if not Path(found).is_file():
        pytest.fail("promtool is missing: run make setup (it installs promtool into .venv/bin)")
    return str(found)


def run_promtool(promtool: str, *args: str, cwd: Path) -> None:
    result = subprocess.run(
        [promtool, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def write_yaml(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "topology",
    [COMPOSE, INVENTORY, EXAMPLE],
    ids=["compose", "inventory-example", "examples"],
)
def test_promtool_accepts_the_rules(promtool, tmp_path, topology):
    rules = write_yaml(tmp_path / "rules.yml", alert_rules(monitoring_spec(size_dict(topology))))
    run_promtool(promtool, "check", "rules", rules.name, cwd=tmp_path)


def test_promtool_parses_every_dashboard_query(promtool, tmp_path):
    recording = [
        {"record": f"poolkit:dashboard_query_{n}", "expr": query}
        for n, query in enumerate(dashboard_queries(dashboard(SPEC)))
    ]
    rules = write_yaml(tmp_path / "queries.yml", {"groups": [{"name": "q", "rules": recording}]})
    run_promtool(promtool, "check", "rules", rules.name, cwd=tmp_path)


def promtool_test(promtool: str, tmp_path: Path, spec: dict, test: dict) -> None:
    """`promtool test rules` on the rules of `spec`. Annotations are dropped: check rules
    parses their templates; this is about when an alert fires and with which labels."""
    rules = alert_rules(spec)
    for group in rules["groups"]:
        for rule in group["rules"]:
            del rule["annotations"]
    write_yaml(tmp_path / "rules.yml", rules)
    tests = {"rule_files": ["rules.yml"], "evaluation_interval": "1m", "tests": [test]}
    write_yaml(tmp_path / "tests.yml", tests)
    run_promtool(promtool, "test", "rules", "tests.yml", cwd=tmp_path)


TARGET = {"job": "pgbouncer", "instance": "pooler1:9127"}


def series(metric: str, values: str, **labels: str) -> dict:
    matchers = ", ".join(f'{k}="{v}"' for k, v in {**TARGET, **labels}.items())
    return {"series": f"{metric}{{{matchers}}}", "values": values}


def test_promtool_clients_waiting_fires_after_a_minute(promtool, tmp_path):
    test = {
        "interval": "1m",
        "input_series": [
            series(
                "pgbouncer_pools_client_waiting_connections", "0 2 2 2", database="app", user="app"
            )
        ],
        "alert_rule_test": [
            {"eval_time": "1m", "alertname": "PgBouncerClientsWaiting", "exp_alerts": []},
            {
                "eval_time": "3m",
                "alertname": "PgBouncerClientsWaiting",
                "exp_alerts": [
                    {
                        "exp_labels": {
                            **TARGET,
                            "severity": "critical",
                            "database": "app",
                            "user": "app",
                        }
                    }
                ],
            },
        ],
    }
    promtool_test(promtool, tmp_path, NO_PGPOOL, test)


def test_promtool_nearly_full_fires_above_90_percent_only(promtool, tmp_path):
    busy = {
        "server_active": "5x9",
        "server_used": "0x9",
        "server_testing": "1x9",
        "server_login": "0x9",
    }
    calm = {
        "server_active": "20x9",
        "server_used": "0x9",
        "server_testing": "0x9",
        "server_login": "0x9",
    }
    # sv_used connections are free (idle past server_check_delay): 4 active + 3 used of 6.
    spare = {**busy, "server_active": "4x9", "server_used": "3x9", "server_testing": "0x9"}
    test = {
        "interval": "1m",
        "input_series": [
            series(f"pgbouncer_pools_{kind}_connections", values, database=name, user=name)
            for name, load in (("small", busy), ("big", calm), ("spare", spare))
            for kind, values in load.items()
        ],
        "alert_rule_test": [
            {
                "eval_time": "6m",
                "alertname": "PgBouncerServerPoolNearlyFull",
                "exp_alerts": [
                    {
                        "exp_labels": {
                            **TARGET,
                            "severity": "warning",
                            "database": "small",
                            "user": "small",
                        }
                    }
                ],
            }
        ],
    }
    # small: 6 of 4 + 2 in use (>= 5.4); big: 20 of 20 + 10 (< 27); spare: 4 of 4 + 2.
    pools = with_pools(("small", 4, 2), ("big", 20, 10), ("spare", 4, 2))
    promtool_test(promtool, tmp_path, pools, test)
