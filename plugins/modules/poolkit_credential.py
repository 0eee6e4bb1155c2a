#!/usr/bin/python
"""Ansible module: a secret stored encrypted by systemd-creds, for LoadCredentialEncrypted=.

Shared by roles/pgbouncer and roles/pgpool (their exporters' passwords). Each encryption of
the same secret gives other bytes, so the module decrypts what is stored and compares it: an
unchanged secret changes nothing, a new one is encrypted again (changed, so the caller's
handler restarts the unit that loads it)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: poolkit_credential
short_description: Store a secret encrypted by systemd-creds, for LoadCredentialEncrypted=
version_added: 0.1.0
author: poolkit maintainers (@poolkit)
description:
  - Encrypts O(secret) with C(systemd-creds encrypt) (the host key, and the TPM2 when the
    host has one) into O(path), in a directory only root can enter (mode 0700).
  - A re-run decrypts the stored file and compares it with O(secret), so an unchanged
    secret changes nothing.
  - The secret is never written in plaintext, never returned, never logged.
options:
  path:
    description: The encrypted credential file, for example
      C(/etc/poolkit/credentials/pgbouncer-exporter.password).
    type: path
    required: true
  name:
    description: The credential's name, bound into the encrypted file; it must be the id
      the unit loads it as (C(LoadCredentialEncrypted=NAME:PATH)).
    type: str
    default: password
  secret:
    description: The secret. Required with O(state=present).
    type: str
  state:
    description: C(absent) removes O(path).
    type: str
    choices: [present, absent]
    default: present
requirements: [systemd 250 or newer on the host (systemd-creds)]
"""

EXAMPLES = r"""
- name: Store the exporter's password encrypted
  poolkit.poolkit.poolkit_credential:
    path: /etc/poolkit/credentials/pgpool-exporter.password
    secret: "{{ pgpool_monitor_password }}"
  notify: Restart pgpool exporter
"""

RETURN = r"""
path:
  description: The credential file.
  returned: always
  type: str
"""

import os
import shutil
import tempfile

from ansible.module_utils.basic import AnsibleModule

SYSTEMD_CREDS = "systemd-creds"


def stored_secret(module: AnsibleModule, path: str, name: str) -> str | None:
    """What `path` decrypts to, or None when it is missing or does not decrypt with this
    host's key (a re-installed host, a file copied from elsewhere): then it is replaced."""
    if not os.path.exists(path):
        return None
    rc, out, _err = module.run_command(
        [SYSTEMD_CREDS, "decrypt", f"--name={name}", path, "-"], binary_data=True
    )
    return out if rc == 0 else None


def encrypt(module: AnsibleModule, path: str, name: str, secret: str) -> None:
    """Encrypt into a temporary file beside `path`, then rename it over `path`: a unit that
    starts meanwhile reads the old credential or the new one, never half of one."""
    directory = os.path.dirname(path)
    handle, temporary = tempfile.mkstemp(prefix=".poolkit-credential.", dir=directory)
    os.close(handle)
    try:
        rc, _out, err = module.run_command(
            [SYSTEMD_CREDS, "encrypt", f"--name={name}", "-", temporary],
            data=secret,
            binary_data=True,
        )
        if rc != 0:
            module.fail_json(
                msg=f"systemd-creds could not encrypt the credential {path}: {err.strip()}"
            )
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def ensure_directory(module: AnsibleModule, directory: str) -> bool:
    """The credential's directory: owned by root, mode 0700. True when it was changed."""
    if not os.path.isdir(directory):
        if not module.check_mode:
            os.makedirs(directory, mode=0o700)
            os.chown(directory, 0, 0)
        return True
    status = os.stat(directory)
    if (status.st_mode & 0o7777, status.st_uid, status.st_gid) == (0o700, 0, 0):
        return False
    if not module.check_mode:
        os.chmod(directory, 0o700)
        os.chown(directory, 0, 0)
    return True


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            name=dict(type="str", default="password"),
            secret=dict(type="str", no_log=True),
            state=dict(type="str", choices=["present", "absent"], default="present"),
        ),
        required_if=[("state", "present", ["secret"])],
        supports_check_mode=True,
    )
    path, name, state = (module.params[k] for k in ("path", "name", "state"))

    if state == "absent":
        present = os.path.lexists(path)
        if present and not module.check_mode:
            os.unlink(path)
        module.exit_json(changed=present, path=path)

    secret = module.params["secret"]
    if not secret:
        module.fail_json(msg=f"secret for the credential {path} is empty: give the password")
    if shutil.which(SYSTEMD_CREDS) is None:
        module.fail_json(
            msg=f"{SYSTEMD_CREDS} is not on this host: storing {path} needs systemd 250 or "
            "newer (Debian 12 and later)"
        )
    changed = ensure_directory(module, os.path.dirname(path))
    if stored_secret(module, path, name) != secret:
        changed = True
        if not module.check_mode:
            encrypt(module, path, name, secret)
    module.exit_json(changed=changed, path=path)


if __name__ == "__main__":
    main()
