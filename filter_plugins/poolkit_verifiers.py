"""Ansible filters for password verifiers: thin adapters over ``poolkit.verifiers``.

Filters: ``poolkit_verifier``, ``poolkit_userlist_parse``, ``poolkit_userlist``,
``poolkit_pcp_md5``. Their ansible-doc style DOCUMENTATION / EXAMPLES / RETURN texts are
in ``FILTER_DOCS``, one entry per filter (a plugin file holding several filters cannot use
the single module-level DOCUMENTATION variable).

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
          {{ pgbouncer_users | poolkit_userlist(
               (userlist_current.content | default('')) | b64decode) }}
        mode: "0640"
      no_log: true
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path

from ansible.errors import AnsibleFilterError

try:
    from poolkit import PoolkitError, verifiers
except ImportError:  # package not installed: use the checkout this plugin lives in
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
    from poolkit import PoolkitError, verifiers

DEFAULT_METHOD = "scram-sha-256"

FILTER_DOCS: dict[str, dict[str, str]] = {
    "poolkit_verifier": {
        "DOCUMENTATION": r"""
name: poolkit_verifier
short_description: PostgreSQL password verifier that survives re-runs unchanged
version_added: 0.1.0
author: poolkit
description:
  - Returns a SCRAM-SHA-256 or md5 verifier for a password, in the format PostgreSQL
    stores in C(pg_authid.rolpassword) and PgBouncer reads from C(userlist.txt).
  - When O(existing) is a verifier of the requested method made from the same password
    (and, for SCRAM, with the same iteration count), it is returned unchanged, so the
    salt does not change on every run and the task stays idempotent.
  - A password shaped like a verifier (C(md5) + 32 hex digits, C(SCRAM-SHA-256$...)) is
    refused, because PostgreSQL would store such a string as-is instead of hashing it.
positional: user, method, existing
options:
  _input:
    description: The plaintext password (vaulted or unsafe strings are fine).
    type: string
    required: true
  user:
    description: The role name. Part of the md5 verifier; not used by SCRAM.
    type: string
    required: true
  method:
    description: Verifier format.
    type: string
    choices: [scram-sha-256, md5]
    default: scram-sha-256
  existing:
    description: The verifier currently deployed, if any.
    type: string
  iterations:
    description: SCRAM iteration count.
    type: int
    default: 4096
""",
        "EXAMPLES": r"""
- name: Set the role password without changing the salt on every run
  community.postgresql.postgresql_user:
    name: app
    password: >-
      {{ app_password | poolkit_verifier('app', existing=current_rolpassword | default(none)) }}
  no_log: true
""",
        "RETURN": r"""
_value:
  description: The verifier, C(SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>)
    or C(md5<32 hex digits>).
  type: string
""",
    },
    "poolkit_userlist_parse": {
        "DOCUMENTATION": r"""
name: poolkit_userlist_parse
short_description: Parse PgBouncer's userlist.txt (auth_file) into a dictionary
version_added: 0.1.0
author: poolkit
description:
  - Each entry is C("username" "secret"); a double quote inside a field is doubled.
  - Blank lines and lines starting with C(;) are skipped; text after the second field
    is ignored; a user listed twice keeps the later secret, as in PgBouncer.
  - Fails naming the line number of a malformed line.
options:
  _input:
    description: The file content (for example C(slurp) content piped through C(b64decode)).
    type: string
    required: true
""",
        "EXAMPLES": r"""
- name: Show which users PgBouncer knows
  ansible.builtin.debug:
    msg: "{{ (userlist.content | b64decode | poolkit_userlist_parse).keys() | list }}"
""",
        "RETURN": r"""
_value:
  description: User name to secret (verifier or plaintext, as written).
  type: dict
""",
    },
    "poolkit_userlist": {
        "DOCUMENTATION": r"""
name: poolkit_userlist
short_description: Render PgBouncer's userlist.txt, keeping verifiers whose password is unchanged
version_added: 0.1.0
author: poolkit
description:
  - Each user is C({name, password}) or C({name, verifier}); other keys are ignored.
  - Passwords are hashed with O(method); an entry of O(existing_text) made from the same
    password is kept byte for byte, so re-running does not change the file.
  - A C(verifier) is validated (md5 or SCRAM-SHA-256) and written as-is, whatever O(method).
  - The result lists exactly the given users, sorted by name, one per line.
positional: existing_text, method
options:
  _input:
    description: The users.
    type: list
    elements: dict
    required: true
  existing_text:
    description:
      - The current userlist.txt content; empty when there is none yet.
      - Or a mapping of user name to the verifier deployed now (for example the server's
        C(pg_authid.rolpassword)), so every pooler host keeps the server's verifier.
    type: raw
    default: ""
  method:
    description: Verifier format for passwords.
    type: string
    choices: [scram-sha-256, md5]
    default: scram-sha-256
  iterations:
    description: SCRAM iteration count.
    type: int
    default: 4096
  variable:
    description: The variable the users come from, named in error messages.
    type: string
    default: users
  shared:
    description:
      - New SCRAM verifiers take a salt derived from the password and user name instead of
        a random one, so every pooler host computes the same line without coordination.
    type: bool
    default: false
""",
        "EXAMPLES": r"""
- name: Write userlist.txt
  ansible.builtin.copy:
    dest: /etc/pgbouncer/userlist.txt
    content: "{{ pgbouncer_users | poolkit_userlist(current_userlist_text) }}"
    mode: "0640"
  no_log: true
""",
        "RETURN": r"""
_value:
  description: The file content, newline-terminated (empty for no users).
  type: string
""",
    },
    "poolkit_pcp_md5": {
        "DOCUMENTATION": r"""
name: poolkit_pcp_md5
short_description: Pgpool-II pcp.conf password hash
version_added: 0.1.0
author: poolkit
description:
  - The hex md5 of the password alone, as C(pg_md5 PASSWORD) prints it for
    C(pcp.conf) lines of the form C(user:md5hex).
options:
  _input:
    description: The plaintext password.
    type: string
    required: true
""",
        "EXAMPLES": r"""
- name: Write pcp.conf
  ansible.builtin.copy:
    dest: /etc/pgpool2/pcp.conf
    content: "pcpadmin:{{ pcp_password | poolkit_pcp_md5 }}\n"
    mode: "0600"
  no_log: true
""",
        "RETURN": r"""
_value:
  description: 32 lower-case hex digits.
  type: string
""",
    },
}


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
    iterations=verifiers.DEFAULT_ITERATIONS,
):
    """Verifier for ``password``; ``existing`` is returned when it still matches."""
    return _call(
        verifiers.keep_or_make,
        _text(password, "password"),
        _text(user, "user"),
        _text(method, "method"),
        _text(existing, "existing") or None,
        iterations=iterations,
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
    iterations=verifiers.DEFAULT_ITERATIONS,
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
                iterations=iterations,
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
        return {
            "poolkit_verifier": poolkit_verifier,
            "poolkit_userlist_parse": poolkit_userlist_parse,
            "poolkit_userlist": poolkit_userlist,
            "poolkit_pcp_md5": poolkit_pcp_md5,
        }
