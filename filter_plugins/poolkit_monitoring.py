"""Ansible filters ``poolkit_alert_rules`` and ``poolkit_dashboard``: thin adapters over
``poolkit.monitoring`` (the same output as ``poolkit alerts`` and ``poolkit dashboard``)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from ansible.errors import AnsibleFilterError

try:
    from poolkit import PoolkitError
    from poolkit.monitoring import alert_rules, dashboard, monitoring_spec
except ImportError:  # package not installed: use the checkout this plugin lives in
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
    from poolkit import PoolkitError
    from poolkit.monitoring import alert_rules, dashboard, monitoring_spec

DOCUMENTATION = r"""
name: poolkit_alert_rules
short_description: Prometheus alert rules for PgBouncer and Pgpool-II from the sizing
version_added: 0.1.0
author: poolkit
description:
  - The rule file C(poolkit alerts TOPOLOGY) writes, from the sizing the C(poolkit_size)
    filter returns, with the deployed variables as overrides so the thresholds follow the
    real settings.
  - The companion filter C(poolkit_dashboard) returns the Grafana dashboard
    C(poolkit dashboard) writes.
options:
  _input:
    description: What C(poolkit_size) returns for the topology.
    type: dict
    required: true
  overrides:
    description:
      - Deployed values, same shape as the spec, for example
        C({pgbouncer: {max_client_conn: 200, query_wait_timeout: 60}}).
    type: dict
"""

EXAMPLES = r"""
- name: Write the alert rules next to Prometheus
  ansible.builtin.copy:
    content: >-
      {{ pooler_topology | poolkit_size
         | poolkit_alert_rules({'pgbouncer': {'query_wait_timeout': pgbouncer_query_wait_timeout}})
         | to_nice_yaml(indent=2, width=1000) }}
    dest: /etc/prometheus/rules/poolkit.yml
    mode: "0644"
"""

RETURN = r"""
_value:
  description: The rule file (C(groups)) as a dict; C(poolkit_dashboard) returns the dashboard.
  type: dict
"""


def poolkit_alert_rules(sizing: Any, overrides: Any = None) -> dict[str, Any]:
    try:
        return alert_rules(monitoring_spec(sizing, overrides))
    except PoolkitError as exc:
        raise AnsibleFilterError(str(exc)) from None


def poolkit_dashboard(sizing: Any, overrides: Any = None) -> dict[str, Any]:
    try:
        return dashboard(monitoring_spec(sizing, overrides))
    except PoolkitError as exc:
        raise AnsibleFilterError(str(exc)) from None


class FilterModule:
    """Ansible entry point."""

    def filters(self) -> dict[str, Any]:
        return {"poolkit_alert_rules": poolkit_alert_rules, "poolkit_dashboard": poolkit_dashboard}
