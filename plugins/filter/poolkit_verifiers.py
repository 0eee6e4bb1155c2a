"""Ansible filters for password verifiers: thin adapters over ``poolkit.verifiers``.

Filters: ``poolkit_verifier``, ``poolkit_userlist_parse``, ``poolkit_userlist``,
``poolkit_pcp_md5``. Each is documented in its side-car file beside this one
(``poolkit_verifier.yml``, ...: ``ansible-doc -t filter poolkit.poolkit.poolkit_verifier``);
a plugin file holding several filters cannot use a module-level DOCUMENTATION.

Idempotent userlist.txt (same salt on re-run, so the file does not change)::

    - name: Read the current userlist
      ansible.builtin.slurp:
        src: /etc/pgbouncer/userlist.txt
      register: userlist_current
      failed_when: false
      no_log: true

    - name: Write userlist.txt
      ansible.builtin.copy:
        dest: /etc/pgbouncer/userlist.txt
        content: >-
          {{ pgbouncer_users | poolkit.poolkit.poolkit_userlist(
               (userlist_current.content | default('')) | b64decode) }}
        mode: "0640"
      no_log: true
"""

from __future__ import annotations

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError
from ansible_collections.poolkit.poolkit.plugins.plugin_utils.poolkit_requirement import (
    poolkit_filters,
)

try:
    from poolkit import PoolkitError, verifiers
except ImportError as exc:  # the controller's Python lacks poolkit: each filter says so
    POOLKIT_IMPORT_ERROR: ImportError | None = exc
else:
    POOLKIT_IMPORT_ERROR = None

DEFAULT_METHOD = "scram-sha-256"


def _text(value, what: str) -> str | None:
    """Coerce AnsibleUnsafeText, vaulted values and other string-likes to ``str``.

    None stays None (the library reports it as missing). Booleans, numbers and containers
    are refused: ``str()`` would silently turn YAML's ``yes`` or ``0123`` into a password.
    """
    if value is None:
        return None
    if isinstance(value, str):
        return str(value)
    if isinstance(value, (bool, int, float, bytes, Mapping, list, tuple, set)):
        raise AnsibleFilterError(
            f"{what}: expected a string, got {type(value).__name__}; quote it in YAML"
        )
    return str(value)  # e.g. a vaulted value: str() decrypts it


def _iterations(iterations):
    """None is poolkit's default count (what the side-car docs call 4096)."""
    return verifiers.DEFAULT_ITERATIONS if iterations is None else iterations


def _call(func, *args, **kwargs):
    try:
        return func(*args, **kwargs)
    except PoolkitError as exc:
        raise AnsibleFilterError(str(exc)) from None


def poolkit_verifier(
    password,
    user,
    method=DEFAULT_METHOD,
    existing=None,
    iterations=None,
):
    """Verifier for ``password``; ``existing`` is returned when it still matches."""
    return _call(
        verifiers.keep_or_make,
        _text(password, "password"),
        _text(user, "user"),
        _text(method, "method"),
        _text(existing, "existing") or None,
        iterations=_iterations(iterations),
    )


def poolkit_userlist_parse(text):
    """``{user: secret}`` from userlist.txt content."""
    return _call(verifiers.parse_userlist, _text(text, "userlist text") or "")


def _user_entry(index: int, user, variable: str) -> dict[str, str | None]:
    if not isinstance(user, Mapping):
        raise AnsibleFilterError(
            f"{variable}[{index}]: expected a mapping with name and password or verifier"
        )
    return {
        key: _text(user.get(key), f"{variable}[{index}].{key}")
        for key in ("name", "password", "verifier")
    }


def poolkit_userlist(
    users,
    existing_text="",
    method=DEFAULT_METHOD,
    iterations=None,
    variable="users",
    shared=False,
):
    """userlist.txt content for ``users``, keeping the matching entries of ``existing_text``."""
    if users is None or isinstance(users, (str, Mapping)):
        raise AnsibleFilterError(
            f"{variable}: expected a list of {{name, password}} or {{name, verifier}} mappings"
        )
    entries = [_user_entry(index, user, variable) for index, user in enumerate(users)]
    if isinstance(existing_text, Mapping):  # {user: verifier}, e.g. read from pg_authid
        existing = {str(name): str(secret) for name, secret in existing_text.items() if secret}
    else:
        existing = poolkit_userlist_parse(existing_text)
    return _call(
        lambda: verifiers.render_userlist(
            verifiers.userlist_entries(
                entries,
                existing,
                _text(method, "method"),
                iterations=_iterations(iterations),
                variable=_text(variable, "variable"),
                shared=bool(shared),
            )
        )
    )


def poolkit_pcp_md5(password):
    """pcp.conf hash of ``password``."""
    return _call(verifiers.pcp_md5, _text(password, "password"))


class FilterModule:
    """poolkit password verifier filters."""

    def filters(self):
        return poolkit_filters(
            {
                "poolkit_verifier": poolkit_verifier,
                "poolkit_userlist_parse": poolkit_userlist_parse,
                "poolkit_userlist": poolkit_userlist,
                "poolkit_pcp_md5": poolkit_pcp_md5,
            },
            POOLKIT_IMPORT_ERROR,
        )
