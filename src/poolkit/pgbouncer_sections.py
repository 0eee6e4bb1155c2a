"""The [databases] and [users] sections of pgbouncer.ini, the followed databases' lines
(`poolkit follow` adds their address), and what they add up to: the server connections one
process may open and its file limit."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from poolkit import PoolkitError
from poolkit.pgbouncer_settings import _choice, _text
from poolkit.pgbouncer_tables import (
    _CHOICES,
    _DATABASE_INI_NAMES,
    _DATABASE_INTEGERS,
    _SAFE_CONNSTR,
    _USER_INTEGERS,
    DATABASE_KEYS,
    NAME_PATTERN,
    USER_KEYS,
    _supported,
    _too_new,
)
from poolkit.settings import checked_int as _checked_int
from poolkit.settings import non_negative as _non_negative
from poolkit.sizing import fd_limit
from poolkit.values import did_you_mean as _did_you_mean
from poolkit.values import raise_all as _raise
from poolkit.values import type_name as _type_name

# ------------------------------------------------------------------------- sections


def connstr_value(text: str) -> str:
    """One value of a [databases] / [users] line, quoted when PgBouncer needs it.

    Measured on 1.18.0 and 1.24.1: a value with spaces is read inside single quotes, a
    quote inside them is doubled (``'it''s'``), a backslash is an ordinary character
    (PgBouncer is not libpq: ``\\'`` is a syntax error), and an empty value cannot be
    written at all (``''`` is a syntax error). Values made of letters, digits and
    ``_ . , : / @ * + % -`` stay unquoted.
    """
    if text == "":
        raise PoolkitError("an empty value cannot be written in pgbouncer.ini")
    if _SAFE_CONNSTR.fullmatch(text):
        return text
    return "'" + text.replace("'", "''") + "'"


@dataclass
class _Entry:
    """One parsed pgbouncer_databases / pgbouncer_user_settings entry."""

    index: int
    name: str
    label: str
    values: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    follow: str = ""
    held: bool = False


#: Where a ``follow`` database entry gets its address: ``leader`` is the Patroni cluster's
#: running leader, ``replicas`` its streaming replicas within the lag bound (read-only
#: pools; the leader when none streams) (``pgbouncer_patroni_endpoints``; `poolkit follow`,
#: docs/ha.md).
FOLLOW_CHOICES = ("leader", "replicas")


#: Before 1.25.0 PgBouncer checks a server's certificate against the whole host list
#: ("pg2,pg3" is not in any certificate: pgbouncer#1300, fixed by #1303 in 1.25.0), so with
#: server_tls_sslmode verify-full a host list never connects.
HOST_LIST_VERIFY_FULL_FROM = (1, 25, 0)


def host_lists_connect(version: str, server_tls_sslmode: str) -> bool:
    """Whether a [databases] host list (``host=pg2,pg3``) can connect on this release with
    this server_tls_sslmode (`HOST_LIST_VERIFY_FULL_FROM`)."""
    ver, _ = _supported(version)
    return server_tls_sslmode != "verify-full" or ver >= HOST_LIST_VERIFY_FULL_FROM


def _split_followed(databases: Any, problems: list[str]) -> tuple[Any, dict[str, str]]:
    """`databases` without their ``follow`` keys, and ``{name: follow}`` of the entries
    that had one. A followed entry's address comes from the cluster: host or port with it
    is an error."""
    if isinstance(databases, (str, Mapping)) or not isinstance(databases, Sequence):
        return databases, {}
    items: list[Any] = []
    followed: dict[str, str] = {}
    for index, item in enumerate(databases):
        if isinstance(item, Mapping) and "follow" in item:
            where = f"pgbouncer_databases[{index}] ({item.get('name')})"
            follow = item["follow"]
            if follow not in FOLLOW_CHOICES:
                problems.append(
                    f"{where}.follow: expected {' or '.join(FOLLOW_CHOICES)} (the Patroni "
                    "cluster's running leader or its streaming replicas, from "
                    f"pgbouncer_patroni_endpoints), got {follow!r}"
                )
            for key in ("host", "port"):
                if key in item:
                    problems.append(
                        f"{where}: both {key} and follow are set; a followed database's address"
                        f" comes from the Patroni cluster, so remove {key} (or follow, for a"
                        " fixed server)"
                    )
            item = {k: v for k, v in item.items() if k != "follow"}
            followed[str(item.get("name"))] = str(follow)
        items.append(item)
    return items, followed


#: The key of a fixed-address database entry that playbooks/switchover.yml PAUSEs with the
#: followed ones and RESUMEs only once the host's Pgpool-II has the new leader as its
#: primary and every backend attached: PgBouncer in front of a Pgpool-II that follows
#: Patroni (``poolkit pgpool-follow``), docs/ha.md "PgBouncer in front of Pgpool-II".
HOLD_KEY = "hold_at_switchover"


def _split_held(databases: Any, problems: list[str]) -> tuple[Any, set[str]]:
    """`databases` without their `HOLD_KEY` keys, and the names of the entries where it is
    true. It must be a boolean, on an entry with an address of its own: a followed entry
    is paused at a switchover already, and RESUMEd by its follower."""
    if isinstance(databases, (str, Mapping)) or not isinstance(databases, Sequence):
        return databases, set()
    items: list[Any] = []
    held: set[str] = set()
    for index, item in enumerate(databases):
        if isinstance(item, Mapping) and HOLD_KEY in item:
            where = f"pgbouncer_databases[{index}] ({item.get('name')})"
            value = item[HOLD_KEY]
            if not isinstance(value, bool):
                problems.append(
                    f"{where}.{HOLD_KEY}: expected true or false, got {value!r} (true: "
                    "switchover.yml holds its clients until the host's Pgpool-II is on the new "
                    "leader)"
                )
            elif value and "follow" in item:
                problems.append(
                    f"{where}: both follow and {HOLD_KEY} are set; a followed database is "
                    f"paused at a switchover and resumed by its follower already, so remove "
                    f"{HOLD_KEY} (it is for an entry whose host is a Pgpool-II)"
                )
            elif value:
                held.add(str(item.get("name")))
            item = {k: v for k, v in item.items() if k != HOLD_KEY}
        items.append(item)
    return items, held


def _sizing_databases(sizing: Any, problems: list[str]) -> dict[str, Mapping[str, Any]]:
    """``{database: {pool_size, reserve_pool_size, max_db_connections}}`` from a sizing."""
    if sizing is None or (isinstance(sizing, Mapping) and not sizing):
        return {}
    expected = (
        "pgbouncer_topology: its sizing is not the dict poolkit_size returns (with "
        "pgbouncer.databases: a list of {database, pool_size, reserve_pool_size, "
        "max_db_connections})"
    )
    try:
        entries = sizing["pgbouncer"]["databases"]
    except (KeyError, TypeError):
        problems.append(expected)
        return {}
    if not isinstance(entries, list) or not all(
        isinstance(e, Mapping) and isinstance(e.get("database"), str) for e in entries
    ):
        problems.append(expected)
        return {}
    return {str(e["database"]): e for e in entries}


def _entries(
    items: Any,
    variable: str,
    keys: Mapping[str, tuple[int, int]],
    ver: tuple[int, int, int] | None,
    text: str,
    problems: list[str],
    *,
    section: str,
    finish: Callable[[_Entry], None],
) -> list[_Entry]:
    """Validate names and keys of list entries; `finish` converts each entry's values."""
    if items is None:
        return []
    if isinstance(items, (str, Mapping)) or not isinstance(items, Sequence):
        problems.append(f"{variable}: expected a list of mappings, got {_type_name(items)}")
        return []
    entries: list[_Entry] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        where = f"{variable}[{index}]"
        if not isinstance(item, Mapping):
            problems.append(f"{where}: expected a mapping with a name, got {_type_name(item)}")
            continue
        name = item.get("name")
        if name is None or name == "":
            what = (
                "the database name clients connect to, or '*'"
                if section == "databases"
                else "the user name"
            )
            problems.append(f"{where}: name is missing; set it to {what}")
            continue
        if not isinstance(name, str):
            problems.append(f"{where}.name: expected a string, got {_type_name(name)}")
            continue
        name = str(name)
        label = f"{where} ({name})"
        if not (NAME_PATTERN.fullmatch(name) or (section == "databases" and name == "*")):
            problems.append(
                f"{label}.name: PgBouncer cannot read {name!r} as a [{section}] name; use "
                "only letters, digits, '_', '.' and '-'"
                + (" (or '*' for the fallback entry)" if section == "databases" else "")
            )
            continue
        if section == "databases" and name == "pgbouncer":
            problems.append(
                f"{label}.name: 'pgbouncer' is reserved for PgBouncer's admin console; "
                "choose another name"
            )
            continue
        if name in seen:
            problems.append(
                f"{label}: duplicate of {variable}[{seen[name]}]; each name may appear once"
            )
            continue
        seen[name] = index
        entry = _Entry(index, name, label)
        for key, value in item.items():
            if key == "name":
                continue
            key_variable = f"{label}.{key}"
            if section == "databases" and key == "password":
                problems.append(
                    f"{key_variable}: a password here would sit in plain text in "
                    "pgbouncer.ini; list the user in pgbouncer_users (userlist.txt) or use "
                    "auth_user and auth_query instead"
                )
                continue
            if key not in keys:
                problems.append(
                    f"{key_variable}: PgBouncer has no [{section}] setting '{key}'"
                    + _did_you_mean(str(key), keys)
                )
                continue
            if value is None:
                continue
            if ver is not None and (complaint := _too_new(key, keys[key], ver, text)):
                problems.append(
                    f"{key_variable}: {complaint}; remove it or install a newer PgBouncer"
                )
                continue
            entry.values[key] = value
            entry.sources[key] = key_variable
        finish(entry)
        entries.append(entry)
    return entries


def _convert(entry: _Entry, integers: frozenset[str], problems: list[str]) -> None:
    """Turn an entry's raw values into ints / checked strings, in place."""
    for key in list(entry.values):
        variable = entry.sources[key]
        value = entry.values[key]
        try:
            if key in integers:
                number = _non_negative(value, variable)
                if key == "port" and not 1 <= number <= 65535:
                    raise PoolkitError(f"{variable}: expected a port from 1 to 65535, got {number}")
                entry.values[key] = number
            elif key in _CHOICES:
                entry.values[key] = _choice(key, value, variable)
            else:
                converted = _text(value, variable)
                if converted == "":
                    raise PoolkitError(
                        f"{variable}: empty; PgBouncer cannot read an empty value here, "
                        "remove the key instead"
                    )
                entry.values[key] = converted
        except PoolkitError as exc:
            problems.append(str(exc))
            del entry.values[key]


_SIZED = ("pool_size", "reserve_pool_size", "max_db_connections")


def _databases(
    databases: Any,
    ver: tuple[int, int, int] | None,
    text: str,
    sizing: Any,
    problems: list[str],
    *,
    require_host: bool = True,
) -> list[_Entry]:
    """Parsed pgbouncer_databases entries with the sizing merged in; a followed entry
    (``follow``) has no address of its own and its `_Entry.follow` set."""
    sized = _sizing_databases(sizing, problems)
    databases, held = _split_held(databases, problems)
    databases, followed = _split_followed(databases, problems)

    def finish(entry: _Entry) -> None:
        _convert(entry, _DATABASE_INTEGERS, problems)
        entry.follow = followed.get(entry.name, "")
        entry.held = entry.name in held
        if (
            require_host
            and not entry.follow
            and "host" not in entry.values
            and "host" not in entry.sources
        ):
            problems.append(
                f"{entry.label}: host is missing; set it to the PostgreSQL server's address"
            )
        row = sized.get(entry.name)
        if row is None:
            return
        for key in _SIZED:
            if key in entry.values or key in entry.sources or row.get(key) is None:
                continue
            source = f"pgbouncer_topology (sized: pgbouncer.databases[{entry.name}].{key})"
            try:
                entry.values[key] = _non_negative(row[key], source)
                entry.sources[key] = source
            except PoolkitError as exc:
                problems.append(str(exc))

    return _entries(
        databases,
        "pgbouncer_databases",
        DATABASE_KEYS,
        ver,
        text,
        problems,
        section="databases",
        finish=finish,
    )


def _line(entry: _Entry, keys: Iterable[str], ini_names: Mapping[str, str]) -> list[str]:
    parts = [
        f"{ini_names.get(key, key)}={connstr_value(str(entry.values[key]))}"
        for key in keys
        if key in entry.values
    ]
    return [entry.name, " ".join(parts)]


def databases_section(
    databases: Sequence[Mapping[str, Any]],
    version: str,
    sizing: Mapping[str, Any] | None = None,
) -> list[list[str]]:
    """The [databases] section as ``[name, connection string]`` pairs, in the given order.

    Each entry of ``pgbouncer_databases`` has a ``name`` ("*" is the fallback entry), a
    ``host`` and any of `DATABASE_KEYS`. With `sizing` (what ``poolkit_size`` returns), an
    entry without pool_size / reserve_pool_size / max_db_connections takes them from
    ``sizing.pgbouncer.databases`` where ``database`` is the entry's name; explicit values
    win. Keys are written in `DATABASE_KEYS` order, reserve_pool_size as reserve_pool.
    """
    ver, text = _supported(version)
    problems: list[str] = []
    entries = _databases(databases, ver, text, sizing, problems)
    _raise(problems)
    return [
        _line(entry, DATABASE_KEYS, _DATABASE_INI_NAMES) for entry in entries if not entry.follow
    ]


def followed_databases(
    databases: Sequence[Mapping[str, Any]],
    version: str,
    sizing: Mapping[str, Any] | None = None,
    follow: str = "leader",
) -> dict[str, str]:
    """``{name: settings}`` of the entries with ``follow`` equal to `follow`: their
    [databases] line without the address, which `poolkit follow` prepends
    (``host=<leader> port=<its port>``, or the replicas' host list) in the include file.
    Same checks and sizing merge as `databases_section`."""
    ver, text = _supported(version)
    problems: list[str] = []
    entries = _databases(databases, ver, text, sizing, problems)
    _raise(problems)
    return {
        entry.name: _line(entry, DATABASE_KEYS, _DATABASE_INI_NAMES)[1]
        for entry in entries
        if entry.follow == follow
    }


def held_databases(
    databases: Sequence[Mapping[str, Any]],
    version: str,
    sizing: Mapping[str, Any] | None = None,
) -> list[str]:
    """Names of the entries with `HOLD_KEY` true, in their order (same checks as
    `databases_section`)."""
    ver, text = _supported(version)
    problems: list[str] = []
    entries = _databases(databases, ver, text, sizing, problems)
    _raise(problems)
    return [entry.name for entry in entries if entry.held]


def _sizing_users(sizing: Any, problems: list[str]) -> dict[str, Mapping[str, Any]]:
    """``{user: {pool_size, reserve_pool_size}}``: the sizing's [users] lines (users whose
    pools differ in size from others of the same database)."""
    if sizing is None or (isinstance(sizing, Mapping) and not sizing):
        return {}
    try:
        entries = sizing["pgbouncer"].get("users") or []
    except (KeyError, TypeError, AttributeError):
        return {}  # _sizing_databases reports a malformed sizing
    if not isinstance(entries, list) or not all(
        isinstance(e, Mapping) and isinstance(e.get("user"), str) for e in entries
    ):
        problems.append(
            "pooler_topology: the sizing's pgbouncer.users is not a list of {user, pool_size,"
            " reserve_pool_size}"
        )
        return {}
    return {str(e["user"]): e for e in entries}


def users_section(
    users: Sequence[Mapping[str, Any]] | None, version: str, sizing: Mapping[str, Any] | None = None
) -> list[list[str]]:
    """The [users] section as ``[name, settings]`` pairs: `users` in the given order, then
    the sizing's users that `users` does not name.

    `users` is ``pgbouncer_user_settings`` (per-user pool settings), not the login users
    of userlist.txt. Each entry has a ``name`` and any of `USER_KEYS`. With `sizing` (what
    ``poolkit_size`` returns), every user of ``sizing.pgbouncer.users`` (a user whose pools
    differ in size from the others of its database) gets its pool_size and
    reserve_pool_size unless its entry sets them: explicit values win, as for databases.
    A release without per-user pool sizes (pool_size 1.23, reserve_pool_size 1.24) cannot
    deploy such a sizing: that is an error naming the users, not a silent smaller pool.
    """
    ver, text = _supported(version)
    problems: list[str] = []
    entries = _entries(
        users,
        "pgbouncer_user_settings",
        USER_KEYS,
        ver,
        text,
        problems,
        section="users",
        finish=lambda entry: _convert(entry, _USER_INTEGERS, problems),
    )
    sized = _sizing_users(sizing, problems)
    by_name = {entry.name: entry for entry in entries}
    for name, figures in sized.items():
        entry = by_name.get(name)
        if entry is None:
            entry = _Entry(len(entries), name, f"pooler_topology user {name}")
            entries.append(entry)
            by_name[name] = entry
        for key in ("pool_size", "reserve_pool_size"):
            if key in entry.values or figures.get(key) is None:
                continue
            variable = f"pooler_topology (user {name}: {key} {figures[key]})"
            if complaint := _too_new(key, USER_KEYS[key], ver, text):
                problems.append(
                    f"{variable}: the topology sizes this user's pools apart from the other"
                    f" users of its database, but {complaint}. Give the database's users the"
                    " same share in pooler_topology.pools (one pool size for the database),"
                    " or install PgBouncer 1.24 or newer"
                )
                continue
            entry.values[key] = _checked_int(figures[key], variable, problems)
            entry.sources[key] = variable
    _raise(problems)
    return [_line(entry, USER_KEYS, {}) for entry in entries]


# ------------------------------------------------------------------------- connections


@dataclass(frozen=True)
class _Pool:
    """Effective sizes of one [databases] entry (or of the default pool)."""

    label: str
    pool: int
    pool_source: str
    reserve: int
    reserve_source: str
    max_db: int
    max_db_source: str
    min_pool: int
    min_pool_source: str
    explicit_min_or_pool: bool


def _pick(entry: _Entry, key: str, fallback: int) -> tuple[int, str]:
    """An entry's value of `key` and where it came from, else the global variable's."""
    if key in entry.values:
        return entry.values[key], entry.sources[key]
    return fallback, "pgbouncer_" + ("default_pool_size" if key == "pool_size" else key)


def _pools(
    entries: list[_Entry],
    default_pool: int,
    reserve: int,
    max_db: int,
    min_pool: int,
) -> list[_Pool]:
    if not entries:
        return [
            _Pool(
                "the default pool (pgbouncer_databases is empty)",
                default_pool,
                "pgbouncer_default_pool_size",
                reserve,
                "pgbouncer_reserve_pool_size",
                max_db,
                "pgbouncer_max_db_connections",
                min_pool,
                "pgbouncer_min_pool_size",
                False,
            )
        ]
    pools = []
    for entry in entries:
        pool, pool_source = _pick(entry, "pool_size", default_pool)
        res, res_source = _pick(entry, "reserve_pool_size", reserve)
        cap, cap_source = _pick(entry, "max_db_connections", max_db)
        low, low_source = _pick(entry, "min_pool_size", min_pool)
        pools.append(
            _Pool(
                entry.label,
                pool,
                pool_source,
                res,
                res_source,
                cap,
                cap_source,
                low,
                low_source,
                "min_pool_size" in entry.values or "pool_size" in entry.values,
            )
        )
    return pools


def _capacity(pools: list[_Pool]) -> int:
    """Server connections one process may open: per entry max_db_connections when set
    (> 0: all users' pools of the database share it), else pool_size + reserve_pool_size."""
    return sum(p.max_db if p.max_db > 0 else p.pool + p.reserve for p in pools)


def server_connections_per_process(
    databases: Sequence[Mapping[str, Any]],
    default_pool_size: int,
    reserve_pool_size: int,
    sizing: Mapping[str, Any] | None = None,
) -> int:
    """Server connections one PgBouncer process may open, for its file descriptor limit.

    Per ``pgbouncer_databases`` entry (after the same sizing merge as
    `databases_section`): its max_db_connections when that is set (> 0), because every
    user's pool of the database counts against it; else pool_size + reserve_pool_size,
    each defaulting to `default_pool_size` / `reserve_pool_size` (one pool: a forced
    user, or one user per database). No entries count as one default pool. With the
    entries a sizing produced this equals the sizing's per-process server connections.
    """
    problems: list[str] = []
    default = _checked_int(default_pool_size, "pgbouncer_default_pool_size", problems)
    reserve = _checked_int(reserve_pool_size, "pgbouncer_reserve_pool_size", problems)
    entries = _databases(databases, None, "", sizing, problems, require_host=False)
    _raise(problems)
    return _capacity(_pools(entries, default, reserve, 0, 0))


def nofile(max_client_conn: int, server_connections: int) -> int:
    """LimitNOFILE for one PgBouncer process: `poolkit.sizing.fd_limit`, the same formula
    as the sizing's ``limits.nofile``."""
    problems: list[str] = []
    clients = _checked_int(max_client_conn, "max_client_conn", problems)
    servers = _checked_int(server_connections, "server_connections", problems)
    _raise(problems)
    return fd_limit(clients, servers)
