"""Each library's settings for one process (or serverless invocation), one function each,
with the library behaviour it relies on in its docstring, and the notes on what the
settings cannot say.

Pure: each reads the connections `poolkit size` counted per process and the `Context` of
the plan (`poolkit.clients.plan_clients` builds it) and returns a `Library`.
"""

from __future__ import annotations

from typing import Any

from poolkit.clients_base import (
    ASYNCPG_MAX_INACTIVE,
    POOL_TIMEOUT,
    PSYCOPG_POOL_MAX_IDLE,
    SERVERLESS_CONNECT_TIMEOUT,
    SQLALCHEMY_NO_RECYCLE,
    UNIQUE_STATEMENT_NAMES,
    AppPlan,
    Code,
    Context,
    Library,
    Setting,
    warm_connections,
)


def _s(name: str, value: Any, group: str = "", env: str | None = "") -> Setting:
    """A setting; its env name defaults to NAME (none for code)."""
    if env == "":
        env = None if isinstance(value, Code) else name.upper()
    return Setting(name, value, env, group)


def _libpq_serverless(ctx: Context, group: str) -> list[Setting]:
    """libpq's connect_timeout and sslmode (psycopg, psycopg2, Django OPTIONS)."""
    return [
        _s("connect_timeout", SERVERLESS_CONNECT_TIMEOUT, group),
        _s("sslmode", ctx.pooler.sslmode, group),
    ]


def _asyncpg_serverless(ctx: Context, group: str) -> list[Setting]:
    """asyncpg.connect's connect timeout and ssl (which takes libpq's sslmode names)."""
    return [
        _s("timeout", SERVERLESS_CONNECT_TIMEOUT, group, env="CONNECT_TIMEOUT"),
        _s("ssl", ctx.pooler.sslmode, group, env="SSLMODE"),
    ]


def _psycopg_prepare(ctx: Context, group: str) -> list[Setting]:
    """psycopg 3: prepare_threshold=None turns its automatic prepared statements off."""
    return [] if ctx.psycopg_prepares else [_s("prepare_threshold", None, group)]


def _asyncpg_prepare(ctx: Context, group: str, *, sqlalchemy: bool = False) -> list[Setting]:
    """asyncpg: statement_cache_size=0 (asyncpg FAQ, PgBouncer in transaction mode). Under
    SQLAlchemy also the dialect's own cache off and unique statement names, since it
    prepares every statement (SQLAlchemy docs, Prepared Statement Name with PGBouncer)."""
    if ctx.prepared == "supported":
        return []
    settings = [_s("statement_cache_size", 0, group)]
    if sqlalchemy:
        settings += [
            _s("prepared_statement_cache_size", 0, group),
            _s("prepared_statement_name_func", UNIQUE_STATEMENT_NAMES, group),
        ]
    return settings


def _sqlalchemy(key: str, per_unit: int, serverless: bool, ctx: Context) -> Library:
    """SQLAlchemy's create_engine (psycopg driver) or create_async_engine (asyncpg driver).

    QueuePool opens at most pool_size + max_overflow connections and closes an overflow
    connection returned to a full pool; pool_size=0 would mean no limit, and the warm count
    is never 0. NullPool opens a connection per checkout and closes it on return."""
    if key == "sqlalchemy":
        connect = _psycopg_prepare(ctx, "connect_args")
        if serverless:
            connect = _libpq_serverless(ctx, "connect_args") + connect
    else:
        connect = _asyncpg_prepare(ctx, "connect_args", sqlalchemy=True)
        if serverless:
            connect = _asyncpg_serverless(ctx, "connect_args") + connect
    if serverless:
        return Library(
            key,
            True,
            (_s("poolclass", Code("NullPool")), *connect),
            per_unit,
            f"NullPool: a connection per checkout, closed on return; the handler holds at "
            f"most {per_unit} at once",
            enforced=False,
        )
    warm = warm_connections(per_unit, ctx.pooler)
    settings = (
        _s("pool_size", warm),
        _s("max_overflow", per_unit - warm),
        _s("pool_timeout", POOL_TIMEOUT),
        _s("pool_recycle", SQLALCHEMY_NO_RECYCLE if ctx.recycle is None else ctx.recycle),
        _s("pool_pre_ping", True),
        *connect,
    )
    return Library(key, False, settings, warm + per_unit - warm, "pool_size + max_overflow", True)


def _asyncpg(per_unit: int, serverless: bool, ctx: Context) -> Library:
    """asyncpg.create_pool keeps min_size connections (min_size <= max_size, else
    ValueError) and opens at most max_size; acquire() waits forever unless given a timeout.
    Serverless: asyncpg.connect() per invocation."""
    if serverless:
        return Library(
            "asyncpg",
            True,
            (*_asyncpg_serverless(ctx, ""), *_asyncpg_prepare(ctx, "")),
            per_unit,
            f"asyncpg.connect() opens one connection; the handler opens at most {per_unit}",
            enforced=False,
        )
    warm = warm_connections(per_unit, ctx.pooler)
    settings = [_s("min_size", warm), _s("max_size", per_unit)]
    if ctx.idle is not None and ctx.idle < ASYNCPG_MAX_INACTIVE:
        settings.append(_s("max_inactive_connection_lifetime", ctx.idle))
    settings += _asyncpg_prepare(ctx, "")
    settings.append(_s("timeout", POOL_TIMEOUT, "acquire", env="POOL_TIMEOUT"))
    return Library("asyncpg", False, tuple(settings), per_unit, "max_size", True)


def _psycopg(per_unit: int, serverless: bool, ctx: Context) -> Library:
    """psycopg_pool.ConnectionPool keeps min_size connections and opens at most max_size;
    max_lifetime (less up to 5% at random) and max_idle (above min_size) close them.
    Serverless: psycopg.connect() per invocation."""
    if serverless:
        return Library(
            "psycopg",
            True,
            (*_libpq_serverless(ctx, ""), *_psycopg_prepare(ctx, "")),
            per_unit,
            f"psycopg.connect() opens one connection; the handler opens at most {per_unit}",
            enforced=False,
        )
    warm = warm_connections(per_unit, ctx.pooler)
    settings = [
        _s("min_size", warm),
        _s("max_size", per_unit),
        _s("timeout", POOL_TIMEOUT, env="POOL_TIMEOUT"),
    ]
    if ctx.recycle is not None:
        settings.append(_s("max_lifetime", ctx.recycle))
    if ctx.idle is not None and ctx.idle < PSYCOPG_POOL_MAX_IDLE:
        settings.append(_s("max_idle", ctx.idle))
    settings += [
        _s("check", Code("ConnectionPool.check_connection")),
        _s("open", True, env=None),
        *_psycopg_prepare(ctx, "kwargs"),
    ]
    return Library("psycopg", False, tuple(settings), per_unit, "max_size", True)


def _psycopg2(per_unit: int, serverless: bool, ctx: Context) -> Library:
    """psycopg2.pool.ThreadedConnectionPool opens minconn at once, keeps at most minconn
    idle and raises PoolError instead of opening more than maxconn. Serverless:
    psycopg2.connect() per invocation. psycopg2 never prepares statements."""
    if serverless:
        return Library(
            "psycopg2",
            True,
            tuple(_libpq_serverless(ctx, "")),
            per_unit,
            f"psycopg2.connect() opens one connection; the handler opens at most {per_unit}",
            enforced=False,
        )
    warm = warm_connections(per_unit, ctx.pooler)
    settings = (_s("minconn", warm), _s("maxconn", per_unit))
    return Library("psycopg2", False, settings, per_unit, "maxconn", True)


def _django(per_unit: int, serverless: bool, ctx: Context) -> Library:
    """Django keeps one connection per thread. CONN_MAX_AGE is its lifetime (0: closed at
    the end of each request; None: unlimited), CONN_HEALTH_CHECKS (4.1+) checks a reused one
    before a request, DISABLE_SERVER_SIDE_CURSORS=True is Django's advice for transaction
    pooling (QuerySet.iterator() would open a cursor that outlives its transaction)."""
    multiplexed = ctx.pooler.multiplexed
    age = 0 if serverless or not multiplexed else ctx.recycle
    settings = [_s("CONN_MAX_AGE", age)]
    if age != 0:
        settings.append(_s("CONN_HEALTH_CHECKS", True))
    if multiplexed:
        settings.append(_s("DISABLE_SERVER_SIDE_CURSORS", True))
    if serverless:
        settings += _libpq_serverless(ctx, "OPTIONS")
    where = "invocation" if serverless else "process"
    return Library(
        "django",
        serverless,
        tuple(settings),
        per_unit,
        f"one connection per thread: at most {per_unit} threads per {where}",
        enforced=False,
    )


def library_settings(key: str, per_unit: int, serverless: bool, ctx: Context) -> Library:
    """One library's settings for a process (or invocation) that may hold `per_unit`."""
    if key in ("sqlalchemy", "sqlalchemy_asyncio"):
        return _sqlalchemy(key, per_unit, serverless, ctx)
    builders = {
        "asyncpg": _asyncpg,
        "psycopg": _psycopg,
        "psycopg2": _psycopg2,
        "django": _django,
    }
    return builders[key](per_unit, serverless, ctx)


def library_notes(
    ctx: Context, prepared_reason: str, keys: tuple[str, ...], apps: tuple[AppPlan, ...]
) -> list[tuple[str, str]]:
    """What the settings assume and cannot say, per library, for the forms of app shown."""
    process = any(not a.serverless for a in apps)
    serverless = any(a.serverless for a in apps)
    multiplexed = ctx.pooler.multiplexed
    notes: list[tuple[str, str]] = []
    if "sqlalchemy" in keys:
        notes.append(
            (
                "sqlalchemy",
                "create_engine with the psycopg driver (postgresql+psycopg://); with psycopg2 "
                "leave prepare_threshold out: psycopg2 never prepares statements."
                if not ctx.psycopg_prepares
                else "create_engine with the psycopg driver (postgresql+psycopg://) or psycopg2.",
            )
        )
    if "sqlalchemy_asyncio" in keys:
        text = "create_async_engine with the asyncpg driver (postgresql+asyncpg://)."
        if ctx.prepared != "supported":
            text += (
                " Its dialect prepares every statement: prepared_statement_name_func names "
                "each uniquely so two clients cannot collide on one server connection (SQLAlchemy "
                "docs, Prepared Statement Name with PGBouncer); or use postgresql+psycopg:// "
                "with connect_args prepare_threshold=None."
            )
        notes.append(("sqlalchemy_asyncio", text))
    if "asyncpg" in keys and process and ctx.recycle is not None:
        notes.append(
            (
                "asyncpg",
                f"The pool has no connection lifetime, so the {ctx.recycle} s lifetime cannot "
                "be set; await pool.expire_connections() replaces every connection at its next "
                "acquire().",
            )
        )
    if "asyncpg" in keys and multiplexed and ctx.prepared == "supported":
        notes.append(
            (
                "asyncpg",
                f"statement_cache_size keeps its default ({prepared_reason}): keep "
                "max_prepared_statements above the number of statements the clients commonly "
                "prepare.",
            )
        )
    if "psycopg" in keys:
        if multiplexed and ctx.psycopg_prepares:
            notes.append(
                (
                    "psycopg",
                    "prepare_threshold keeps its default: psycopg 3.2+ keeps prepared "
                    "statements through PgBouncer 1.22+ with libpq 17+ on the client "
                    "(psycopg.pq.version() >= 170000); with an older libpq set "
                    "prepared_max=None.",
                )
            )
        elif ctx.prepared == "supported" and not ctx.psycopg_prepares:
            notes.append(
                (
                    "psycopg",
                    "prepare_threshold=None: psycopg keeps prepared statements through "
                    "PgBouncer only from 1.22 (give --pgbouncer-version if it is newer).",
                )
            )
        if process:
            notes.append(
                (
                    "psycopg",
                    "psycopg_pool.ConnectionPool; check= needs psycopg_pool 3.2+, open=True "
                    "opens it at once (stated, as 3.2+ warns otherwise).",
                )
            )
    if "psycopg2" in keys and process:
        notes.append(
            (
                "psycopg2",
                "psycopg2.pool.ThreadedConnectionPool: getconn() raises PoolError once maxconn "
                "connections are out instead of waiting, and checks neither age nor liveness.",
            )
        )
    if "django" in keys:
        if not ctx.psycopg_prepares:
            notes.append(
                (
                    "django",
                    "With psycopg 3 Django binds parameters on the client and never prepares, "
                    "unless OPTIONS server_side_binding is True: then add OPTIONS "
                    "prepare_threshold=None.",
                )
            )
        if process and not multiplexed:
            notes.append(
                (
                    "django",
                    "CONN_MAX_AGE=0: a persistent connection would hold a server connection "
                    "(or a Pgpool-II child) between requests.",
                )
            )
    if serverless:
        notes.append(
            (
                "serverless",
                "Open connections inside the handler and close them before it returns "
                "(NullPool, connect() and close(), CONN_MAX_AGE=0): a frozen environment then "
                "holds none. sslmode=verify-full needs sslrootcert, the CA of the pooler's "
                "TLS certificate (PgBouncer client_tls_*); require encrypts without checking "
                "it.",
            )
        )
    return notes
