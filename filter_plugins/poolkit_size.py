"""Ansible filter ``poolkit_size``: a thin adapter over ``poolkit.sizing.size_dict``.

The roles call it on ``pooler_topology`` to compute their defaults, so no arithmetic lives
in Jinja; the numbers are exactly those ``poolkit size TOPOLOGY --format json`` prints.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from ansible.errors import AnsibleFilterError

try:
    from poolkit import PoolkitError
    from poolkit.sizing import size_dict
except ImportError:  # package not installed: use the checkout this plugin lives in
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
    from poolkit import PoolkitError
    from poolkit.sizing import size_dict

DOCUMENTATION = r"""
name: poolkit_size
short_description: Size PgBouncer and Pgpool-II pools from an application topology
version_added: 0.1.0
author: poolkit
description:
  - Computes PgBouncer C(default_pool_size), per-pool C(pool_size) and
    C(reserve_pool_size), C(max_client_conn), C(max_db_connections), the file descriptor
    limit, and Pgpool-II C(num_init_children) / C(max_pool) from the application topology,
    so that every pooler together stays inside PostgreSQL's C(max_connections).
  - The same model as C(poolkit size TOPOLOGY --format json); see docs/sizing.md for the
    formulas and their sources. Transaction pooling is assumed.
  - An invalid topology fails the task with a one-line message naming the field and what
    is expected, the same message C(poolkit size) prints (for example for a misspelt
    C(database.max_conections)).
positional: explain
options:
  _input:
    description:
      - The topology, the same structure as the YAML file C(poolkit size) reads
        (C(database), C(poolers), C(pgpool), C(pools), C(apps), C(workload)).
    type: dict
    required: true
  explain:
    description: Add an C(explain) list with each figure's formula and source.
    type: bool
    default: false
"""

EXAMPLES = r"""
# The operator describes the topology once (group_vars/all.yml) and the roles take their
# figures from it, while explicit variables still win (roles/pgbouncer sizes inside its
# plan, poolkit.pgbouncer_plan; roles/pgpool with this filter in its vars/main.yml).

- name: Size the poolers
  vars:
    pooler_topology:
      database: {max_connections: 400, other_connections: 10, cpu_cores: 16}
      poolers: {hosts: 2, processes_per_host: 2, spare_hosts: 1}
      pools:
        - {database: app, user: app, share: 3}
      apps:
        - {name: web, instances: 6, processes: 4, connections_per_process: 10}
  ansible.builtin.set_fact:
    pooler_sizing: "{{ pooler_topology | poolkit_size }}"

- name: Show how each figure was derived
  ansible.builtin.debug:
    msg: "{{ (pooler_topology | poolkit_size(explain=true)).explain }}"
"""

RETURN = r"""
_value:
  description:
    - The sizing. All figures are integers.
    - C(pgbouncer) holds C(default_pool_size), C(min_pool_size), C(reserve_pool_size),
      C(reserve_pool_timeout), C(max_client_conn), C(max_db_connections), C(pools) (one
      C({database, user, pool_size, reserve_pool_size, ...}) per pool) and the
      C(databases) / C(users) overrides for pgbouncer.ini.
    - C(pgpool) (only when the topology has a C(pgpool) section) holds
      C(num_init_children) and C(max_pool).
    - C(limits.nofile), C(budget) (C(server_connections) and the worst cases),
      C(clients), C(client_settings) and C(notes) (human-readable warnings).
  type: dict
"""


def poolkit_size(topology: Any, explain: bool = False) -> dict[str, Any]:
    """Return the sizing of `topology`; a PoolkitError becomes an AnsibleFilterError."""
    try:
        return size_dict(topology, explain=bool(explain))
    except PoolkitError as exc:
        raise AnsibleFilterError(str(exc)) from None


class FilterModule:
    """Ansible entry point."""

    def filters(self) -> dict[str, Any]:
        return {"poolkit_size": poolkit_size}
