"""Pgpool-II's password files: pool_passwd (AES or md5 entries) and pcp.conf.

Pure functions behind the ``poolkit_pgpool_pool_passwd`` and ``poolkit_pgpool_pcp_conf``
filters; `poolkit.pgpool` re-exports them with the rest of Pgpool-II's configuration.
Every user-fixable problem raises a `PoolkitError` naming the entry (``pgpool_users[i]``).

Sources: Pgpool-II's src/utils/ssl_utils.c and src/tools/pgenc/pg_enc.c for the AES
format (see `pool_passwd_aes`), checked byte for byte against the real ``pg_enc`` of 4.3.5
and 4.6.1, and by logging in through a real Pgpool-II with SCRAM using lines written here;
src/auth/pool_passwd.c for how Pgpool-II reads the file and its key.

AES needs the ``cryptography`` package (imported only when a pool_passwd AES entry is
made or read); everything else uses the standard library.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from typing import Any

from poolkit import PoolkitError
from poolkit.values import type_name as _type_name
from poolkit.verifiers import looks_like_verifier, md5_verifier, pcp_md5

# ------------------------------------------------------------------------- pool_passwd

AES_PREFIX = "AES"
MD5_PREFIX = "md5"
PASSWD_METHODS = ("aes", "md5")
#: Longest password an AES entry can carry, in UTF-8 bytes. Pgpool-II reads the secret of
#: a pool_passwd line as a token of at most 128 characters (MAX_TOKEN_LEN in
#: src/auth/pool_passwd.c): "AES" + base64 of the 16-byte blocks fits for up to 79 bytes
#: (80 bytes of ciphertext, 111 characters) but not for 80 (96 bytes, 131 characters).
#: Measured: a 79-byte password logs in through Pgpool-II, an 80-byte one fails with
#: "unable to decrypt password from pool_passwd" on 4.3.5 and 4.6.1.
AES_MAX_PASSWORD_BYTES = 79
#: Longest key Pgpool-II reads from a key file: read_pool_key() takes the first line with
#: fgets() into a 256-byte buffer (MAX_POOL_KEY_LEN), so 255 bytes.
MAX_POOL_KEY_BYTES = 255


def _utf8(text: str, what: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise PoolkitError(
            f"{what}: contains a character that cannot be encoded as UTF-8 (position {exc.start})"
        ) from None


def check_pool_key(key: str) -> str:
    """The encryption key as given, checked: what Pgpool-II would read from .pgpoolkey.

    Pgpool-II (read_pool_key in src/auth/pool_passwd.c) uses the first line of the key
    file without its newline; the role writes the key followed by a newline.
    """
    if not isinstance(key, str):
        raise PoolkitError(f"pool key: expected a string, got {_type_name(key)}")
    if not key:
        raise PoolkitError("pool key: empty; Pgpool-II cannot decrypt pool_passwd without a key")
    if any(ch in key for ch in "\n\r\0"):
        raise PoolkitError(
            "pool key: contains a line break or NUL; Pgpool-II reads only the first line "
            "of the key file, so use a single-line key"
        )
    if len(_utf8(key, "pool key")) > MAX_POOL_KEY_BYTES:
        raise PoolkitError(
            f"pool key: longer than {MAX_POOL_KEY_BYTES} bytes, the most Pgpool-II reads "
            "from the key file"
        )
    return key


def pool_key_from_file(text: str) -> str:
    """The key Pgpool-II reads from a .pgpoolkey file's text: its first line, newline cut."""
    if not isinstance(text, str):
        raise PoolkitError(f"pool key file: expected text, got {_type_name(text)}")
    first = text.split("\n", 1)[0]
    return check_pool_key(first)


def _check_user(user: Any, what: str = "user name") -> str:
    if not isinstance(user, str):
        raise PoolkitError(f"{what}: expected a string, got {_type_name(user)}")
    if not user:
        raise PoolkitError(f"{what}: is empty")
    bad = next((ch for ch in user if ch in ":\\\n\r\0"), None)
    if bad is not None:
        raise PoolkitError(
            f"{what}: {user!r} contains {bad!r}; pool_passwd separates fields with ':' and "
            "Pgpool-II reads '\\' as an escape (pg_enc writes names unescaped), so such a "
            "name cannot be listed"
        )
    return user


def _check_password(password: Any, method: str) -> str:
    if not isinstance(password, str):
        raise PoolkitError(f"password: expected a string, got {_type_name(password)}")
    if not password:
        raise PoolkitError("password: is empty; PostgreSQL cannot log in with an empty password")
    if "\0" in password:
        raise PoolkitError("password: contains a NUL character, which PostgreSQL cannot store")
    if looks_like_verifier(password):
        raise PoolkitError(
            "password: looks like a stored verifier (md5... or SCRAM-SHA-256$...), not a "
            "password; give the plain password"
        )
    size = len(_utf8(password, "password"))
    if method == "aes" and size > AES_MAX_PASSWORD_BYTES:
        raise PoolkitError(
            f"password: {size} bytes; Pgpool-II cannot decrypt an AES pool_passwd entry of a "
            f"password longer than {AES_MAX_PASSWORD_BYTES} bytes (its 128-character limit "
            "for the entry), so choose a shorter password"
        )
    return password


def _cipher(key: str):
    """AES-256-CBC with the key and IV pgpool derives from `key` (see `pool_passwd_aes`)."""
    try:
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    except ImportError:  # pragma: no cover - cryptography comes with ansible-core
        raise PoolkitError(
            "pool_passwd AES entries need the Python package 'cryptography' (it comes with "
            "ansible-core; pip install cryptography)"
        ) from None
    secret = _utf8(check_pool_key(key), "pool key")
    # EVP_BytesToKey(EVP_aes_256_cbc(), EVP_sha1(), salt=NULL, key, count=1): D1 = SHA1(key),
    # Di = SHA1(D(i-1) + key); the first 32 bytes are the AES key, the next 16 the IV.
    derived, block = b"", b""
    while len(derived) < 48:
        block = hashlib.sha1(block + secret, usedforsecurity=False).digest()
        derived += block
    return Cipher(algorithms.AES(derived[:32]), modes.CBC(derived[32:48]))


def _pkcs7_pad(data: bytes) -> bytes:
    n = 16 - len(data) % 16
    return data + bytes([n]) * n


def pool_passwd_aes(user: str, password: str, key: str) -> str:
    """The pool_passwd line ``user:AES<base64>`` that ``pg_enc -m -k keyfile -u user`` writes.

    Pgpool-II's scheme (src/utils/ssl_utils.c: aes_get_key, aes_encrypt; pg_enc.c):
    key and IV from OpenSSL's EVP_BytesToKey with AES-256-CBC, SHA-1, no salt and one
    iteration over the key text; the password alone (no user name) encrypted with
    AES-256-CBC and PKCS#7 padding; standard base64 with padding, prefixed "AES". No salt
    and no random IV: the same key and password always give the same line, so there is
    nothing to inject for tests (verified byte for byte against pg_enc of 4.3.5 and 4.6.1).
    """
    _check_user(user)
    _check_password(password, "aes")
    encryptor = _cipher(key).encryptor()
    data = encryptor.update(_pkcs7_pad(_utf8(password, "password"))) + encryptor.finalize()
    return f"{user}:{AES_PREFIX}{base64.b64encode(data).decode('ascii')}"


def pool_passwd_aes_decrypt(text: str, key: str) -> str:
    """The password inside ``AES<base64>`` (or a whole ``user:AES<base64>`` line).

    PoolkitError when it does not decrypt with `key` (another key, or not an AES entry).
    """
    if not isinstance(text, str):
        raise PoolkitError(f"AES entry: expected a string, got {_type_name(text)}")
    secret = text.split(":", 1)[1] if ":" in text else text
    secret = secret.strip()
    if not secret.startswith(AES_PREFIX):
        raise PoolkitError("AES entry: does not start with 'AES'")
    try:
        data = base64.b64decode(secret[len(AES_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise PoolkitError("AES entry: the text after 'AES' is not base64") from None
    if not data or len(data) % 16:
        raise PoolkitError("AES entry: not a whole number of AES blocks")
    decryptor = _cipher(key).decryptor()
    plain = decryptor.update(data) + decryptor.finalize()
    pad = plain[-1]
    if not 1 <= pad <= 16 or plain[-pad:] != bytes([pad]) * pad:
        raise PoolkitError("AES entry: does not decrypt with this key")
    try:
        return plain[:-pad].decode("utf-8")
    except UnicodeDecodeError:
        raise PoolkitError("AES entry: does not decrypt with this key") from None


def pool_passwd_md5(user: str, password: str) -> str:
    """The pool_passwd line ``user:md5<hex>`` that ``pg_md5 -m -u user PASSWORD`` writes.

    The secret is PostgreSQL's md5 verifier, md5(password + user). Pgpool-II can check
    clients with it but cannot log in to a SCRAM backend or run its own checks with it.
    """
    _check_user(user)
    _check_password(password, "md5")
    return f"{user}:{md5_verifier(user, password)}"


def parse_pool_passwd(text: str) -> dict[str, str]:
    """``{user: secret}`` of pool_passwd text, read as Pgpool-II does for poolkit's lines.

    A line is ``user:secret`` (Pgpool-II also reads ``user:secret:backend_user:secret``;
    only the first secret is kept here); empty lines are skipped; a later line for the
    same user replaces an earlier one here (Pgpool-II uses the first: poolkit writes each
    user once).
    """
    if text is None:
        return {}
    if not isinstance(text, str):
        raise PoolkitError(f"pool_passwd: expected text, got {_type_name(text)}")
    entries: dict[str, str] = {}
    for raw in text.split("\n"):
        line = raw.rstrip("\r")
        if not line or ":" not in line:
            continue
        user, _, rest = line.partition(":")
        entries[user] = rest.split(":", 1)[0]
    return entries


def _entries(entries: Any, variable: str) -> list[tuple[str, str, str]]:
    """``(where, name, password)`` per entry of a users list, checked."""
    if isinstance(entries, (str, Mapping)) or not isinstance(entries, Sequence):
        raise PoolkitError(
            f"{variable}: expected a list of {{name, password}} mappings, got {_type_name(entries)}"
        )
    result: list[tuple[str, str, str]] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(entries):
        where = f"{variable}[{index}]"
        if not isinstance(entry, Mapping):
            raise PoolkitError(f"{where}: expected a mapping with name and password")
        name = entry.get("name")
        if name is None or name == "":
            raise PoolkitError(f"{where}: name is missing or empty")
        try:
            _check_user(name, "name")
        except PoolkitError as exc:
            raise PoolkitError(f"{where}: {exc}") from None
        where = f"{where} ({name!r})"
        if name in seen:
            raise PoolkitError(f"{where}: already listed as {variable}[{seen[name]}]")
        seen[name] = index
        password = entry.get("password")
        if password is None:
            raise PoolkitError(f"{where}: password is missing")
        result.append((where, name, password))
    return result


def _decrypts_to(secret: str, key: str, password: str) -> bool:
    """True when the AES `secret` decrypts with `key` to `password` (constant-time compare)."""
    if not secret.startswith(AES_PREFIX):
        return False
    try:
        plain = pool_passwd_aes_decrypt(secret, key)
    except PoolkitError:
        return False
    return hmac.compare_digest(_utf8(plain, "password"), _utf8(password, "password"))


def render_pool_passwd(
    entries: Sequence[Mapping[str, Any]],
    existing_text: str | None,
    key: str | None,
    method: str = "aes",
    variable: str = "pgpool_users",
) -> str:
    """pool_passwd text for `entries` ({name, password} mappings), sorted by user name.

    ``method`` ``aes`` (`pool_passwd_aes`, needs `key`: Pgpool-II can then log in to
    SCRAM backends) or ``md5`` (`pool_passwd_md5`). An entry of `existing_text` is kept
    byte for byte when it still decrypts (aes) or matches (md5) to the same password, so
    a second run writes the same file; users not in `entries` are dropped. Errors name
    ``variable[i]``. An empty list gives the empty string.
    """
    if method not in PASSWD_METHODS:
        raise PoolkitError(
            f"pgpool_pool_passwd_method: {method!r} is not one of {', '.join(PASSWD_METHODS)}"
        )
    checked = _entries(entries, variable)
    if method == "aes":
        try:
            check_pool_key(key)
        except PoolkitError as exc:
            raise PoolkitError(
                f"pgpool_pool_key: {exc}; method aes encrypts pool_passwd with it"
            ) from None
    aes_key = key if isinstance(key, str) else ""
    existing = parse_pool_passwd(existing_text or "")
    lines: dict[str, str] = {}
    for where, name, password in checked:
        try:
            _check_password(password, method)
            old = existing.get(name)
            if method == "aes":
                new = pool_passwd_aes(name, password, aes_key)
                same = old is not None and _decrypts_to(old, aes_key, password)
            else:
                new = pool_passwd_md5(name, password)
                same = old is not None and hmac.compare_digest(
                    f"{name}:{old}".encode(), new.encode()
                )
            lines[name] = f"{name}:{old}" if same else new
        except PoolkitError as exc:
            raise PoolkitError(f"{where}: {exc}") from None
    return "".join(lines[name] + "\n" for name in sorted(lines))


# ------------------------------------------------------------------------- pcp.conf


def pcp_conf_line(user: str, password: str) -> str:
    """One pcp.conf line, ``user:md5hex`` with the md5 of the password alone (what
    ``pg_md5 PASSWORD`` prints: `poolkit.verifiers.pcp_md5`).

    The sample pcp.conf: "No spaces or tabs are allowed anywhere in the line", lines
    starting with '#' are comments. The password may hold anything (it is hashed).
    """
    if not isinstance(user, str) or not user:
        raise PoolkitError("user name: must be a non-empty string")
    bad = next((ch for ch in user if ch in ": \t\n\r\0"), None)
    if bad is not None or user.startswith("#"):
        raise PoolkitError(
            f"user name: {user!r} cannot be a pcp.conf user (no ':', blanks or line breaks, "
            "no leading '#')"
        )
    return f"{user}:{pcp_md5(password)}"


def render_pcp_conf(
    entries: Sequence[Mapping[str, Any]], variable: str = "pgpool_pcp_users"
) -> str:
    """pcp.conf text for `entries` ({name, password} mappings), sorted by user name.

    md5 has no salt, so the same password always gives the same line (idempotent).
    """
    lines = []
    for where, name, password in _entries(entries, variable):
        try:
            lines.append(pcp_conf_line(name, password))
        except PoolkitError as exc:
            raise PoolkitError(f"{where}: {exc}") from None
    return "".join(line + "\n" for line in sorted(lines))
