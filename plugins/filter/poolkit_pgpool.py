"""Ansible filters for Pgpool-II: thin adapters over ``poolkit.pgpool`` and
``poolkit.pgpool_plan``.

roles/pgpool calls ``poolkit_pgpool_plan`` once in preflight (every pgpool.conf line,
checked), and the version, secrets and restart filters around it; the others expose the
plan's parts for playbooks of your own.

Filters: ``poolkit_pgpool_plan``, ``poolkit_pgpool_version``, ``poolkit_pgpool_settings``,
``poolkit_pgpool_backends``, ``poolkit_pgpool_check``, ``poolkit_pgpool_passwd``,
``poolkit_pgpool_pcp_conf``, ``poolkit_pgpool_restart_keys``. Each is documented in
its side-car file beside this one
(``ansible-doc -t filter poolkit.poolkit.poolkit_pgpool_plan``).

Inputs are copied into plain Python data first: AnsibleUnsafeText and other ``str``
subclasses become ``str``, mappings ``dict``, lists and tuples ``list``, vaulted values
their plaintext. Whole-number settings accept numeric strings such as ``"32"`` (what a
templated default may give) and write them as numbers; any other string there fails
naming the variable. A ``PoolkitError`` becomes an ``AnsibleFilterError`` with the same
message (messages never contain a password or the pool key).
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible_collections.poolkit.poolkit.plugins.plugin_utils.poolkit_requirement import (
    poolkit_filters,
)

try:
    from poolkit import PoolkitError, pgpool, pgpool_plan, values
except ImportError as exc:  # the controller's Python lacks poolkit: each filter says so
    POOLKIT_IMPORT_ERROR: ImportError | None = exc
else:
    POOLKIT_IMPORT_ERROR = None


def _call(func, *args):
    try:
        return func(*[values.plain(arg) for arg in args])
    except PoolkitError as exc:
        raise AnsibleFilterError(str(exc)) from None


def poolkit_pgpool_plan(inputs):
    """Every pgpool.conf line roles/pgpool writes, checked (``poolkit.pgpool_plan.plan``)."""
    return _call(pgpool_plan.plan, inputs)


def poolkit_pgpool_version(text):
    """``"4.6.1"`` from ``pgpool --version`` output or a package version."""
    return _call(pgpool.parse_version, text)


def poolkit_pgpool_settings(settings, version, extra=None):
    """The pgpool.conf ``[key, value]`` pairs."""
    return _call(pgpool.conf_settings, settings, version, extra)


def poolkit_pgpool_backends(backends, version):
    """The backend_*N ``[key, value]`` pairs."""
    return _call(pgpool.backends_section, backends, version)


def poolkit_pgpool_check(config):
    """True, or AnsibleFilterError listing every problem."""
    _call(pgpool.check, config)
    return True


def poolkit_pgpool_passwd(users, existing=None, key=None, method="aes"):
    """The pool_passwd text."""
    return _call(pgpool.render_pool_passwd, users, existing, key, method)


def poolkit_pgpool_pcp_conf(users):
    """The pcp.conf text."""
    return _call(pgpool.render_pcp_conf, users)


def poolkit_pgpool_restart_keys(old_text, new_settings):
    """The keys whose change needs a restart (sorted); [] when a reload is enough."""
    return _call(pgpool.restart_required, old_text, new_settings)


class FilterModule:
    """poolkit Pgpool-II filters."""

    def filters(self):
        return poolkit_filters(
            {
                "poolkit_pgpool_plan": poolkit_pgpool_plan,
                "poolkit_pgpool_version": poolkit_pgpool_version,
                "poolkit_pgpool_settings": poolkit_pgpool_settings,
                "poolkit_pgpool_backends": poolkit_pgpool_backends,
                "poolkit_pgpool_check": poolkit_pgpool_check,
                "poolkit_pgpool_passwd": poolkit_pgpool_passwd,
                "poolkit_pgpool_pcp_conf": poolkit_pgpool_pcp_conf,
                "poolkit_pgpool_restart_keys": poolkit_pgpool_restart_keys,
            },
            POOLKIT_IMPORT_ERROR,
        )
