"""roles/pgbouncer's plan: the role's variables turned, once, into every value it deploys.

The role gathers its variables into one mapping (``__pgbouncer_input`` in
``roles/pgbouncer/vars/main.yml``, names without the ``pgbouncer_`` prefix), preflight
turns it into the plan with the ``poolkit_pgbouncer_plan`` filter, and the templates and
handlers read only the plan. A setting's path from the inventory to pgbouncer-N.ini is
therefore: inventory -> ``defaults/main.yml`` -> ``__pgbouncer_input`` -> `plan` ->
``templates/pgbouncer.ini.j2``.

Precedence of each figure the topology sizes (`FIGURES`): the variable when it is set
(not null), else the topology's answer (what ``poolkit size`` prints), else PgBouncer's
default from `poolkit.pgbouncer.DEFAULTS`. ``limit_nofile`` is the variable when set, else
derived from the final ``max_client_conn`` and one process's server connections.
Per-database and per-user pools follow the same rule inside
`poolkit.pgbouncer.databases_section` and `poolkit.pgbouncer.users_section`.

Everything is checked before anything is returned (`poolkit.pgbouncer.check`), so a bad
variable fails preflight naming it and the host is left as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from poolkit import pgbouncer
from poolkit.settings import precedence
from poolkit.sizing import size_dict

#: The figures `poolkit size` computes for PgBouncer, in the order the role documents them.
FIGURES = (
    "default_pool_size",
    "min_pool_size",
    "reserve_pool_size",
    "reserve_pool_timeout",
    "max_client_conn",
    "max_db_connections",
)

#: Oldest PgBouncer with peering ([peers], peer_id): a cancel reaches the right process.
PEERING_FROM = (1, 19)


def figures(
    inputs: Mapping[str, Any], sizing: Mapping[str, Any] | None
) -> tuple[dict[str, Any], dict[str, str]]:
    """Each of `FIGURES` (the variable when set, else the sizing's, else PgBouncer's default)
    and where each came from (``variable``, ``topology`` or ``default``)."""
    sized = (sizing or {}).get("pgbouncer") or {}
    return precedence(inputs, sized, pgbouncer.DEFAULTS, FIGURES)


def _auth_query(inputs: Mapping[str, Any]) -> str | None:
    """The query given, else (with auth_user) poolkit's lookup function."""
    if inputs.get("auth_query"):
        return inputs["auth_query"]
    return inputs.get("lookup_query") if inputs.get("auth_user") else None


def peering(inputs: Mapping[str, Any], version: str) -> bool:
    """Several processes sharing a port forward cancel requests to each other (1.19+)."""
    processes = int(inputs.get("processes") or 1)
    ver, _ = pgbouncer.PGBOUNCER.supported(version)
    return processes > 1 and bool(inputs.get("unix_socket_dir")) and ver[:2] >= PEERING_FROM


def process_settings(
    inputs: Mapping[str, Any],
    sized: Mapping[str, Any],
    hardened: Mapping[str, Any],
    process: str,
    peers: bool,
) -> dict[str, Any]:
    """The [pgbouncer] settings the role models for process `process` (None: not written):
    every input named like a [pgbouncer] key (`poolkit.pgbouncer.SETTINGS`) as given, then
    those computed here. A new setting needs its variable, its argument spec, its line in
    ``__pgbouncer_input`` and its row in the version table; nothing here."""
    socket_dir = inputs.get("unix_socket_dir") or ""
    log_dir = inputs.get("log_dir") or ""
    settings: dict[str, Any] = {
        key: value for key, value in inputs.items() if key in pgbouncer.SETTINGS
    }
    settings.update(
        {key: sized[key] for key in FIGURES},
        unix_socket_dir=f"{socket_dir}/{process}" if socket_dir else "",
        so_reuseport=int(inputs.get("processes") or 1) > 1,
        peer_id=process if peers else None,
        logfile=f"{log_dir}/pgbouncer-{process}.log" if log_dir else None,
        auth_file=inputs.get("auth_file"),
        auth_hba_file=inputs.get("hba_file") if inputs.get("auth_type") == "hba" else None,
        auth_query=_auth_query(inputs),
        admin_users=inputs.get("admin_users") or None,
        stats_users=inputs.get("stats_users") or None,
        track_extra_parameters=hardened["track_extra_parameters"],
        ignore_startup_parameters=hardened["ignore_startup_parameters"] or None,
        max_packet_size=hardened["max_packet_size"],
    )
    return settings


def plan(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """Every value roles/pgbouncer deploys, checked, from its variables.

    `inputs` holds the role's variables by their names without the ``pgbouncer_`` prefix
    (``__pgbouncer_input``), the version about to run (``version``), the role's file
    paths (``auth_file``, ``hba_file``), its lookup query (``lookup_query``) and the
    host's facts for the exporter check (``distribution``, ``distribution_version``).
    ``users`` are login names and ``password_users`` those given with a password (the
    passwords themselves never reach the plan).

    Returns ``version``; ``sizing`` (``poolkit size``'s answer, ``{}`` without a
    topology); ``figures`` and ``sources`` (`FIGURES`' values and where each came from);
    ``server_connections`` (one process's) and ``limit_nofile``; ``processes`` (their
    names, "1".."N"); ``peers`` (``[name, connection]`` pairs, empty without peering);
    ``databases`` and ``users`` (the [databases] and [users] lines); ``followed`` and
    ``followed_replicas`` (``{name: settings}`` for ``poolkit follow``); ``held`` (the
    names switchover.yml holds until Pgpool-II follows: ``hold_at_switchover``); ``ini``
    (process name to its [pgbouncer] ``[key, value]`` pairs). Raises PoolkitError listing
    every problem, each naming the variable.
    """
    version = inputs["version"]
    topology = inputs.get("topology")
    sizing = size_dict(topology) if topology else None
    sized, origins = figures(inputs, sizing)
    databases = inputs.get("databases") or []
    servers = pgbouncer.server_connections_per_process(
        databases, sized["default_pool_size"], sized["reserve_pool_size"], sizing
    )
    limit_nofile = inputs.get("limit_nofile")
    if limit_nofile is None:
        limit_nofile = pgbouncer.nofile(sized["max_client_conn"], servers)
    pgbouncer.check(
        {
            **inputs,
            **sized,
            "limit_nofile": limit_nofile,
            "auth_query": _auth_query(inputs),
            "sizing": sizing,
        }
    )
    hardened = pgbouncer.hardened_settings(
        version,
        inputs.get("ignore_startup_parameters"),
        inputs.get("track_extra_parameters"),
        inputs.get("max_packet_size"),
    )
    processes = [str(n) for n in range(1, int(inputs.get("processes") or 1) + 1)]
    peers = peering(inputs, version)
    socket_dir = inputs.get("unix_socket_dir") or ""
    port = inputs.get("listen_port")
    extra = inputs.get("extra_settings") or {}
    return {
        "version": version,
        "sizing": sizing or {},
        "figures": sized,
        "sources": origins,
        "server_connections": servers,
        "limit_nofile": int(limit_nofile),
        "processes": processes,
        "peers": [[name, f"host={socket_dir}/{name} port={port}"] for name in processes]
        if peers
        else [],
        "databases": pgbouncer.databases_section(databases, version, sizing),
        "users": pgbouncer.users_section(inputs.get("user_settings") or [], version, sizing),
        "followed": pgbouncer.followed_databases(databases, version, sizing),
        "followed_replicas": pgbouncer.followed_databases(databases, version, sizing, "replicas"),
        "held": pgbouncer.held_databases(databases, version, sizing),
        "ini": {
            name: pgbouncer.ini_settings(
                process_settings(inputs, sized, hardened, name, peers), version, extra
            )
            for name in processes
        },
    }
