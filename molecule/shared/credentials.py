"""Shared by the exporter tests: a password the roles store as a systemd credential must
lie on the host encrypted only, in a directory only root can enter."""

from __future__ import annotations

import posixpath

# Where a password written in plaintext (a unit, an environment file, a copied config, a
# log line) would be found.
PLACES = ("/etc", "/var/lib/systemd", "/var/log", "/opt", "/usr/local", "/root")


def assert_stored_encrypted(host, secret: str, credential: str) -> None:
    found = host.run("grep -rlF -- %s " + " ".join(PLACES) + " 2>/dev/null", secret)
    assert found.stdout == "", f"the password is in plaintext in: {found.stdout}"
    assert host.file(credential).exists
    directory = host.file(posixpath.dirname(credential))
    assert (directory.user, directory.mode) == ("root", 0o700)
