"""Ansible filters ``poolkit_alert_rules`` and ``poolkit_dashboard``: thin adapters over
``poolkit.monitoring`` (the same output as ``poolkit alerts`` and ``poolkit dashboard``)."""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleFilterError
from ansible_collections.poolkit.poolkit.plugins.plugin_utils.poolkit_requirement import (
    poolkit_filters,
)

try:
    from poolkit import PoolkitError
    from poolkit.monitoring import alert_rules, dashboard, monitoring_spec
except ImportError as exc:  # the controller's Python lacks poolkit: each filter says so
    POOLKIT_IMPORT_ERROR: ImportError | None = exc
else:
    POOLKIT_IMPORT_ERROR = None


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
        return poolkit_filters(
            {"poolkit_alert_rules": poolkit_alert_rules, "poolkit_dashboard": poolkit_dashboard},
            POOLKIT_IMPORT_ERROR,
        )
