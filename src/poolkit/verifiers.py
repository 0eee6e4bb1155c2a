"""Password verifiers for PostgreSQL roles, PgBouncer's auth_file and Pgpool-II's pcp.conf.

Pure functions, standard library only. Randomness is injected: ``salt=None`` draws a fresh
random salt, an explicit ``salt`` gives fixed test vectors.

Formats produced
----------------
* SCRAM-SHA-256, exactly as PostgreSQL stores it in ``pg_authid.rolpassword`` (and as
  PgBouncer reads it from ``auth_file``)::

      SCRAM-SHA-256$<iterations>:<base64 salt>$<base64 StoredKey>:<base64 ServerKey>

  SaltedPassword = PBKDF2-HMAC-SHA-256(SASLprep(password), salt, iterations),
  StoredKey = SHA-256(HMAC(SaltedPassword, "Client Key")),
  ServerKey = HMAC(SaltedPassword, "Server Key")  (RFC 5802, RFC 7677, RFC 5803).
* md5: ``"md5" + hex(md5(password + user))``, PostgreSQL's legacy role verifier.
* pcp md5: ``hex(md5(password))``, what Pgpool-II's ``pg_md5 PASSWORD`` prints for
  ``pcp.conf`` lines of the form ``user:md5hex``.

Idempotence
-----------
``keep_or_make`` returns an existing verifier unchanged when it was made from the same
password (same method, same iteration count), so re-running a deployment writes the same
salt and configuration files do not change.

PgBouncer auth_file (userlist.txt)
----------------------------------
Rules taken from PgBouncer's ``load_auth_file`` (src/loader.c) and doc/config.md,
section "Authentication file format":

* one entry per line: ``"username" "secret"``, both fields in double quotes; a double
  quote inside a field is written twice (``""``);
* leading whitespace and empty lines are skipped; a line whose first non-blank
  character is ``;`` is a comment (``#`` is *not* a comment in this file);
* PgBouncer ignores the rest of the line after the second field;
* when a user appears twice, the later line wins.

``parse_userlist`` follows these rules but is stricter than PgBouncer where PgBouncer
silently misreads a broken file: only blanks may separate the two fields, and a field may
not run past the end of its line (PgBouncer stops loading the file at the first broken
entry; here the line number is reported instead).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import stringprep
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from poolkit import PoolkitError

SCRAM_PREFIX = "SCRAM-SHA-256$"
DEFAULT_ITERATIONS = 4096  # PostgreSQL's default (scram_iterations, fixed before PG 16)
SALT_LENGTH = 16  # bytes; PostgreSQL's SCRAM_DEFAULT_SALT_LEN
KEY_LENGTH = 32  # SHA-256 digest size: StoredKey and ServerKey
METHODS = ("scram-sha-256", "md5")

_MD5_VERIFIER = re.compile(r"md5[0-9a-f]{32}")
# Anything an operator may have pasted from pg_authid or a userlist: refused as a password.
_MD5_LOOKALIKE = re.compile(r"md5[0-9a-fA-F]{32}")
_DECIMAL = re.compile(r"[0-9]+")


# --------------------------------------------------------------------------- SASLprep


def _is_prohibited_output(ch: str) -> bool:
    """RFC 4013 section 2.3 prohibited output plus unassigned code points (A.1).

    Same union of RFC 3454 tables as PostgreSQL's ``prohibited_output_ranges`` and
    ``unassigned_codepoint_ranges``; the stringprep module uses the Unicode 3.2 data
    that RFC 3454 is defined on, as PostgreSQL's tables do.
    """
    return (
        stringprep.in_table_c12(ch)
        or stringprep.in_table_c21_c22(ch)
        or stringprep.in_table_c3(ch)
        or stringprep.in_table_c4(ch)
        or stringprep.in_table_c5(ch)
        or stringprep.in_table_c6(ch)
        or stringprep.in_table_c7(ch)
        or stringprep.in_table_c8(ch)
        or stringprep.in_table_c9(ch)
        or stringprep.in_table_a1(ch)
    )


def _bidi_ok(chars: list[str]) -> bool:
    """RFC 3454 section 6: RandALCat strings contain no LCat and start and end with RandALCat."""
    if not any(stringprep.in_table_d1(ch) for ch in chars):
        return True
    if any(stringprep.in_table_d2(ch) for ch in chars):
        return False
    return stringprep.in_table_d1(chars[0]) and stringprep.in_table_d1(chars[-1])


def saslprep(password: str) -> str:
    """Prepare a password for SCRAM the way PostgreSQL does (``pg_saslprep``).

    PostgreSQL's backend and libpq both run ``pg_saslprep`` (src/common/saslprep.c) before
    PBKDF2, and this mirrors it step by step, including where it departs from a strict
    reading of RFC 4013:

    * a pure ASCII password is returned unchanged, control characters included;
    * a password that is not valid UTF-8 is used as raw bytes; here that is a ``str``
      holding lone surrogates (e.g. undecodable bytes read with ``surrogateescape``),
      returned unchanged;
    * otherwise: non-ASCII spaces (C.1.2) become U+0020, "commonly mapped to nothing"
      characters (B.1) are removed, the result is NFKC-normalised;
    * the prohibited-output check (C.1.2, C.2, C.3-C.9 and unassigned A.1) and the bidi
      check run, as in PostgreSQL, on the mapped string *before* normalisation;
    * when the mapped string is empty, contains a prohibited character or fails the bidi
      check, PostgreSQL does not reject the password: it falls back to the raw password.
      This function does the same and returns ``password`` unchanged instead of raising,
      so the verifier matches what a libpq client computes at login.
    """
    if not isinstance(password, str):
        raise PoolkitError(f"password: expected a string, got {type(password).__name__}")
    if password.isascii():
        return password
    try:
        password.encode("utf-8")
    except UnicodeEncodeError:
        return password  # not valid UTF-8: PostgreSQL uses the bytes as they are

    mapped: list[str] = []
    for ch in password:
        if stringprep.in_table_c12(ch):
            mapped.append(" ")
        elif stringprep.in_table_b1(ch):
            continue
        else:
            mapped.append(ch)
    if not mapped:
        return password
    if any(_is_prohibited_output(ch) for ch in mapped) or not _bidi_ok(mapped):
        return password
    return unicodedata.normalize("NFKC", "".join(mapped))


# --------------------------------------------------------------------------- SCRAM


@dataclass(frozen=True)
class ScramVerifier:
    """The parts of a ``SCRAM-SHA-256$...`` verifier, keys and salt decoded."""

    iterations: int
    salt: bytes
    stored_key: bytes
    server_key: bytes

    def __str__(self) -> str:
        return (
            f"{SCRAM_PREFIX}{self.iterations}:{_b64(self.salt)}"
            f"${_b64(self.stored_key)}:{_b64(self.server_key)}"
        )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _utf8(text: str, what: str = "password") -> bytes:
    if not isinstance(text, str):
        raise PoolkitError(f"{what}: expected a string, got {type(text).__name__}")
    # surrogateescape turns smuggled undecodable bytes back into those bytes.
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError as exc:
        raise PoolkitError(
            f"{what}: contains a character that cannot be encoded as UTF-8 "
            f"(position {exc.start}); use a valid Unicode string"
        ) from None


def _scram_keys(password: str, salt: bytes, iterations: int) -> tuple[bytes, bytes]:
    salted = hashlib.pbkdf2_hmac("sha256", _utf8(saslprep(password)), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    return stored_key, server_key


def _check_iterations(iterations: int) -> int:
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
        raise PoolkitError(
            f"iterations: {iterations!r} is not a positive integer "
            f"(PostgreSQL's default is {DEFAULT_ITERATIONS})"
        )
    return iterations


def scram_sha256(
    password: str, salt: bytes | None = None, iterations: int = DEFAULT_ITERATIONS
) -> str:
    """A PostgreSQL SCRAM-SHA-256 verifier for ``password``.

    ``salt=None`` draws 16 random bytes, like PostgreSQL; pass bytes for a fixed vector.
    """
    _check_iterations(iterations)
    if salt is None:
        salt = secrets.token_bytes(SALT_LENGTH)
    elif not isinstance(salt, bytes) or not salt:
        raise PoolkitError(f"salt: expected non-empty bytes, got {type(salt).__name__}")
    stored_key, server_key = _scram_keys(password, salt, iterations)
    return str(ScramVerifier(iterations, salt, stored_key, server_key))


def _b64_field(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise PoolkitError(f"SCRAM verifier: {what} {text!r} is not valid base64") from None


def parse_scram(verifier: str) -> ScramVerifier:
    """Split ``SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`` into its parts.

    Raises PoolkitError naming the malformed part. Accepts what PostgreSQL's
    ``parse_scram_secret`` accepts, except that the iteration count must be a positive
    decimal number and base64 must be canonical (padded, no stray characters).
    """
    if not isinstance(verifier, str):
        raise PoolkitError(f"SCRAM verifier: expected a string, got {type(verifier).__name__}")
    if not verifier.startswith(SCRAM_PREFIX):
        raise PoolkitError(f"SCRAM verifier: must start with {SCRAM_PREFIX!r}")
    rest = verifier[len(SCRAM_PREFIX) :]
    parts = rest.split("$")
    if len(parts) != 2:
        raise PoolkitError(
            "SCRAM verifier: expected SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>"
        )
    params, keys = parts
    if params.count(":") != 1:
        raise PoolkitError("SCRAM verifier: expected <iterations>:<salt> after the prefix")
    if keys.count(":") != 1:
        raise PoolkitError("SCRAM verifier: expected <StoredKey>:<ServerKey> after the salt")
    iterations_text, salt_text = params.split(":")
    stored_text, server_text = keys.split(":")
    if not _DECIMAL.fullmatch(iterations_text) or int(iterations_text) < 1:
        raise PoolkitError(
            f"SCRAM verifier: iteration count {iterations_text!r} is not a positive integer"
        )
    salt = _b64_field(salt_text, "salt")
    if not salt:
        raise PoolkitError("SCRAM verifier: salt is empty")
    stored_key = _b64_field(stored_text, "StoredKey")
    server_key = _b64_field(server_text, "ServerKey")
    for name, key in (("StoredKey", stored_key), ("ServerKey", server_key)):
        if len(key) != KEY_LENGTH:
            raise PoolkitError(
                f"SCRAM verifier: {name} decodes to {len(key)} bytes, expected {KEY_LENGTH}"
            )
    return ScramVerifier(int(iterations_text), salt, stored_key, server_key)


# --------------------------------------------------------------------------- md5


def md5_verifier(user: str, password: str) -> str:
    """PostgreSQL's md5 verifier: ``"md5" + hex(md5(password + user))``."""
    digest = hashlib.md5(_utf8(password) + _utf8(user, "user"), usedforsecurity=False)
    return "md5" + digest.hexdigest()


def pcp_md5(password: str) -> str:
    """Hex md5 of the password alone: what ``pg_md5 PASSWORD`` prints for pcp.conf."""
    if not isinstance(password, str) or not password:
        raise PoolkitError("password: must be a non-empty string")
    return hashlib.md5(_utf8(password), usedforsecurity=False).hexdigest()


# --------------------------------------------------------------------------- verifiers


def verifier_method(verifier: str) -> str | None:
    """``"scram-sha-256"`` or ``"md5"`` for a well-formed verifier, None for anything else.

    Anything else includes plaintext passwords, which PgBouncer's auth_file also allows.
    """
    if not isinstance(verifier, str):
        return None
    if _MD5_VERIFIER.fullmatch(verifier):
        return "md5"
    if verifier.startswith(SCRAM_PREFIX):
        try:
            parse_scram(verifier)
        except PoolkitError:
            return None
        return "scram-sha-256"
    return None


def looks_like_verifier(text: str) -> bool:
    """True for a string that is, or was probably meant to be, a stored verifier.

    PostgreSQL (``get_password_type``) and PgBouncer store such a string as the verifier
    itself instead of hashing it, so a "password" of this shape is almost certainly a
    verifier pasted into the wrong field. Deliberately broader than ``verifier_method``:
    a malformed ``SCRAM-SHA-256$...`` or an upper-case md5 hex string counts too.
    """
    return text.startswith(SCRAM_PREFIX) or bool(_MD5_LOOKALIKE.fullmatch(text))


def verifier_matches(verifier: str, password: str, user: str | None = None) -> bool:
    """True when ``verifier`` (SCRAM or md5) was made from ``password``.

    SCRAM is recomputed with the verifier's own salt and iteration count; md5 needs
    ``user``. Both keys are compared in constant time. A malformed verifier, a plaintext
    secret or an md5 verifier without ``user`` never matches.
    """
    if not isinstance(password, str):
        raise PoolkitError(f"password: expected a string, got {type(password).__name__}")
    method = verifier_method(verifier)
    if method == "scram-sha-256":
        parsed = parse_scram(verifier)
        stored_key, server_key = _scram_keys(password, parsed.salt, parsed.iterations)
        # Evaluate both comparisons: no early exit that depends on the secret.
        same_stored = hmac.compare_digest(stored_key, parsed.stored_key)
        same_server = hmac.compare_digest(server_key, parsed.server_key)
        return same_stored & same_server
    if method == "md5" and user is not None:
        return hmac.compare_digest(md5_verifier(user, password).encode(), verifier.encode())
    return False


def _check_method(method: str) -> str:
    if method not in METHODS:
        raise PoolkitError(
            f"method: {method!r} is not supported; valid choices: {', '.join(METHODS)}"
        )
    return method


def _check_password(password: str, what: str = "password") -> str:
    if not isinstance(password, str):
        raise PoolkitError(f"{what}: expected a string, got {type(password).__name__}")
    if not password:
        raise PoolkitError(f"{what}: is empty; PostgreSQL cannot log in with an empty password")
    if "\x00" in password:
        raise PoolkitError(f"{what}: contains a NUL character, which PostgreSQL cannot store")
    if looks_like_verifier(password):
        raise PoolkitError(
            f"{what}: looks like a stored verifier (md5... or SCRAM-SHA-256$...), not a "
            "password; PostgreSQL and PgBouncer would store it as-is. Give it as a "
            "verifier instead, or choose another password"
        )
    return password


def keep_or_make(
    password: str,
    user: str,
    method: str,
    existing: str | None,
    salt: bytes | None = None,
    iterations: int = DEFAULT_ITERATIONS,
) -> str:
    """The idempotence primitive: ``existing`` if it still fits, else a new verifier.

    ``existing`` is kept unchanged when it is of ``method`` and was made from
    ``password`` (for md5: for this ``user``; for SCRAM: with ``iterations``, so changing
    the iteration count re-hashes). Anything else, including None, a plaintext or a
    malformed verifier, is replaced by a new one (``salt=None``: random salt).
    """
    _check_method(method)
    _check_password(password)
    _check_iterations(iterations)
    if method == "md5" and (not isinstance(user, str) or not user):
        raise PoolkitError("user: md5 verifiers need the user name (md5 of password + user)")
    if existing and verifier_method(existing) == method:
        same_cost = method != "scram-sha-256" or parse_scram(existing).iterations == iterations
        if same_cost and verifier_matches(existing, password, user):
            return existing
    if method == "md5":
        return md5_verifier(user, password)
    return scram_sha256(password, salt=salt, iterations=iterations)


# --------------------------------------------------------------------------- userlist.txt


def _quote(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def _check_field(value: str, what: str) -> str:
    if not isinstance(value, str):
        raise PoolkitError(f"{what}: expected a string, got {type(value).__name__}")
    bad = next((ch for ch in value if ch in "\n\r\x00"), None)
    if bad is not None:
        raise PoolkitError(f"{what}: contains {bad!r}, which userlist.txt cannot hold")
    return value


def userlist_line(user: str, secret: str) -> str:
    """One auth_file line, ``"user" "secret"``, quotes doubled; no newline."""
    _check_field(user, "user name")
    if not user:
        raise PoolkitError("user name: is empty")
    _check_field(secret, f"secret of {user!r}")
    return f"{_quote(user)} {_quote(secret)}"


def render_userlist(entries: Mapping[str, str]) -> str:
    """PgBouncer auth_file text: one line per user, sorted by user name, newline-terminated.

    An empty mapping renders as the empty string.
    """
    return "".join(userlist_line(user, entries[user]) + "\n" for user in sorted(entries))


def _read_quoted(line: str, start: int, lineno: int, what: str) -> tuple[str, int]:
    """Read a quoted field whose opening quote is at ``start``; return (value, next index)."""
    if start >= len(line) or line[start] != '"':
        raise PoolkitError(f"userlist line {lineno}: expected {what} in double quotes")
    out: list[str] = []
    i = start + 1
    while i < len(line):
        ch = line[i]
        if ch == '"':
            if line.startswith('""', i):
                out.append('"')
                i += 2
                continue
            return "".join(out), i + 1
        out.append(ch)
        i += 1
    raise PoolkitError(f"userlist line {lineno}: {what} has no closing double quote")


def parse_userlist(text: str) -> dict[str, str]:
    """Parse PgBouncer auth_file text into ``{user: secret}`` (see the module docstring).

    Secrets are returned as written: verifiers or plaintext passwords. Raises PoolkitError
    naming the 1-based line number of a malformed line.
    """
    if not isinstance(text, str):
        raise PoolkitError(f"userlist: expected text, got {type(text).__name__}")
    entries: dict[str, str] = {}
    for lineno, raw in enumerate(text.split("\n"), start=1):
        line = raw.lstrip(" \t\r\v\f")
        if not line or line.startswith(";"):
            continue
        user, pos = _read_quoted(line, 0, lineno, "the user name")
        if not user:
            raise PoolkitError(f"userlist line {lineno}: the user name is empty")
        gap_end = len(line) - len(line[pos:].lstrip(" \t"))
        if gap_end == pos:
            raise PoolkitError(
                f"userlist line {lineno}: expected blank space between user name and secret"
            )
        secret, _ = _read_quoted(line, gap_end, lineno, "the secret")
        entries[user] = secret  # later lines win, as in PgBouncer; rest of line ignored
    return entries


def _user_field(user: Mapping, key: str, where: str) -> str | None:
    value = user.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise PoolkitError(f"{where}: {key} must be a string, got {type(value).__name__}")
    return value


def derived_salt(password: str, user: str) -> bytes:
    """A SCRAM salt that every host derives alike from the password and the user name.

    For verifiers that several pooler hosts must write identically without talking to
    each other (PgBouncer logs in to the server with a SCRAM secret only when the server
    holds the same verifier). Keyed with the password, so it gives an attacker nothing to
    precompute: testing a candidate password costs the same PBKDF2 work as with a random
    salt. The price: the same user and password give the same verifier everywhere, so
    password reuse across clusters is visible to whoever can read both verifiers.
    """
    key = _utf8(saslprep(password))
    return hmac.new(key, b"poolkit scram salt\x00" + _utf8(user), hashlib.sha256).digest()[:16]


def userlist_entries(
    users: Iterable[Mapping],
    existing: Mapping[str, str],
    method: str,
    salt: bytes | None = None,
    iterations: int = DEFAULT_ITERATIONS,
    variable: str = "users",
    shared: bool = False,
) -> dict[str, str]:
    """The auth_file entries for ``users``, keeping ``existing`` verifiers that still match.

    Errors name ``variable[index]`` (the role passes ``pgbouncer_users``). With ``shared``,
    a new SCRAM verifier takes ``derived_salt`` instead of a random salt, so every host
    computing it writes the same line.

    Each user is ``{"name": ..., "password": ...}`` or ``{"name": ..., "verifier": ...}``
    (other keys are ignored). The result holds exactly the listed users; users only in
    ``existing`` are dropped.

    * ``password``: hashed with ``method`` through ``keep_or_make``, so an unchanged
      password keeps its line byte for byte. A password shaped like a verifier
      (``md5`` + 32 hex digits, or ``SCRAM-SHA-256$...``) is refused rather than hashed:
      it is almost certainly a verifier in the wrong field, and hashing it would silently
      lock the user out.
    * ``verifier``: a precomputed md5 or SCRAM-SHA-256 verifier, validated and taken
      as-is whatever ``method`` is (``method`` applies to passwords only). Plaintext is
      refused here: put plaintext in ``password``.

    ``salt`` (tests only) is used for every new SCRAM verifier; None draws a random one each.
    """
    _check_method(method)
    result: dict[str, str] = {}
    for index, user in enumerate(users):
        where = f"{variable}[{index}]"
        if not isinstance(user, Mapping):
            raise PoolkitError(f"{where}: expected a mapping with name and password or verifier")
        name = _user_field(user, "name", where)
        if not name:
            raise PoolkitError(f"{where}: name is missing or empty")
        where = f"{where} ({name!r})"
        _check_field(name, f"{where}: name")
        if name in result:
            raise PoolkitError(f"{where}: user is listed twice")
        password = _user_field(user, "password", where)
        verifier = _user_field(user, "verifier", where)
        if password is not None and verifier is not None:
            raise PoolkitError(f"{where}: give either password or verifier, not both")
        if verifier is not None:
            if verifier_method(verifier) is None:
                raise PoolkitError(
                    f"{where}: verifier is neither md5 (md5 + 32 lower-case hex digits) nor "
                    "SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>"
                )
            result[name] = verifier
        elif password is not None:
            try:
                new_salt = derived_salt(password, name) if shared and salt is None else salt
                result[name] = keep_or_make(
                    password, name, method, existing.get(name), salt=new_salt, iterations=iterations
                )
            except PoolkitError as exc:
                raise PoolkitError(f"{where}: {exc}") from None
        else:
            raise PoolkitError(f"{where}: needs a password or a verifier")
    return result
