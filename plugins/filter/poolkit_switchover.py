"""Ansible filters for playbooks/switchover.yml: thin adapters over ``poolkit.switchover``.

Filters: ``poolkit_switchover_plan`` (the leader and the member to promote, or a refusal
naming why), ``poolkit_switchover_followers`` (the pooler hosts whose follower is not ready),
``poolkit_switchover_pgpool`` (where a host's Pgpool-II stands: on the leader, settled).
Each is documented in its side-car .yml beside this file. A ``PoolkitError`` becomes an
``AnsibleFilterError`` with the same message.
"""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleFilterError
from ansible_collections.poolkit.poolkit.plugins.plugin_utils.poolkit_requirement import (
    poolkit_filters,
)

try:
    from poolkit import PoolkitError, switchover, values
except ImportError as exc:  # the controller's Python lacks poolkit: each filter says so
    POOLKIT_IMPORT_ERROR: ImportError | None = exc
else:
    POOLKIT_IMPORT_ERROR = None


def poolkit_switchover_plan(
    cluster: Any, candidate: Any = "", max_lag: Any = 1048576, replication: Any = None
) -> dict:
    try:
        lag = values.plain(max_lag)
        if isinstance(lag, str) and lag.strip().isdigit():
            lag = int(lag)
        rows = values.plain(replication)
        return switchover.plan(values.plain(cluster), str(candidate or ""), lag, rows).as_dict()
    except PoolkitError as exc:
        raise AnsibleFilterError(str(exc)) from None


def poolkit_switchover_followers(states: Any, leader: Any) -> list[str]:
    try:
        return switchover.followers_problems(values.plain(states), str(leader))
    except PoolkitError as exc:
        raise AnsibleFilterError(str(exc)) from None


def poolkit_switchover_pgpool(state: Any, leader: Any, detached_before: Any = None) -> dict:
    return switchover.pgpool_state(
        values.plain(state), str(leader), values.plain(detached_before) or []
    )


class FilterModule:
    """Ansible entry point."""

    def filters(self) -> dict[str, Any]:
        return poolkit_filters(
            {
                "poolkit_switchover_plan": poolkit_switchover_plan,
                "poolkit_switchover_followers": poolkit_switchover_followers,
                "poolkit_switchover_pgpool": poolkit_switchover_pgpool,
            },
            POOLKIT_IMPORT_ERROR,
        )
