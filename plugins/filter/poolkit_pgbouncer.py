"""Ansible filters for pgbouncer.ini: thin adapters over ``poolkit.pgbouncer`` and
``poolkit.pgbouncer_plan``.

roles/pgbouncer calls ``poolkit_pgbouncer_plan`` once in preflight (every value it deploys,
checked) and ``poolkit_pgbouncer_version`` / ``poolkit_pgbouncer_restart_keys`` around it;
the others expose the plan's parts for playbooks of your own.

Filters: ``poolkit_pgbouncer_plan``, ``poolkit_pgbouncer_version``, ``poolkit_pgbouncer_settings``,
``poolkit_pgbouncer_databases``, ``poolkit_pgbouncer_users``, ``poolkit_pgbouncer_check``,
``poolkit_pgbouncer_server_connections``, ``poolkit_pgbouncer_nofile``,
``poolkit_pgbouncer_restart_keys``, ``poolkit_pgbouncer_hardened``. Each is documented in
its side-car file beside this one
(``ansible-doc -t filter poolkit.poolkit.poolkit_pgbouncer_plan``).

Inputs are copied into plain Python data first: AnsibleUnsafeText and other ``str``
subclasses become ``str``, mappings ``dict``, lists and tuples ``list``, vaulted values
their plaintext. Whole-number settings accept numeric strings such as ``"20"`` (what a
templated value like ``"{{ pool_size }}"`` may give) and write them as numbers; any other
string there fails naming the variable.
A ``PoolkitError`` becomes an ``AnsibleFilterError`` with the same message.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible_collections.poolkit.poolkit.plugins.plugin_utils.poolkit_requirement import (
    poolkit_filters,
)

try:
    from poolkit import PoolkitError, pgbouncer, pgbouncer_plan, values
except ImportError as exc:  # the controller's Python lacks poolkit: each filter says so
    POOLKIT_IMPORT_ERROR: ImportError | None = exc
else:
    POOLKIT_IMPORT_ERROR = None


def _call(func, *args):
    try:
        return func(*[values.plain(arg) for arg in args])
    except PoolkitError as exc:
        raise AnsibleFilterError(str(exc)) from None


def poolkit_pgbouncer_plan(inputs):
    """Every value roles/pgbouncer deploys, checked (``poolkit.pgbouncer_plan.plan``)."""
    return _call(pgbouncer_plan.plan, inputs)


def poolkit_pgbouncer_version(text):
    """``"1.24.1"`` from ``pgbouncer --version`` output or a package version."""
    return _call(pgbouncer.parse_version, text)


def poolkit_pgbouncer_settings(settings, version, extra=None):
    """The [pgbouncer] ``[key, value]`` pairs."""
    return _call(pgbouncer.ini_settings, settings, version, extra)


def poolkit_pgbouncer_databases(databases, version, sizing=None):
    """The [databases] ``[name, connection string]`` pairs."""
    return _call(pgbouncer.databases_section, databases, version, sizing)


def poolkit_pgbouncer_followed(databases, version, sizing=None, follow="leader"):
    """``{name: settings}`` of the databases that follow the Patroni leader (or, with
    ``follow='replicas'``, its streaming replicas)."""
    return _call(pgbouncer.followed_databases, databases, version, sizing, follow)


def poolkit_pgbouncer_users(users, version, sizing=None):
    """The [users] ``[name, settings]`` pairs (the sizing's per-user pools included)."""
    return _call(pgbouncer.users_section, users, version, sizing)


def poolkit_pgbouncer_check(config):
    """True, or AnsibleFilterError listing every problem."""
    _call(pgbouncer.check, config)
    return True


def poolkit_pgbouncer_server_connections(
    databases, default_pool_size, reserve_pool_size, sizing=None
):
    """Server connections one PgBouncer process may open."""
    return _call(
        pgbouncer.server_connections_per_process,
        databases,
        default_pool_size,
        reserve_pool_size,
        sizing,
    )


def poolkit_pgbouncer_nofile(max_client_conn, server_connections):
    """LimitNOFILE for one PgBouncer process."""
    return _call(pgbouncer.nofile, max_client_conn, server_connections)


def poolkit_pgbouncer_restart_keys(old_text, new_settings):
    """The changed settings that need a restart."""
    return _call(pgbouncer.restart_required, old_text, new_settings)


def poolkit_pgbouncer_hardened(version, ignore=None, track=None, max_packet_size=None):
    """The startup-parameter and packet-size settings for the release."""
    return _call(pgbouncer.hardened_settings, version, ignore, track, max_packet_size)


class FilterModule:
    """poolkit pgbouncer.ini filters."""

    def filters(self):
        return poolkit_filters(
            {
                "poolkit_pgbouncer_plan": poolkit_pgbouncer_plan,
                "poolkit_pgbouncer_version": poolkit_pgbouncer_version,
                "poolkit_pgbouncer_settings": poolkit_pgbouncer_settings,
                "poolkit_pgbouncer_databases": poolkit_pgbouncer_databases,
                "poolkit_pgbouncer_users": poolkit_pgbouncer_users,
                "poolkit_pgbouncer_followed": poolkit_pgbouncer_followed,
                "poolkit_pgbouncer_check": poolkit_pgbouncer_check,
                "poolkit_pgbouncer_server_connections": poolkit_pgbouncer_server_connections,
                "poolkit_pgbouncer_nofile": poolkit_pgbouncer_nofile,
                "poolkit_pgbouncer_restart_keys": poolkit_pgbouncer_restart_keys,
                "poolkit_pgbouncer_hardened": poolkit_pgbouncer_hardened,
            },
            POOLKIT_IMPORT_ERROR,
        )
