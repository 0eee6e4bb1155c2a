"""Ansible filter ``poolkit_advisories``: a thin adapter over ``poolkit.advisories``, which
the pgbouncer and pgpool roles call in preflight with the settings about to be written."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from ansible.errors import AnsibleFilterError

try:
    from poolkit import PoolkitError, advisories, values
except ImportError:  # package not installed: use the checkout this plugin lives in
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
    from poolkit import PoolkitError, advisories, values

DOCUMENTATION = r"""
name: poolkit_advisories
short_description: Known PgBouncer / Pgpool-II advisories for a version and its settings
version_added: 0.1.0
author: poolkit
description:
  - Checks the release about to run and the settings about to be written against poolkit's
    table of advisories (C(poolkit.advisories.ADVISORIES)).
  - Fails, one line per advisory, when a known-vulnerable combination would be deployed,
    naming the CVE, why these settings expose it, the fixed release, how to get it, and
    the variable that accepts the risk.
  - Otherwise returns one line per advisory of that release, saying why it does not apply
    (fixed by the package, not exploitable with these settings, or accepted).
options:
  _input:
    description: The rendered settings as C([key, value]) pairs (what
      C(poolkit_pgbouncer_settings) or C(poolkit_pgpool_settings) return).
    type: list
    elements: list
    required: true
  product:
    description: C(pgbouncer) or C(pgpool).
    type: string
    required: true
  version:
    description: The release, such as C(1.24.1), or the Debian package version.
    type: string
    required: true
  accepted:
    description: CVE ids whose risk the user accepts.
    type: list
    elements: string
    default: []
  package_version:
    description: The Debian package version (backported fixes count).
    type: string
  hba_methods:
    description: The methods of the pool_hba.conf / pgbouncer_hba.conf rules.
    type: list
    elements: string
    default: []
"""

EXAMPLES = r"""
- name: Refuse a vulnerable PgBouncer
  ansible.builtin.set_fact:
    advisories: >-
      {{ settings_pairs | poolkit_advisories('pgbouncer', '1.24.1',
         accepted=pgbouncer_accepted_advisories, package_version='1.24.1-1+deb13u2') }}
"""

RETURN = r"""
_value:
  description: One line per advisory of the release and why it does not apply here.
  type: list
  elements: string
"""


def poolkit_advisories(
    pairs: Any,
    product: Any,
    version: Any,
    accepted: Any = (),
    package_version: Any = None,
    hba_methods: Any = (),
) -> list[str]:
    try:
        pairs, accepted, hba_methods = (values.plain(v) for v in (pairs, accepted, hba_methods))
        settings = advisories.settings_from_pairs(pairs, hba_methods or [])
        return advisories.check(
            str(product),
            str(version),
            settings,
            accepted if accepted is not None else [],
            str(package_version) if package_version else None,
            f"{product}_accepted_advisories",
        )
    except PoolkitError as exc:
        raise AnsibleFilterError(str(exc)) from None


class FilterModule:
    """Ansible entry point."""

    def filters(self) -> dict[str, Any]:
        return {"poolkit_advisories": poolkit_advisories}
