"""`poolkit clients` against the real poolers: each library, with the settings the plan
gives for this host's PgBouncer (its own version) or Pgpool-II, runs more threads (or
tasks) than its pool through TLS verify-full and must see no error; and the hazards
docs/transaction-pooling.md describes happen as it says (a session SET seen by another
client, named prepared statements colliding before PgBouncer 1.21), so the page cannot
drift from behaviour. The settings come from poolkit.clients' pure functions, never copied.
"""

from __future__ import annotations

import asyncio
import ssl
import sys
import threading
import time
import uuid
from typing import Any

import psycopg
import pytest
from conftest import APP_PASSWORD

from poolkit.clients import Code, Library, plan_clients, prepared_support, resolve_pooler
from poolkit.sizing import size
from poolkit.topology import parse_topology

#: Transactions each thread or task runs: with 2x the pool's threads, 40 per connection,
#: past psycopg's prepare_threshold (5) where the plan keeps it.
TRANSACTIONS = 20
#: Connections per process for the plan: above PgBouncer's default_pool_size (3, converge.yml)
#: so clients share server connections; below Pgpool-II's num_init_children (4).
PER_PROCESS = {"pgbouncer": 5, "pgpool": 3}
STATEMENT_TIMEOUT = "5s"


# ------------------------------------------------------------------ the plan and connections


def pgbouncer_version(host) -> str:
    return host.check_output("pgbouncer --version").splitlines()[0]


def plan_for(host, service: str) -> tuple[Any, Any]:
    """(plan, topology) for one app whose processes hold PER_PROCESS[service] connections
    behind this host's PgBouncer (its version) or Pgpool-II."""
    topology = parse_topology(
        {
            "database": {"max_connections": 60, "cpu_cores": 2},
            "poolers": {"hosts": 1, "processes_per_host": 1},
            "pgpool": {"nodes": 1},
            "pools": [{"database": "app", "user": "app"}],
            "apps": [
                {
                    "name": "conformance",
                    "instances": 1,
                    "processes": 1,
                    "connections_per_process": PER_PROCESS[service],
                }
            ],
        }
    )
    if service == "pgpool":
        pooler = resolve_pooler(topology, pooler="pgpool")
    else:
        pooler = resolve_pooler(topology, pgbouncer_version=pgbouncer_version(host))
    return plan_clients(size(topology), pooler), topology


def library(plan, key: str) -> Library:
    (app,) = plan.apps
    return next(lib for lib in app.libraries if lib.key == key)


def arguments(lib: Library, group: str = "") -> dict[str, Any]:
    """The settings of one call (top level, or one group) with code evaluated."""
    from psycopg_pool import ConnectionPool
    from sqlalchemy.pool import NullPool

    names = {"uuid4": uuid.uuid4, "NullPool": NullPool, "ConnectionPool": ConnectionPool}
    args = {}
    for s in lib.settings:
        if s.group == group:
            code = isinstance(s.value, Code)
            args[s.name] = eval(s.value, names) if code else s.value
    return args


class _NamedContext(ssl.SSLContext):
    """Verifies the server's certificate for `server_name` while connecting to 127.0.0.1
    (asyncpg takes the host it connects to as the TLS name)."""

    server_name = ""

    def wrap_bio(self, incoming, outgoing, server_side=False, server_hostname=None, session=None):
        return super().wrap_bio(incoming, outgoing, server_side, self.server_name, session)


@pytest.fixture
def target(host, hostvars, ca_file):
    """target(service): the connection parameters (libpq's, asyncpg's, Django's) of this
    host's 'pgbouncer' or 'pgpool', TLS verify-full against the lab CA."""

    def get(service):
        if service == "pgpool" and "pgpool" not in hostvars["group_names"]:
            pytest.skip(f"{host.backend.host} runs no Pgpool-II (molecule.yml groups)")
        port = hostvars["test_bouncer_port" if service == "pgbouncer" else "test_pgpool_port"]
        context = _NamedContext(ssl.PROTOCOL_TLS_CLIENT)
        context.load_verify_locations(ca_file)
        context.server_name = host.backend.host
        libpq = {
            "host": host.backend.host,
            "hostaddr": "127.0.0.1",
            "port": port,
            "user": "app",
            "password": APP_PASSWORD,
            "dbname": "app",
            "sslmode": "verify-full",
            "sslrootcert": ca_file,
            "connect_timeout": 10,
        }
        asyncpg_args = {
            "host": "127.0.0.1",
            "port": port,
            "user": "app",
            "password": APP_PASSWORD,
            "database": "app",
            "ssl": context,
        }
        return libpq, asyncpg_args

    return get


# ------------------------------------------------------------------ load


class Load:
    """Transactions and errors of one library's run (errors as text, first few kept)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.done = 0
        self.errors: list[str] = []

    def run(self, work, i: int) -> None:
        try:
            work(i)
        except Exception as exc:
            with self.lock:
                self.errors.append(f"{type(exc).__name__}: {exc}".strip())
        else:
            with self.lock:
                self.done += 1

    def threads(self, count: int, work, transactions: int = TRANSACTIONS) -> None:
        def loop():
            for i in range(transactions):
                self.run(work, i)

        threads = [threading.Thread(target=loop) for _ in range(count)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()


def check(row, i: int) -> None:
    """A transaction's row: the parameter's successor, and its SET LOCAL in force."""
    if tuple(row) != (i + 1, STATEMENT_TIMEOUT):
        raise AssertionError(f"row {tuple(row)!r}, expected {(i + 1, STATEMENT_TIMEOUT)!r}")


SET_LOCAL = f"SET LOCAL statement_timeout = '{STATEMENT_TIMEOUT}'"
QUERY = "SELECT CAST(%s AS int) + 1, current_setting('statement_timeout')"


def run_sqlalchemy(lib, libpq, asyncpg_args, load):
    from sqlalchemy import create_engine, text

    kwargs = arguments(lib)
    connect_args = {**libpq, **arguments(lib, "connect_args")}
    engine = create_engine("postgresql+psycopg://", connect_args=connect_args, **kwargs)
    query = text("SELECT CAST(:n AS int) + 1, current_setting('statement_timeout')")

    def work(i):
        with engine.begin() as conn:
            conn.execute(text(SET_LOCAL))
            check(conn.execute(query, {"n": i}).one(), i)

    try:
        load.threads(2 * lib.max_connections, work)
    finally:
        engine.dispose()


def run_sqlalchemy_asyncio(lib, libpq, asyncpg_args, load):
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    kwargs = arguments(lib)
    connect_args = {**asyncpg_args, **arguments(lib, "connect_args")}
    query = text("SELECT CAST(:n AS int) + 1, current_setting('statement_timeout')")

    async def main():
        engine = create_async_engine("postgresql+asyncpg://", connect_args=connect_args, **kwargs)

        async def work(i):
            async with engine.begin() as conn:
                await conn.execute(text(SET_LOCAL))
                check((await conn.execute(query, {"n": i})).one(), i)

        try:
            await tasks(2 * lib.max_connections, work, load)
        finally:
            await engine.dispose()

    asyncio.run(main())


async def tasks(count, work, load):
    async def loop():
        for i in range(TRANSACTIONS):
            try:
                await work(i)
            except Exception as exc:
                load.errors.append(f"{type(exc).__name__}: {exc}".strip())
            else:
                load.done += 1

    await asyncio.gather(*(loop() for _ in range(count)))


def run_asyncpg(lib, libpq, asyncpg_args, load):
    import asyncpg

    acquire = arguments(lib, "acquire")

    async def main():
        pool = await asyncpg.create_pool(**asyncpg_args, **arguments(lib))

        async def work(i):
            async with pool.acquire(**acquire) as conn, conn.transaction():
                await conn.execute(SET_LOCAL)
                check(await conn.fetchrow(QUERY.replace("%s", "$1"), i), i)

        try:
            await tasks(2 * lib.max_connections, work, load)
        finally:
            await pool.close()

    asyncio.run(main())


def run_psycopg(lib, libpq, asyncpg_args, load):
    from psycopg_pool import ConnectionPool

    kwargs = arguments(lib)
    pool = ConnectionPool(
        psycopg.conninfo.make_conninfo(**libpq), kwargs=arguments(lib, "kwargs"), **kwargs
    )

    def work(i):
        with pool.connection() as conn:
            conn.execute(SET_LOCAL)
            check(conn.execute(QUERY, (i,)).fetchone(), i)

    try:
        load.threads(2 * lib.max_connections, work)
    finally:
        pool.close()


def run_psycopg2(lib, libpq, asyncpg_args, load):
    from psycopg2.pool import ThreadedConnectionPool

    kwargs = arguments(lib)
    pool = ThreadedConnectionPool(kwargs["minconn"], kwargs["maxconn"], **libpq)
    # getconn() raises PoolError past maxconn instead of waiting (the plan's note): the
    # app bounds its own concurrency.
    slots = threading.BoundedSemaphore(kwargs["maxconn"])

    def work(i):
        with slots:
            conn = pool.getconn()
            try:
                with conn, conn.cursor() as cur:
                    cur.execute(SET_LOCAL)
                    cur.execute(QUERY, (i,))
                    check(cur.fetchone(), i)
            finally:
                pool.putconn(conn)

    try:
        load.threads(2 * lib.max_connections, work)
    finally:
        pool.closeall()


def run_django(lib, libpq, asyncpg_args, load):
    """Django keeps a connection per thread: at most max_connections threads (its bound)."""
    import django
    from django.conf import settings

    if not settings.configured:
        # Django requires a default database; the aliases are added below.
        settings.configure(DATABASES={"default": {"ENGINE": "django.db.backends.dummy"}})
        django.setup()
    from django.db import connections, transaction

    alias = f"conformance-{uuid.uuid4().hex[:8]}"
    options = {k: libpq[k] for k in ("hostaddr", "sslmode", "sslrootcert", "connect_timeout")}
    settings.DATABASES[alias] = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": libpq["dbname"],
        "USER": libpq["user"],
        "PASSWORD": libpq["password"],
        "HOST": libpq["host"],
        "PORT": libpq["port"],
        "OPTIONS": options,
        **arguments(lib),
    }
    connections.__dict__.pop("settings", None)  # read DATABASES again, with the new alias

    def work(i):
        with transaction.atomic(using=alias), connections[alias].cursor() as cur:
            cur.execute(SET_LOCAL)
            cur.execute(QUERY, [i])
            check(cur.fetchone(), i)

    def loop():
        try:
            for i in range(TRANSACTIONS):
                load.run(work, i)
        finally:
            connections[alias].close()

    threads = [threading.Thread(target=loop) for _ in range(lib.max_connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


RUNNERS = {
    "sqlalchemy": run_sqlalchemy,
    "sqlalchemy_asyncio": run_sqlalchemy_asyncio,
    "asyncpg": run_asyncpg,
    "psycopg": run_psycopg,
    "psycopg2": run_psycopg2,
    "django": run_django,
}


@pytest.mark.parametrize("service", ["pgbouncer", "pgpool"])
@pytest.mark.parametrize("key", list(RUNNERS))
def test_clients_settings_run_without_errors(host, target, service, key):
    """The library with the plan's settings, 2x its pool's threads or tasks (Django: its
    bound, a thread per connection), SET LOCAL and a parameter per transaction: 0 errors."""
    libpq, asyncpg_args = target(service)
    plan, _ = plan_for(host, service)
    lib = library(plan, key)
    load = Load()
    start = time.monotonic()
    RUNNERS[key](lib, libpq, asyncpg_args, load)
    seconds = time.monotonic() - start
    shown = ", ".join(f"{s.group + '.' if s.group else ''}{s.name}={s.value}" for s in lib.settings)
    print(
        f"\n{host.backend.host} {service} {key}: {load.done} transactions, "
        f"{len(load.errors)} errors in {seconds:.1f} s ({shown})"
    )
    assert load.errors == [], load.errors[:5]
    assert load.done > 0


# ------------------------------------------------------------------ the documented hazards


@pytest.mark.parametrize("service", ["pgbouncer", "pgpool"])
def test_clients_session_set_reaches_another_client_only_through_transaction_pooling(
    connect, service
):
    """docs/transaction-pooling.md, SET and RESET: through PgBouncer's transaction pooling a
    client's SET stays on the server connection and the next client there sees it (LIFO
    reuse); Pgpool-II keeps each client's session, so the other client does not."""
    setter, other = connect(service), connect(service)
    try:
        setter.execute("SET lock_timeout = '4321ms'")
        seen = []
        for _ in range(5):
            with other.transaction():
                value = other.execute("SHOW lock_timeout").fetchone()[0]
                seen.append(value)
                if value == "4321ms":
                    other.execute("RESET lock_timeout")  # leave the server connection clean
                    break
        kept = setter.execute("SHOW lock_timeout").fetchone()[0]
    finally:
        setter.close()
        other.close()
    print(f"\n{service}: another client saw lock_timeout {seen}; the setter's own: {kept}")
    if service == "pgbouncer":
        assert "4321ms" in seen
    else:
        assert "4321ms" not in seen
        assert kept == "4321ms"


def test_clients_named_prepared_statements_collide_without_pgbouncer_tracking(host, connect):
    """docs/transaction-pooling.md, Named prepared statements: psycopg preparing at once
    (prepare_threshold=0, not the plan's setting below 1.22), from two clients in turn,
    fails where the plan says PgBouncer does not carry them (1.18) and works where it
    does (1.24+)."""
    plan, topology = plan_for(host, "pgbouncer")
    status, reason = prepared_support(topology, plan.pooler)
    errors = []
    clients = [connect("pgbouncer", prepare_threshold=0) for _ in range(2)]
    try:
        for i in range(3):
            for conn in clients:
                try:
                    assert conn.execute("SELECT %s::int", (i,)).fetchone() == (i,)
                except psycopg.errors.DatabaseError as exc:
                    errors.append(str(exc).splitlines()[0])
    finally:
        for conn in clients:
            conn.close()
    print(f"\n{pgbouncer_version(host)}: prepared statements {status} ({reason}); {errors[:3]}")
    if status == "supported":
        assert errors == []
    else:
        assert errors, "named prepared statements worked where the plan says they cannot"
        assert all("prepared statement" in e for e in errors), errors


# ------------------------------------------------------------------ poolkit.apppool


def scrape(registry) -> list[str]:
    from prometheus_client import generate_latest

    return generate_latest(registry).decode().splitlines()


def test_clients_apppool_reports_a_leaked_checkout_with_its_code_location(host, target):
    """poolkit.apppool on a psycopg_pool and a SQLAlchemy pool (the plan's settings) under
    load through PgBouncer: the metrics report the pool's figures and a checkout leaked
    here (a transaction left open, what `poolkit status` sees at the pooler as a client
    holding its server connection) with this file, line and function."""
    from prometheus_client import CollectorRegistry
    from psycopg_pool import ConnectionPool
    from sqlalchemy import create_engine, text

    from poolkit.apppool import instrument_psycopg_pool, instrument_sqlalchemy

    libpq, _ = target("pgbouncer")
    plan, _ = plan_for(host, "pgbouncer")
    registry = CollectorRegistry()
    psy = library(plan, "psycopg")
    pool = ConnectionPool(
        psycopg.conninfo.make_conninfo(**libpq), kwargs=arguments(psy, "kwargs"), **arguments(psy)
    )
    alchemy = library(plan, "sqlalchemy")
    engine = create_engine(
        "postgresql+psycopg://",
        connect_args={**libpq, **arguments(alchemy, "connect_args")},
        **arguments(alchemy),
    )
    bound = 0.5
    instrument_psycopg_pool(pool, name="jobs", hold_bound=bound, registry=registry)
    instrument_sqlalchemy(engine, name="web", hold_bound=bound, registry=registry)
    load = Load()
    try:
        leaked_line = sys._getframe().f_lineno + 1
        leaked = pool.getconn()
        leaked.execute("SELECT 1")  # a transaction left open
        engine_line = sys._getframe().f_lineno + 1
        leaked_engine = engine.connect()
        leaked_engine.execute(text("SELECT 1"))

        def work(i):
            with pool.connection() as conn:
                conn.execute("SELECT pg_sleep(0.005)")
            with engine.begin() as conn:
                conn.execute(text("SELECT pg_sleep(0.005)"))

        # The two leaks hold 2 of PgBouncer's 3 server connections (idle in transaction):
        # the load shares the third.
        load.threads(2 * psy.max_connections, work, transactions=8)
        time.sleep(bound)
        lines = scrape(registry)
    finally:
        pool.putconn(leaked)
        leaked_engine.close()
        pool.close()
        engine.dispose()
    shown = [line for line in lines if line.startswith("poolkit_app_pool_")]
    print("\n" + "\n".join(shown))
    assert load.errors == [], load.errors[:5]
    here = __file__
    function = "test_clients_apppool_reports_a_leaked_checkout_with_its_code_location"
    for name, line in (("jobs", leaked_line), ("web", engine_line)):
        labels = f'file="{here}",function="{function}",line="{line}",pool="{name}"'
        assert f"poolkit_app_pool_long_checkouts{{{labels}}} 1.0" in lines, (name, shown)
        # Only the leak is held past the bound: the load's checkouts all came back.
        long = [
            s
            for s in shown
            if s.startswith("poolkit_app_pool_long_checkouts{") and f'pool="{name}"' in s
        ]
        assert len(long) == 1, long
    figures = {line.split(" ")[0]: float(line.split(" ")[1]) for line in shown if "{pool=" in line}
    for name in ("jobs", "web"):
        assert figures[f'poolkit_app_pool_max_connections{{pool="{name}"}}'] == psy.max_connections
        assert figures[f'poolkit_app_pool_checkouts_total{{pool="{name}"}}'] > load.done / 2
        # 2x the pool's threads, one connection leaked: checkouts waited.
        assert figures[f'poolkit_app_pool_waits_total{{pool="{name}"}}'] > 0


def test_clients_apppool_locates_a_leak_under_sqlalchemy_asyncio(host, target):
    """Under create_async_engine the pool runs in a greenlet: the location is still the
    coroutine that awaited the checkout."""
    from prometheus_client import CollectorRegistry
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    from poolkit.apppool import instrument_sqlalchemy

    _, asyncpg_args = target("pgbouncer")
    plan, _ = plan_for(host, "pgbouncer")
    lib = library(plan, "sqlalchemy_asyncio")
    registry = CollectorRegistry()

    async def leak():
        engine = create_async_engine(
            "postgresql+asyncpg://",
            connect_args={**asyncpg_args, **arguments(lib, "connect_args")},
            **arguments(lib),
        )
        health = instrument_sqlalchemy(engine, name="api", hold_bound=0.2, registry=registry)
        line = sys._getframe().f_lineno + 1
        conn = await engine.connect()
        try:
            await conn.execute(text("SELECT 1"))
            await asyncio.sleep(0.3)
            return line, health.long_checkouts()
        finally:
            await conn.close()
            await engine.dispose()

    line, long = asyncio.run(leak())
    print(f"\n{long}")
    assert [(str(r.location), r.count) for r in long] == [(f"{__file__}:{line} in leak", 1)]
