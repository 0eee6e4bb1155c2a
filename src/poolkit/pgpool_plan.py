"""roles/pgpool's plan: the role's variables turned, once, into every value it deploys.

The role gathers its variables into one mapping (``__pgpool_input`` in
``roles/pgpool/vars/main.yml``, names without the ``pgpool_`` prefix), preflight turns it
into the plan with the ``poolkit_pgpool_plan`` filter, and the template and the restart
decision read only the plan. A setting's path from the inventory to pgpool.conf is
therefore: inventory -> ``defaults/main.yml`` -> ``__pgpool_input`` -> `plan` ->
``templates/pgpool.conf.j2``.

Precedence of each figure the topology sizes (`FIGURES`): the variable when it is set
(not null), else the topology's answer (``poolkit size``, when the topology has a
``pgpool`` section), else Pgpool-II's default from `poolkit.pgpool.DEFAULTS`.

Everything is checked before anything is returned (`poolkit.pgpool.check`), so a bad
variable fails preflight naming it and the host is left as it is. Passwords and the pool
key never reach the plan: pool_passwd and pcp.conf are computed apart, under ``no_log``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from poolkit import pgpool
from poolkit.settings import precedence
from poolkit.sizing import size_dict

#: The figures `poolkit size` computes for Pgpool-II.
FIGURES = ("num_init_children", "max_pool")

#: Fixed lines: where Debian's pgpool2 package keeps its files, stderr logging, and the
#: check passwords taken from pool_passwd ("" means: look the user up there).
FIXED = {
    "pool_passwd": "pool_passwd",
    "health_check_password": "",
    "sr_check_password": "",
    "log_destination": "stderr",
    "pid_file_name": "/var/run/postgresql/pgpool.pid",
}


def sizing_of(topology: Any) -> dict[str, Any] | None:
    """``poolkit size``'s answer, or None for no topology or one without a ``pgpool``
    section (that sizes PgBouncer only; the budget check then uses
    ``pgpool_backend_max_connections``)."""
    if not topology or "pgpool" not in topology:
        return None
    return size_dict(topology)


def figures(
    inputs: Mapping[str, Any], sizing: Mapping[str, Any] | None
) -> tuple[dict[str, Any], dict[str, str]]:
    """Each of `FIGURES` (the variable when set, else the sizing's, else Pgpool-II's default)
    and where each came from (``variable``, ``topology`` or ``default``)."""
    sized = (sizing or {}).get("pgpool") or {}
    return precedence(inputs, sized, pgpool.DEFAULTS, FIGURES)


def conf_settings(inputs: Mapping[str, Any], sized: Mapping[str, Any]) -> dict[str, Any]:
    """The pgpool.conf settings the role models (None: not written): every input named
    like a pgpool.conf key (`poolkit.pgpool.SETTINGS`) as given, then the fixed and
    computed ones. A new setting needs its variable, its argument spec, its line in
    ``__pgpool_input`` and its row in the version table; nothing here."""
    sockets = inputs.get("unix_socket_directories")
    log_dir = inputs.get("log_dir") or ""
    settings: dict[str, Any] = {
        key: value for key, value in inputs.items() if key in pgpool.SETTINGS
    }
    settings.update(sized)
    settings.update(FIXED)
    settings.update(
        unix_socket_directories=sockets,
        pcp_socket_dir=sockets,
        # With a log dir, the collector writes one pgpool.log that logrotate rotates
        # (copytruncate); Pgpool-II's own rotation is off so the two do not compete.
        logging_collector=bool(log_dir),
        log_directory=log_dir or None,
        log_filename="pgpool.log" if log_dir else None,
        log_rotation_age=0 if log_dir else None,
        log_rotation_size=0 if log_dir else None,
    )
    return settings


def plan(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """Every value roles/pgpool writes into pgpool.conf, checked, from its variables.

    `inputs` holds the role's variables by their names without the ``pgpool_`` prefix
    (``__pgpool_input``) and the version about to run (``version``); ``users`` and
    ``pcp_users`` are names only. The settings that have no variable of their own but are
    checked (``process_management_mode``, ``min_spare_children``, ``max_spare_children``,
    ``failover_command``, ``follow_primary_command``, ``search_primary_node_timeout``,
    ``unix_socket_permissions``)
    are read from ``extra_settings``.

    Returns ``version``; ``sizing`` (``poolkit size``'s answer, ``{}`` without one);
    ``figures`` and ``sources`` (`FIGURES`' values and where each came from); ``conf``
    (pgpool.conf's ``[key, value]`` lines: the settings, then the backends). Raises
    PoolkitError listing every problem, each naming the variable.
    """
    version = inputs["version"]
    sizing = sizing_of(inputs.get("topology"))
    sized, origins = figures(inputs, sizing)
    extra = inputs.get("extra_settings") or {}
    pgpool.check(
        {
            **inputs,
            **sized,
            "sizing": sizing,
            "process_management_mode": extra.get("process_management_mode"),
            "min_spare_children": extra.get("min_spare_children"),
            "max_spare_children": extra.get("max_spare_children"),
            "failover_command": extra.get("failover_command", ""),
            "follow_primary_command": extra.get("follow_primary_command", ""),
            "search_primary_node_timeout": extra.get("search_primary_node_timeout"),
            "unix_socket_permissions": extra.get("unix_socket_permissions"),
        }
    )
    conf = pgpool.conf_settings(conf_settings(inputs, sized), version, extra)
    return {
        "version": version,
        "sizing": sizing or {},
        "figures": sized,
        "sources": origins,
        "conf": conf + pgpool.backends_section(inputs.get("backends") or [], version),
    }
