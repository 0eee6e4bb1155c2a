"""`poolkit.clients` and `poolkit.render_clients`: the client settings per app and library.

The most connections a library's settings let one process open is recomputed here from
the settings themselves, with each library's own rule, not taken from the plan's figure.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from topologies import MIXED

from poolkit import PoolkitError
from poolkit.clients import (
    LIBRARIES,
    PGBOUNCER_CLIENT_IDLE_TIMEOUT,
    PGBOUNCER_SERVER_LIFETIME,
    PGPOOL,
    PGPOOL_CLIENT_IDLE_LIMIT,
    POOL_MODES,
    SERVERLESS_CONNECT_TIMEOUT,
    TRANSACTION_POOLING,
    ClientPlan,
    Library,
    plan_clients,
    resolve_pooler,
)
from poolkit.render_clients import env_pairs, plan_dict, render
from poolkit.sizing import POOL_MODE, size, size_dict
from poolkit.topology import parse_topology

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = yaml.safe_load((REPO / "examples" / "topology.yml").read_text(encoding="utf-8"))
COMPOSE = yaml.safe_load((REPO / "compose" / "topology.yml").read_text(encoding="utf-8"))
POOLER_OPTIONS = (
    "pooler",
    "pgbouncer_version",
    "pool_mode",
    "max_prepared_statements",
    "server_lifetime",
    "client_idle_timeout",
    "sslmode",
)

PROPERTY = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def plan_for(data: dict[str, Any] = EXAMPLE, **options: Any) -> ClientPlan:
    """The plan for `data`; pooler options as the CLI passes them (text), the rest as
    tuples."""
    topology = parse_topology(data)
    pooler = resolve_pooler(topology, **{k: v for k, v in options.items() if k in POOLER_OPTIONS})
    rest = {k: tuple(v) for k, v in options.items() if k not in POOLER_OPTIONS}
    return plan_clients(size(topology), pooler, **rest)


def library(plan: ClientPlan, app: str, key: str) -> Library:
    return next(lib for a in plan.apps if a.name == app for lib in a.libraries if lib.key == key)


def opened_at_most(lib: Library) -> int:
    """The most connections one process opens with these settings, by the library's rule."""
    if lib.key in ("sqlalchemy", "sqlalchemy_asyncio"):
        return lib.value("pool_size") + lib.value("max_overflow")  # QueuePool
    if lib.key in ("asyncpg", "psycopg"):
        return lib.value("max_size")
    return lib.value("maxconn")  # psycopg2's ThreadedConnectionPool


def kept_open(lib: Library) -> int:
    """The connections a process keeps while idle."""
    names = {"sqlalchemy": "pool_size", "sqlalchemy_asyncio": "pool_size", "psycopg2": "minconn"}
    return lib.value(names.get(lib.key, "min_size"))


# ----------------------------------------------------------------- generated topologies


@st.composite
def cases(draw) -> tuple[dict[str, Any], dict[str, Any]]:
    """A topology that `poolkit size` accepts, and options for `poolkit clients`."""
    apps: list[dict[str, Any]] = []
    for index in range(draw(st.integers(1, 3))):
        if draw(st.booleans()):
            apps.append(
                {
                    "name": f"app{index}",
                    "instances": draw(st.integers(1, 8)),
                    "processes": draw(st.integers(1, 8)),
                    "connections_per_process": draw(st.integers(1, 40)),
                }
            )
        else:
            apps.append(
                {
                    "name": f"fn{index}",
                    "serverless_concurrency": draw(st.integers(1, 500)),
                    "connections_per_invocation": draw(st.integers(1, 3)),
                }
            )
    data: dict[str, Any] = {
        "database": {"max_connections": 2000, "cpu_cores": draw(st.integers(1, 32))},
        "poolers": {"hosts": draw(st.integers(1, 3)), "processes_per_host": 2},
        "apps": apps,
    }
    if draw(st.booleans()):
        data["poolers"]["version"] = draw(
            st.sampled_from(["1.18.0", "1.20.1", "1.21.0", "1.22.1", "1.24.1", "1.26.1"])
        )
    seconds = st.none() | st.just("0") | st.integers(2, 7200).map(str)
    options: dict[str, Any] = {"client_idle_timeout": draw(seconds)}
    if draw(st.booleans()):
        data["pgpool"] = {}
        options["pooler"] = "pgpool"
    else:
        options["pool_mode"] = draw(st.sampled_from([None, *POOL_MODES]))
        options["server_lifetime"] = draw(seconds)
        options["max_prepared_statements"] = draw(st.none() | st.sampled_from(["0", "200"]))
    names = [a["name"] for a in apps]
    options["serverless"] = draw(st.lists(st.sampled_from(names), unique=True))
    return data, options


@PROPERTY
@given(cases())
def test_no_library_lets_an_app_open_more_than_the_topology_counted(case):
    data, options = case
    plan = plan_for(data, **options)
    counted = {a.name: a.connections for a in parse_topology(data).apps}
    for app in plan.apps:
        assert app.connections == counted[app.name]
        for lib in app.libraries:
            if lib.enforced:
                assert opened_at_most(lib) <= app.per_unit, (app.name, lib)
            else:  # one connection per connect() / thread / NullPool checkout
                assert lib.max_connections == app.per_unit


@PROPERTY
@given(cases())
def test_every_pool_keeps_between_one_and_its_maximum_open(case):
    """asyncpg refuses min_size > max_size, and SQLAlchemy reads pool_size=0 as no limit."""
    data, options = case
    for app in plan_for(data, **options).apps:
        for lib in app.libraries:
            if lib.enforced:
                assert 1 <= kept_open(lib) <= opened_at_most(lib)


@PROPERTY
@given(cases())
def test_connection_lifetimes_stay_below_the_poolers_limits(case):
    data, options = case
    plan = plan_for(data, **options)
    pooler = plan.pooler
    limits = [pooler.client_idle_timeout]
    if pooler.kind == "pgbouncer":
        limits.append(pooler.server_lifetime)
    for app in plan.apps:
        for lib in app.libraries:
            for s in lib.settings:
                if s.name in ("pool_recycle", "max_lifetime", "CONN_MAX_AGE") and s.value:
                    assert all(s.value < limit for limit in limits if limit > 0), (lib, limits)


@PROPERTY
@given(cases())
def test_libraries_that_share_an_env_name_agree_on_its_value(case):
    data, options = case
    for app in plan_for(data, **options).apps:
        env_pairs(app)  # ValueError on a disagreement


@PROPERTY
@given(cases())
def test_snippets_are_python(case):
    data, options = case
    ast.parse(render(plan_for(data, **options), "snippets"))


# ----------------------------------------------------------------- prepared statements


@pytest.mark.parametrize("version", ["1.18.0", "1.20.1"])
def test_asyncpg_statement_cache_is_off_below_1_21_in_transaction_mode(version):
    plan = plan_for(pgbouncer_version=version)
    assert library(plan, "web", "asyncpg").value("statement_cache_size") == 0


@pytest.mark.parametrize("version", ["1.18.0", "1.20.1"])
def test_sqlalchemy_asyncpg_turns_its_own_cache_off_and_names_statements_uniquely(version):
    lib = library(plan_for(pgbouncer_version=version), "web", "sqlalchemy_asyncio")
    assert lib.value("statement_cache_size", "connect_args") == 0
    assert lib.value("prepared_statement_cache_size", "connect_args") == 0
    assert "uuid4()" in lib.value("prepared_statement_name_func", "connect_args")


@pytest.mark.parametrize(
    ("version", "max_prepared"), [("1.21.0", "100"), ("1.24.1", None), ("1.26.1", None)]
)
def test_asyncpg_keeps_its_statement_cache_from_1_21_with_prepared_statements(
    version, max_prepared
):
    plan = plan_for(pgbouncer_version=version, max_prepared_statements=max_prepared)
    for key in ("asyncpg", "sqlalchemy_asyncio"):
        names = {s.name for s in library(plan, "web", key).settings}
        assert not names & {"statement_cache_size", "prepared_statement_cache_size"}


def test_asyncpg_statement_cache_is_off_on_1_22_without_max_prepared_statements():
    """max_prepared_statements defaults to 0 before 1.24."""
    plan = plan_for(pgbouncer_version="1.22.1")
    assert library(plan, "web", "asyncpg").value("statement_cache_size") == 0


def test_asyncpg_statement_cache_is_off_when_max_prepared_statements_is_0():
    plan = plan_for(pgbouncer_version="1.24.1", max_prepared_statements="0")
    assert library(plan, "web", "asyncpg").value("statement_cache_size") == 0


def test_an_unknown_version_turns_prepared_statements_off():
    plan = plan_for(COMPOSE)
    assert plan.prepared == "unknown"
    assert library(plan, "dev", "asyncpg").value("statement_cache_size") == 0
    assert library(plan, "dev", "psycopg").value("prepare_threshold", "kwargs") is None


def test_the_version_option_wins_over_the_topology():
    plan = plan_for(pgbouncer_version="1.20.1")  # examples/topology.yml says 1.24.1
    assert plan.pooler.version == (1, 20, 1)
    assert plan.prepared == "unsupported"


def test_the_version_option_reads_pgbouncer_version_output():
    plan = plan_for(pgbouncer_version="PgBouncer 1.24.1\nlibevent 2.1.12-stable")
    assert plan.pooler.version == (1, 24, 1)


def test_psycopg_prepare_threshold_stays_off_on_1_21():
    """psycopg keeps prepared statements through PgBouncer only from 1.22 (its docs)."""
    plan = plan_for(pgbouncer_version="1.21.0", max_prepared_statements="100")
    assert library(plan, "web", "psycopg").value("prepare_threshold", "kwargs") is None
    assert library(plan, "web", "sqlalchemy").value("prepare_threshold", "connect_args") is None


def test_psycopg_keeps_prepare_threshold_from_1_22_with_prepared_statements():
    plan = plan_for(pgbouncer_version="1.22.1", max_prepared_statements="100")
    assert "prepare_threshold" not in {s.name for s in library(plan, "web", "psycopg").settings}


# ----------------------------------------------------------------- lifetimes


@pytest.mark.parametrize("lifetime", ["2", "60", "3600", "86400"])
def test_pool_recycle_is_below_server_lifetime(lifetime):
    plan = plan_for(server_lifetime=lifetime)
    assert 0 < library(plan, "web", "sqlalchemy").value("pool_recycle") < int(lifetime)


def test_pool_recycle_defaults_below_pgbouncers_server_lifetime_default():
    assert library(plan_for(), "web", "sqlalchemy").value("pool_recycle") < 3600


def test_pool_recycle_is_below_client_idle_timeout():
    plan = plan_for(client_idle_timeout="300")
    assert library(plan, "web", "sqlalchemy").value("pool_recycle") < 300
    assert library(plan, "web", "psycopg").value("max_lifetime") < 300
    assert library(plan, "web", "django").value("CONN_MAX_AGE") < 300


def test_server_lifetime_0_leaves_pool_recycle_off():
    """server_lifetime = 0 means "use a server connection once", no limit for clients."""
    plan = plan_for(server_lifetime="0")
    assert library(plan, "web", "sqlalchemy").value("pool_recycle") == -1


def test_idle_limits_drop_below_a_short_client_idle_timeout():
    plan = plan_for(pool_mode="session", client_idle_timeout="100")
    assert library(plan, "web", "asyncpg").value("max_inactive_connection_lifetime") < 100
    assert library(plan, "web", "psycopg").value("max_idle") < 100


def test_idle_limits_keep_the_library_defaults_without_client_idle_timeout():
    names = {s.name for s in library(plan_for(), "web", "asyncpg").settings}
    assert "max_inactive_connection_lifetime" not in names


# ----------------------------------------------------------------- pool modes


def test_transaction_pooling_keeps_every_connection_of_a_process_open():
    lib = library(plan_for(), "web", "sqlalchemy")
    assert (lib.value("pool_size"), lib.value("max_overflow")) == (10, 0)


def test_transaction_pooling_gives_the_sqlalchemy_pools_poolkit_size_prints():
    """poolkit size's client_settings: pool_size = connections per process, max_overflow 0."""
    sized = {a["name"]: a for a in size_dict(EXAMPLE)["client_settings"]["apps"]}
    for app in plan_for().apps:
        if not app.serverless:
            lib = library(plan_for(), app.name, "sqlalchemy")
            pool = {"pool_size": lib.value("pool_size"), "max_overflow": lib.value("max_overflow")}
            assert pool == sized[app.name]["sqlalchemy"]


def test_transaction_pooling_lists_what_breaks():
    assert plan_for().caveats == TRANSACTION_POOLING


def test_transaction_pooling_disables_djangos_server_side_cursors():
    assert library(plan_for(), "web", "django").value("DISABLE_SERVER_SIDE_CURSORS") is True


def test_session_pooling_gives_no_transaction_pooling_warnings():
    plan = plan_for(pool_mode="session", pgbouncer_version="1.18.0")
    assert plan.caveats == ()
    assert "transaction pooling breaks" not in render(plan, "text")
    assert "DISABLE_SERVER_SIDE_CURSORS" not in render(plan, "json")


def test_session_pooling_keeps_prepared_statements_on_any_version():
    plan = plan_for(pool_mode="session", pgbouncer_version="1.18.0")
    assert plan.prepared == "supported"
    assert "statement_cache_size" not in render(plan, "json")


def test_session_pooling_keeps_one_connection_per_process_open():
    lib = library(plan_for(pool_mode="session"), "web", "sqlalchemy")
    assert (lib.value("pool_size"), lib.value("max_overflow")) == (1, 9)


def test_session_pooling_says_when_the_apps_outnumber_the_server_connections():
    plan = plan_for(pool_mode="session")
    assert any("572 connections" in n and "query_wait_timeout" in n for n in plan.notes)


def test_the_default_pool_mode_is_the_one_poolkit_size_assumes():
    assert POOL_MODES[0] == POOL_MODE
    assert plan_for().pooler.pool_mode == POOL_MODE


# ----------------------------------------------------------------- Pgpool-II


def test_pgpool_lists_its_differences_instead_of_transaction_pooling():
    assert plan_for(pooler="pgpool").caveats == PGPOOL


def test_pgpool_keeps_one_connection_per_process_open():
    plan = plan_for(pooler="pgpool")
    assert kept_open(library(plan, "jobs", "asyncpg")) == 1
    assert kept_open(library(plan, "jobs", "psycopg2")) == 1


def test_pgpool_carries_prepared_statements():
    plan = plan_for(pooler="pgpool")
    assert plan.prepared == "supported"
    assert "statement_cache_size" not in render(plan, "json")


def test_pgpool_closes_django_connections_after_each_request():
    assert library(plan_for(pooler="pgpool"), "web", "django").value("CONN_MAX_AGE") == 0


def test_pgpool_says_when_the_apps_outnumber_its_children():
    """examples/topology.yml: 572 client connections, 96 children on 1 node."""
    plan = plan_for(pooler="pgpool")
    assert any("admits 96 client sessions" in n and "572" in n for n in plan.notes)


def test_pgpool_client_idle_limit_bounds_the_connection_lifetime():
    plan = plan_for(pooler="pgpool", client_idle_timeout="120")
    assert library(plan, "web", "sqlalchemy").value("pool_recycle") < 120


def test_pgpool_without_client_idle_limit_needs_no_recycle():
    assert library(plan_for(pooler="pgpool"), "web", "sqlalchemy").value("pool_recycle") == -1


# ----------------------------------------------------------------- serverless


def test_a_serverless_app_gets_a_null_pool():
    assert library(plan_for(), "api-fn", "sqlalchemy").value("poolclass") == "NullPool"


def test_a_serverless_app_connects_with_a_short_timeout_and_verified_tls():
    plan = plan_for()
    lib = library(plan, "api-fn", "psycopg")
    assert lib.value("connect_timeout") == SERVERLESS_CONNECT_TIMEOUT
    assert lib.value("sslmode") == "verify-full"
    assert library(plan, "api-fn", "asyncpg").value("ssl") == "verify-full"


def test_sslmode_require_is_an_option():
    lib = library(plan_for(sslmode="require"), "api-fn", "psycopg2")
    assert lib.value("sslmode") == "require"


def test_a_serverless_django_app_closes_its_connection_per_invocation():
    assert library(plan_for(), "api-fn", "django").value("CONN_MAX_AGE") == 0


def test_the_serverless_option_turns_a_process_app_serverless():
    plan = plan_for(serverless=["jobs"])
    jobs = next(a for a in plan.apps if a.name == "jobs")
    assert (jobs.serverless, jobs.flagged, jobs.units, jobs.per_unit) == (True, True, 16, 2)
    assert library(plan, "jobs", "sqlalchemy").value("poolclass") == "NullPool"


# ----------------------------------------------------------------- filters and defaults


def test_the_app_filter_keeps_the_topologys_order():
    plan = plan_for(apps=["api-fn", "web"])
    assert [a.name for a in plan.apps] == ["web", "api-fn"]


def test_the_library_filter_keeps_only_those_libraries():
    plan = plan_for(libraries=["django", "asyncpg"])
    assert {lib.key for a in plan.apps for lib in a.libraries} == {"asyncpg", "django"}


def test_every_app_gets_every_library_by_default():
    for app in plan_for(MIXED).apps:
        assert tuple(lib.key for lib in app.libraries) == tuple(LIBRARIES)


def test_pooler_defaults_are_the_roles_defaults():
    pgbouncer = yaml.safe_load((REPO / "roles/pgbouncer/defaults/main.yml").read_text())
    pgpool = yaml.safe_load((REPO / "roles/pgpool/defaults/main.yml").read_text())
    assert pgbouncer["pgbouncer_server_lifetime"] == PGBOUNCER_SERVER_LIFETIME
    assert pgbouncer["pgbouncer_client_idle_timeout"] == PGBOUNCER_CLIENT_IDLE_TIMEOUT
    assert pgbouncer["pgbouncer_pool_mode"] == POOL_MODES[0]
    assert pgpool["pgpool_client_idle_limit"] == PGPOOL_CLIENT_IDLE_LIMIT


# ----------------------------------------------------------------- bad input


def plan_error(**options: Any) -> str:
    with pytest.raises(PoolkitError) as caught:
        plan_for(**options)
    return str(caught.value)


@pytest.mark.parametrize(
    ("options", "start", "right"),
    [
        ({"pooler": "pgbouncr"}, "--pooler: ", "one of pgbouncer, pgpool"),
        ({"pgbouncer_version": "1.x"}, "--pgbouncer-version: ", "such as '1.24.1'"),
        ({"pgbouncer_version": "1.20"}, None, None),  # read as 1.20.0: fine
        ({"pool_mode": "sesion"}, "--pool-mode: ", "one of transaction, session"),
        ({"pool_mode": "statement"}, "--pool-mode: ", "expected transaction or session"),
        ({"server_lifetime": "-5"}, "--server-lifetime: ", "an integer >= 0"),
        ({"client_idle_timeout": "1.5"}, "--client-idle-timeout: ", "an integer >= 0"),
        ({"client_idle_timeout": "1"}, "--client-idle-timeout: ", "0 (off) or at least 2"),
        ({"max_prepared_statements": "many"}, "--max-prepared-statements: ", "an integer >= 0"),
        ({"sslmode": "disable"}, "--sslmode: ", "one of verify-full, require"),
        ({"apps": ["webb"]}, "--app 'webb': ", "expected one of web, jobs, api-fn"),
        ({"serverless": ["nope"]}, "--serverless 'nope': ", "expected one of web, jobs, api-fn"),
        ({"libraries": ["sqlalchemy2"]}, "--library 'sqlalchemy2': ", "one of sqlalchemy, "),
        ({"pooler": "pgpool", "pool_mode": "session"}, "--pool-mode: ", "--pooler pgbouncer"),
        ({"pooler": "pgpool", "server_lifetime": "60"}, "--server-lifetime: ", "drop"),
    ],
)
def test_bad_input_names_the_option_and_what_would_be_right(options, start, right):
    if start is None:
        plan_for(**options)
        return
    message = plan_error(**options)
    assert message.startswith(start), message
    assert right in message, message


def test_pgpool_needs_a_pgpool_section():
    with pytest.raises(PoolkitError, match=r"^--pooler pgpool: the topology has no pgpool"):
        plan_for(MIXED, pooler="pgpool")


def test_a_close_app_name_is_suggested():
    assert "(did you mean web?)" in plan_error(apps=["webb"])


def test_app_names_that_make_the_same_env_prefix_are_refused():
    data = {
        **MIXED,
        "apps": [
            {"name": "api-fn", "serverless_concurrency": 5},
            {"name": "api_fn", "serverless_concurrency": 5},
        ],
    }
    with pytest.raises(PoolkitError, match=r"^apps 'api-fn' and 'api_fn': both become"):
        render(plan_for(data), "env")


# ----------------------------------------------------------------- renderings


def test_text_shows_each_app_and_library():
    text = render(plan_for(), "text", source="examples/topology.yml")
    assert text.startswith("poolkit clients examples/topology.yml: PgBouncer 1.24.1, transaction")
    for name in ("web: 24 processes", "jobs: 16 processes", "api-fn: 300 concurrent"):
        assert name in text
    assert all(title in text for title in LIBRARIES.values())


def test_json_carries_each_librarys_settings_and_bound():
    data = json.loads(render(plan_for(), "json"))
    web = data["apps"][0]["libraries"]["sqlalchemy"]
    assert web["settings"]["pool_size"] == 10
    assert (web["max_connections"], web["enforced"]) == (10, True)
    assert data == plan_dict(plan_for())


def test_json_groups_connect_args():
    data = json.loads(render(plan_for(COMPOSE), "json"))
    psycopg = data["apps"][0]["libraries"]["psycopg"]["settings"]
    assert psycopg["kwargs"] == {"prepare_threshold": None}


def test_env_files_name_settings_per_app():
    lines = render(plan_for(), "env").splitlines()
    assert "POOLKIT_WEB_POOL_SIZE=10" in lines
    assert "POOLKIT_JOBS_MAX_SIZE=2" in lines
    assert "POOLKIT_API_FN_CONNECT_TIMEOUT=5" in lines


def test_env_files_spell_none_and_booleans():
    lines = render(plan_for(COMPOSE), "env").splitlines()
    assert "POOLKIT_DEV_PREPARE_THRESHOLD=none" in lines
    assert "POOLKIT_DEV_POOL_PRE_PING=true" in lines


def test_env_files_leave_code_out():
    assert "NullPool" not in "".join(
        line for line in render(plan_for(), "env").splitlines() if not line.startswith("#")
    )


def test_snippets_carry_the_settings():
    text = render(plan_for(COMPOSE), "snippets")
    assert "    pool_size=10," in text
    assert 'kwargs={"prepare_threshold": None},' in text
    assert "from uuid import uuid4" in text
