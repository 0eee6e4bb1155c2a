"""Ansible filters for playbooks/switchover.yml: thin adapters over ``poolkit.switchover``.

Filters: ``poolkit_switchover_plan`` (the leader and the member to promote, or a refusal
naming why), ``poolkit_switchover_followers`` (the pooler hosts whose follower is not ready).
Their ansible-doc style texts are in ``FILTER_DOCS``. A ``PoolkitError`` becomes an
``AnsibleFilterError`` with the same message.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from ansible.errors import AnsibleFilterError

try:
    from poolkit import PoolkitError, switchover, values
except ImportError:  # package not installed: use the checkout this plugin lives in
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
    from poolkit import PoolkitError, switchover, values

FILTER_DOCS: dict[str, dict[str, str]] = {
    "poolkit_switchover_plan": {
        "DOCUMENTATION": r"""
name: poolkit_switchover_plan
short_description: The Patroni leader and the member a planned switchover promotes
version_added: 0.2.0
author: poolkit
description:
  - Reads Patroni's C(GET /cluster) answer and returns C({leader, candidate, lag}).
  - Fails, naming the reason and every member's role, state and lag, when the cluster has no
    running leader, is paused or has a switchover scheduled, or when the candidate is not a
    member, is the leader, does not stream, is tagged nofailover, is not a synchronous
    standby of a synchronous cluster, or lags more than C(max_lag) bytes.
options:
  _input:
    description: The parsed JSON of C(GET /cluster).
    type: dict
    required: true
  candidate:
    description: The member to promote; empty picks the streaming replica with the least lag.
    type: string
    default: ""
  max_lag:
    description: The most bytes of WAL the candidate may lag behind.
    type: int
    default: 1048576
""",
        "EXAMPLES": r"""
- name: Choose the member to promote
  ansible.builtin.set_fact:
    switchover_plan: "{{ cluster.json | poolkit_switchover_plan(switchover_candidate, 1048576) }}"
""",
        "RETURN": r"""
_value:
  description: C(leader), C(candidate) (member names) and C(lag) (the candidate's, bytes).
  type: dict
""",
    },
    "poolkit_switchover_followers": {
        "DOCUMENTATION": r"""
name: poolkit_switchover_followers
short_description: Pooler hosts whose follower is not ready for a switchover
version_added: 0.2.0
author: poolkit
description:
  - One line per pooler host whose C(poolkit follow) has no state, is not healthy, or does
    not point at the leader. Empty when every follower is ready.
options:
  _input:
    description: Each pooler host mapped to its follower's state file (parsed JSON), or to
      null when it has none.
    type: dict
    required: true
  leader:
    description: The current leader's member name.
    type: string
    required: true
""",
        "EXAMPLES": r"""
- name: Stop unless every follower points at the leader
  ansible.builtin.assert:
    that: (states | poolkit_switchover_followers(switchover_plan.leader)) == []
""",
        "RETURN": r"""
_value:
  description: One line per pooler host that is not ready, naming the host and why.
  type: list
  elements: string
""",
    },
}


def poolkit_switchover_plan(cluster: Any, candidate: Any = "", max_lag: Any = 1048576) -> dict:
    try:
        lag = values.plain(max_lag)
        if isinstance(lag, str) and lag.strip().isdigit():
            lag = int(lag)
        return switchover.plan(values.plain(cluster), str(candidate or ""), lag).as_dict()
    except PoolkitError as exc:
        raise AnsibleFilterError(str(exc)) from None


def poolkit_switchover_followers(states: Any, leader: Any) -> list[str]:
    try:
        return switchover.followers_problems(values.plain(states), str(leader))
    except PoolkitError as exc:
        raise AnsibleFilterError(str(exc)) from None


class FilterModule:
    """Ansible entry point."""

    def filters(self) -> dict[str, Any]:
        return {
            "poolkit_switchover_plan": poolkit_switchover_plan,
            "poolkit_switchover_followers": poolkit_switchover_followers,
        }
