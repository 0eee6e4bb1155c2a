"""Properties of the sizing model over generated topologies (hypothesis).

Each invariant is recomputed here from the *input* topology, not from the model's own
budget figures, so a wrong budget in the model cannot make its own test pass.
"""

from __future__ import annotations

import copy
import re
from fractions import Fraction
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from poolkit import PoolkitError
from poolkit.sizing import size_dict

SETTINGS = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@st.composite
def apps(draw) -> list[dict[str, Any]]:
    result = []
    for index in range(draw(st.integers(1, 4))):
        if draw(st.booleans()):
            app: dict[str, Any] = {
                "name": f"app{index}",
                "instances": draw(st.integers(1, 50)),
                "connections_per_process": draw(st.integers(1, 50)),
            }
            if draw(st.booleans()):
                app["processes"] = draw(st.integers(1, 16))
        else:
            app = {"name": f"fn{index}", "serverless_concurrency": draw(st.integers(1, 3000))}
            if draw(st.booleans()):
                app["connections_per_invocation"] = draw(st.integers(1, 4))
        result.append(app)
    return result


@st.composite
def topologies(draw, pgpool: bool | None = None) -> dict[str, Any]:
    """Valid-looking topologies; max_connections may still be too small (tested too)."""
    superuser = draw(st.integers(0, 10))
    reserved = draw(st.integers(0, 5))
    database: dict[str, Any] = {
        "max_connections": draw(st.integers(superuser + reserved + 1, 3000)),
        "superuser_reserved_connections": superuser,
        "reserved_connections": reserved,
        "other_connections": draw(st.integers(0, 60)),
        "cpu_cores": draw(st.integers(1, 96)),
        "effective_spindle_count": draw(st.integers(0, 8)),
    }
    hosts = draw(st.integers(1, 5))
    data: dict[str, Any] = {
        "database": database,
        "poolers": {
            "hosts": hosts,
            "processes_per_host": draw(st.integers(1, 4)),
            "spare_hosts": draw(st.integers(0, hosts - 1)),
        },
        "apps": draw(apps()),
    }
    if draw(st.booleans()):
        pairs = draw(
            st.lists(
                st.tuples(st.integers(0, 2), st.integers(0, 2)), min_size=1, max_size=5, unique=True
            )
        )
        data["pools"] = [
            {"database": f"db{d}", "user": f"user{u}", "share": draw(st.integers(1, 5))}
            for d, u in pairs
        ]
    with_pgpool = draw(st.booleans()) if pgpool is None else pgpool
    if with_pgpool:
        data["pgpool"] = {
            "nodes": draw(st.integers(1, 3)),
            "budget_percent": draw(st.integers(1, 99)),
            "query_cancel": draw(st.booleans()),
        }
    if draw(st.booleans()):
        data["workload"] = {
            "peak_tps": draw(st.integers(1, 50_000) | st.floats(0.5, 50_000.0)),
            "mean_transaction_ms": draw(st.integers(1, 200) | st.floats(0.1, 200.0)),
        }
    return data


def budget(data: dict[str, Any]) -> int:
    db = data["database"]
    return (
        db["max_connections"]
        - db["superuser_reserved_connections"]
        - db["reserved_connections"]
        - db["other_connections"]
    )


def processes(data: dict[str, Any]) -> int:
    return data["poolers"]["hosts"] * data["poolers"]["processes_per_host"]


def surviving(data: dict[str, Any]) -> int:
    poolers = data["poolers"]
    return (poolers["hosts"] - poolers["spare_hosts"]) * poolers["processes_per_host"]


def clients(data: dict[str, Any]) -> int:
    total = 0
    for app in data["apps"]:
        if "serverless_concurrency" in app:
            total += app["serverless_concurrency"] * app.get("connections_per_invocation", 1)
        else:
            total += app["instances"] * app.get("processes", 1) * app["connections_per_process"]
    return total


def pgpool_worst(data: dict[str, Any], result: dict[str, Any]) -> int:
    if "pgpool" not in data:
        return 0
    pgpool = result["pgpool"]
    cancel = 2 if data["pgpool"]["query_cancel"] else 1
    return data["pgpool"]["nodes"] * pgpool["num_init_children"] * pgpool["max_pool"] * cancel


def sized(data: dict[str, Any]) -> dict[str, Any]:
    """size_dict, or assume() away topologies whose budget is too small."""
    try:
        return size_dict(data)
    except PoolkitError as exc:
        assert str(exc).startswith("database.max_connections: ")
        assume(False)
        raise


def per_process(result: dict[str, Any]) -> int:
    return sum(p["pool_size"] + p["reserve_pool_size"] for p in result["pgbouncer"]["pools"])


# ----------------------------------------------------------------- budget


@SETTINGS
@given(topologies(pgpool=False))
def test_pgbouncer_alone_fits_the_budget(data):
    result = sized(data)
    assert processes(data) * per_process(result) <= budget(data)
    assert result["pgbouncer"]["max_db_connections"] * processes(data) <= budget(data)


@SETTINGS
@given(topologies(pgpool=True))
def test_pgpool_fits_the_budget(data):
    result = sized(data)
    pgpool = result["pgpool"]
    nodes = data["pgpool"]["nodes"]
    assert nodes * pgpool["num_init_children"] * pgpool["max_pool"] <= budget(data)
    assert pgpool_worst(data, result) <= budget(data)  # with the query-cancel doubling


@SETTINGS
@given(topologies(pgpool=True))
def test_both_poolers_fit_the_budget_together(data):
    result = sized(data)
    total = processes(data) * per_process(result) + pgpool_worst(data, result)
    assert total <= budget(data)
    assert result["budget"]["unused"] == budget(data) - total


@SETTINGS
@given(topologies())
def test_max_db_connections_never_starves_pools_of_one_database(data):
    result = sized(data)
    by_database: dict[str, int] = {}
    for pool in result["pgbouncer"]["pools"]:
        by_database[pool["database"]] = by_database.get(pool["database"], 0) + pool["pool_size"]
    assert result["pgbouncer"]["max_db_connections"] >= max(by_database.values())
    for entry in result["pgbouncer"]["databases"]:
        assert entry["max_db_connections"] >= by_database[entry["database"]]


@SETTINGS
@given(topologies())
def test_ini_overrides_never_exceed_the_sized_pools(data):
    result = sized(data)
    pgb = result["pgbouncer"]
    databases = {e["database"]: e for e in pgb["databases"]}
    users = {u["user"]: u for u in pgb["users"]}
    for pool in pgb["pools"]:
        if "pools" not in data:
            effective = {  # one implicit pair: the [pgbouncer] defaults
                "pool_size": pgb["default_pool_size"],
                "reserve_pool_size": pgb["reserve_pool_size"],
            }
        else:
            effective = users.get(pool["user"]) or databases[pool["database"]]
        assert effective["pool_size"] <= pool["pool_size"]
        assert effective["reserve_pool_size"] <= pool["reserve_pool_size"]
        exact = (effective["pool_size"], effective["reserve_pool_size"]) == (
            pool["pool_size"],
            pool["reserve_pool_size"],
        )
        label = f"pool {pool['database']}/{pool['user']}:"
        assert exact or any(note.startswith(label) for note in result["notes"])


# ----------------------------------------------------------------- clients and pools


@SETTINGS
@given(topologies())
def test_clients_fit_with_spare_hosts_down(data):
    result = sized(data)
    assert surviving(data) * result["pgbouncer"]["max_client_conn"] >= clients(data)


@SETTINGS
@given(topologies())
def test_every_pool_gets_at_least_one_connection(data):
    result = sized(data)
    for pool in result["pgbouncer"]["pools"]:
        assert pool["pool_size"] >= 1
        assert pool["reserve_pool_size"] >= 0
    assert result["pgbouncer"]["default_pool_size"] >= 1


@SETTINGS
@given(topologies())
def test_min_pool_size_never_exceeds_a_pool_size(data):
    result = sized(data)
    pgb = result["pgbouncer"]
    assert 0 <= pgb["min_pool_size"] <= pgb["default_pool_size"]
    for pool in pgb["pools"]:
        assert pgb["min_pool_size"] <= pool["pool_size"]


@SETTINGS
@given(topologies())
def test_nofile_covers_clients_and_server_connections(data):
    result = sized(data)
    need = result["pgbouncer"]["max_client_conn"] + per_process(result)
    assert result["limits"]["nofile"] >= need
    assert result["limits"]["nofile"] >= 1024


@SETTINGS
@given(topologies())
def test_demand_is_met_unless_the_budget_caps_it(data):
    result = sized(data)
    db = data["database"]
    useful = db["cpu_cores"] * 2 + db["effective_spindle_count"]
    target = Fraction(useful)
    if "workload" in data:
        w = data["workload"]
        little = Fraction(repr(w["peak_tps"])) * Fraction(repr(w["mean_transaction_ms"])) / 1000
        target = max(target, little)
    pools = result["pgbouncer"]["pools"]
    active = processes(data) * sum(p["pool_size"] for p in pools)
    if all(p["pool_size"] == p["demand"] for p in pools):
        assert active >= target
        # aims at it: at most one extra connection per pool per process from rounding up
        assert active < result["budget"]["demand"] + processes(data) * len(pools)
    else:
        assert any("caps pools below their demand" in n for n in result["notes"])


@SETTINGS
@given(topologies())
def test_reserve_pools_restore_demand_with_spare_hosts_down_when_budget_allows(data):
    result = sized(data)
    pools = result["pgbouncer"]["pools"]
    spare = data["poolers"]["spare_hosts"]
    hosts = data["poolers"]["hosts"]
    wanted = [-(-p["pool_size"] * spare // (hosts - spare)) for p in pools]
    if all(p["reserve_pool_size"] >= w for p, w in zip(pools, wanted, strict=True)):
        all_up = processes(data) * sum(p["pool_size"] for p in pools)
        assert surviving(data) * per_process(result) >= all_up


# ----------------------------------------------------------------- monotone


@SETTINGS
@given(topologies(), st.integers(1, 2000))
def test_more_max_connections_never_shrinks_a_pool(data, extra):
    small = sized(data)
    bigger = copy.deepcopy(data)
    bigger["database"]["max_connections"] += extra
    large = size_dict(bigger)
    for before, after in zip(small["pgbouncer"]["pools"], large["pgbouncer"]["pools"], strict=True):
        assert after["pool_size"] >= before["pool_size"]
        assert after["reserve_pool_size"] >= before["reserve_pool_size"]
    for key in ("default_pool_size", "reserve_pool_size", "min_pool_size", "max_db_connections"):
        assert large["pgbouncer"][key] >= small["pgbouncer"][key]
    if "pgpool" in data:
        assert (
            large["pgpool"]["num_init_children"] * large["pgpool"]["max_pool"]
            >= small["pgpool"]["num_init_children"] * small["pgpool"]["max_pool"]
        )


# ----------------------------------------------------------------- too small


@SETTINGS
@given(topologies())
def test_too_small_budget_names_the_max_connections_that_works(data):
    try:
        size_dict(data)
    except PoolkitError as exc:
        match = re.search(r"expected max_connections >= (\d+)$", str(exc))
        assert match, str(exc)
        needed = int(match.group(1))
        assert needed > data["database"]["max_connections"]
        enough = copy.deepcopy(data)
        enough["database"]["max_connections"] = needed
        size_dict(enough)  # the suggested value works ...
        if needed - 1 > sum(
            data["database"][k] for k in ("superuser_reserved_connections", "reserved_connections")
        ):
            short = copy.deepcopy(data)
            short["database"]["max_connections"] = needed - 1
            try:  # ... and is the smallest that does
                size_dict(short)
            except PoolkitError:
                pass
            else:
                raise AssertionError(f"max_connections {needed - 1} works too") from exc
    else:
        pools = len(data.get("pools", [None]))
        assert budget(data) >= processes(data) * pools


@SETTINGS
@given(topologies())
def test_all_figures_are_integers(data):
    result = sized(data)

    def walk(value: Any, path: str) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                walk(item, f"{path}.{key}")
        elif isinstance(value, list):
            for item in value:
                walk(item, path)
        elif not path.endswith(("database", "user", "name", "pool_mode")):
            assert type(value) is int, path

    for section in ("pgbouncer", "pgpool", "limits", "budget", "clients"):
        if section in result:
            walk(result[section], section)
