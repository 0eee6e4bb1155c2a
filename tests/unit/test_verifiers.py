"""poolkit.verifiers: SCRAM-SHA-256, md5, pcp md5, SASLprep, keep_or_make and userlist.txt."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from poolkit import PoolkitError
from poolkit.verifiers import (
    ScramVerifier,
    derived_salt,
    keep_or_make,
    md5_verifier,
    parse_scram,
    parse_userlist,
    pcp_md5,
    render_userlist,
    saslprep,
    scram_sha256,
    userlist_entries,
    verifier_matches,
)

FAST = 16  # iteration count for tests that are not about a specific vector

# RFC 7677 section 3 example: user "user", password "pencil", salt and iteration count of
# the server-first-message, and the ClientProof / ServerSignature the RFC publishes.
RFC_SALT = "W22ZaJ0SNY7soEsUEjb6gQ=="
RFC_AUTH_MESSAGE = (
    b"n=user,r=rOprNGfwEbeRWgbNEkqO,"
    b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,"
    b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
)
RFC_CLIENT_PROOF = "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
RFC_SERVER_SIGNATURE = "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

# The literals below were computed once with hashlib.pbkdf2_hmac / hmac, then confirmed by
# independent routes: SaltedPassword equals `openssl kdf -keylen 32 -kdfopt digest:SHA256
# -kdfopt pass:pencil -kdfopt hexsalt:<salt> -kdfopt iter:4096 PBKDF2` (OpenSSL 3.5) and the
# hand-written PBKDF2 in this file; the keys reproduce RFC 7677's published ClientProof and
# ServerSignature (test below, no poolkit code involved); and PostgreSQL 15.18 accepted a
# SCRAM login with password "pencil" for a role created with PENCIL_VERIFIER.
RFC_SALTED_PASSWORD = "c4a49510323ab4f952cac1fa99441939e78ea74d6be81ddf7096e87513dc615d"
RFC_STORED_KEY = "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY="
RFC_SERVER_KEY = "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="
PENCIL_VERIFIER = f"SCRAM-SHA-256$4096:{RFC_SALT}${RFC_STORED_KEY}:{RFC_SERVER_KEY}"

# Verifiers PostgreSQL 15.18 itself computed (ALTER ROLE ... PASSWORD '<plaintext>' with
# password_encryption = scram-sha-256, read back from pg_authid.rolpassword): they pin
# SASLprep as the server applies it.
POSTGRES_COMPUTED = [
    # NFKC: U+2168 ROMAN NUMERAL NINE -> "IX"
    (
        "caf\u00e9 \u2168",
        "SCRAM-SHA-256$4096:wBvddVveQXZC5KEXopG3ig==$85aFfw7AHEITpi+rWO2bs2GWpR6zi/dBT7erDFx9rt0="
        ":p6AvXRv7MHqsMQ/SC3fzFdGs4zv3XhjBo2ERXi96if8=",
    ),
    # U+0340 is prohibited before NFKC (PostgreSQL checks the unnormalised string): raw bytes
    (
        "A\u0340x",
        "SCRAM-SHA-256$4096:rpTjk4UcnM60LEL5w97MqA==$7KboziVMw2BERnmdsCqwYJoj1RWhglY1yWcqhAY8KD4="
        ":Jl/dcfZJ39gjiU6Q7dUeSasdvKkWHurorM6NcbotU/o=",
    ),
    # no-break space -> space, soft hyphen removed, U+FB01 ligature -> "fi"
    (
        "p\u00a0w\u00adx\ufb01",
        "SCRAM-SHA-256$4096:aCILwgKQ41uwu8MdwFLCwg==$QgdznvaYK0QrvTcY/KTaRFD7llsIPC9I2fDX06MR1Co="
        ":u4T79pVqsOBj8A+gCA5L71UCOgM/1hW4Rzo/nLV7VO0=",
    ),
]


def _hmac(key: bytes, msg: bytes) -> bytes:
    return hmac.new(key, msg, hashlib.sha256).digest()


def _hand_pbkdf2_sha256(password: bytes, salt: bytes, iterations: int) -> bytes:
    """RFC 8018 PBKDF2, first (and only, for 32 bytes) block, written out by hand."""
    u = _hmac(password, salt + (1).to_bytes(4, "big"))
    out = bytearray(u)
    for _ in range(iterations - 1):
        u = _hmac(password, u)
        out = bytearray(a ^ b for a, b in zip(out, u, strict=True))
    return bytes(out)


# --------------------------------------------------------------------------- SCRAM vectors


def test_scram_sha256_reproduces_rfc7677_vector():
    verifier = scram_sha256("pencil", salt=base64.b64decode(RFC_SALT), iterations=4096)
    assert verifier == PENCIL_VERIFIER


def test_literal_keys_reproduce_rfc7677_client_proof_and_server_signature():
    stored_key = base64.b64decode(RFC_STORED_KEY)
    server_key = base64.b64decode(RFC_SERVER_KEY)
    assert base64.b64encode(_hmac(server_key, RFC_AUTH_MESSAGE)).decode() == RFC_SERVER_SIGNATURE
    client_signature = _hmac(stored_key, RFC_AUTH_MESSAGE)
    proof = base64.b64decode(RFC_CLIENT_PROOF)
    client_key = bytes(a ^ b for a, b in zip(proof, client_signature, strict=True))
    assert hashlib.sha256(client_key).digest() == stored_key


def test_literal_keys_follow_from_hand_written_pbkdf2():
    salted = _hand_pbkdf2_sha256(b"pencil", base64.b64decode(RFC_SALT), 4096)
    assert salted.hex() == RFC_SALTED_PASSWORD
    stored_key = hashlib.sha256(_hmac(salted, b"Client Key")).digest()
    server_key = _hmac(salted, b"Server Key")
    assert base64.b64encode(stored_key).decode() == RFC_STORED_KEY
    assert base64.b64encode(server_key).decode() == RFC_SERVER_KEY


@pytest.mark.parametrize(("password", "verifier"), POSTGRES_COMPUTED)
def test_scram_sha256_matches_verifier_computed_by_postgresql(password, verifier):
    parsed = parse_scram(verifier)
    assert scram_sha256(password, salt=parsed.salt, iterations=parsed.iterations) == verifier


def test_scram_sha256_draws_a_fresh_16_byte_salt_by_default():
    first = parse_scram(scram_sha256("pw", iterations=FAST))
    second = parse_scram(scram_sha256("pw", iterations=FAST))
    assert len(first.salt) == 16
    assert first.salt != second.salt


@pytest.mark.parametrize("iterations", [0, -1, True, "4096", 4096.0])
def test_scram_sha256_refuses_bad_iteration_count(iterations):
    with pytest.raises(PoolkitError, match="iterations"):
        scram_sha256("pw", iterations=iterations)


def test_scram_sha256_uses_saslprep():
    salt = b"0123456789abcdef"
    assert scram_sha256("\u2168", salt, FAST) == scram_sha256("IX", salt, FAST)


def test_scram_sha256_hashes_raw_bytes_of_invalid_utf8():
    # b"\xe2\x85\xa8\xff" is "\u2168" followed by a stray byte, decoded with surrogateescape.
    password = b"\xe2\x85\xa8\xff".decode("utf-8", "surrogateescape")
    salt = b"0123456789abcdef"
    salted = hashlib.pbkdf2_hmac("sha256", b"\xe2\x85\xa8\xff", salt, FAST)
    expected_stored = hashlib.sha256(_hmac(salted, b"Client Key")).digest()
    assert parse_scram(scram_sha256(password, salt, FAST)).stored_key == expected_stored


# --------------------------------------------------------------------------- md5 vectors


@pytest.mark.parametrize(
    ("user", "password", "verifier"),
    [
        # PgBouncer doc/config.md, "Authentication file format"
        ("admin", "1234", "md545f2603610af569b6155c45067268c6b"),
        # Pgpool-II pg_md5 documentation: password "password", user "user"
        ("user", "password", "md54d45974e13472b5a0be3533de4666414"),
    ],
)
def test_md5_verifier_known_values(user, password, verifier):
    assert md5_verifier(user, password) == verifier


@pytest.mark.parametrize(
    ("password", "digest"),
    [
        # Pgpool-II "Configuring pcp.conf": pg_md5 your_password
        ("your_password", "1060b7b46a3bd36b3a0d66e0127d0517"),
        # pg_md5(1) man page example
        ("foo", "acbd18db4cc2f85cedef654fccc4a4d8"),
    ],
)
def test_pcp_md5_known_values(password, digest):
    assert pcp_md5(password) == digest


def test_pcp_md5_refuses_empty_password():
    with pytest.raises(PoolkitError, match="password"):
        pcp_md5("")


# --------------------------------------------------------------------------- SASLprep


@pytest.mark.parametrize(
    ("password", "prepared"),
    [
        ("a\u00a0b", "a b"),  # C.1.2 no-break space -> space
        ("a\u3000b", "a b"),  # C.1.2 ideographic space -> space
        ("pass\u00adword", "password"),  # B.1 soft hyphen -> nothing
        ("x\u200by", "x y"),  # U+200B is in C.1.2 and B.1: PostgreSQL maps it to space
        ("\u2168", "IX"),  # NFKC
        ("\ufb01", "fi"),  # NFKC ligature
        ("cafe\u0301", "caf\u00e9"),  # NFKC composes
        ("\u05d0\u05d1", "\u05d0\u05d1"),  # right-to-left only: allowed
    ],
)
def test_saslprep_maps_and_normalises(password, prepared):
    assert saslprep(password) == prepared


@pytest.mark.parametrize(
    "password",
    [
        "caf\u00e9\u0007",  # C.2.1 ASCII control in a non-ASCII password
        "A\u0340",  # C.8, checked before NFKC as PostgreSQL does (strict RFC 4013: "\u00c0")
        "\u2168\ue000",  # C.3 private use
        "\u2168\u0221",  # A.1: unassigned in Unicode 3.2
        "\u05d0a\u05d0",  # bidi: RandALCat mixed with LCat
        "\u05d0\u2168",  # bidi: RandALCat string not ending with RandALCat
        "\u00ad",  # maps to the empty string
        "\u2168\udc80",  # not valid UTF-8 (an undecodable byte kept by surrogateescape)
    ],
)
def test_saslprep_falls_back_to_raw_password_like_postgresql(password):
    assert saslprep(password) == password


@pytest.mark.parametrize("password", ["pencil", "\x01ctrl\x7f", ""])
def test_saslprep_returns_ascii_unchanged(password):
    assert saslprep(password) == password


# --------------------------------------------------------------------------- parse_scram


def test_parse_scram_splits_the_verifier():
    parsed = parse_scram(PENCIL_VERIFIER)
    assert parsed == ScramVerifier(
        iterations=4096,
        salt=base64.b64decode(RFC_SALT),
        stored_key=base64.b64decode(RFC_STORED_KEY),
        server_key=base64.b64decode(RFC_SERVER_KEY),
    )
    assert str(parsed) == PENCIL_VERIFIER


KEY = RFC_STORED_KEY


@pytest.mark.parametrize(
    ("verifier", "complaint"),
    [
        ("md5" + "0" * 32, "must start with"),
        (f"SCRAM-SHA-1$4096:{RFC_SALT}${KEY}:{KEY}", "must start with"),
        (f"SCRAM-SHA-256$4096:{RFC_SALT}", "expected SCRAM-SHA-256"),
        (f"SCRAM-SHA-256$4096:{RFC_SALT}${KEY}:{KEY}$x", "expected SCRAM-SHA-256"),
        (f"SCRAM-SHA-256${RFC_SALT}${KEY}:{KEY}", "<iterations>:<salt>"),
        (f"SCRAM-SHA-256$4096:{RFC_SALT}${KEY}{KEY}", "<StoredKey>:<ServerKey>"),
        (f"SCRAM-SHA-256$many:{RFC_SALT}${KEY}:{KEY}", "iteration count 'many'"),
        (f"SCRAM-SHA-256$0:{RFC_SALT}${KEY}:{KEY}", "iteration count '0'"),
        (f"SCRAM-SHA-256$-5:{RFC_SALT}${KEY}:{KEY}", "iteration count '-5'"),
        (f"SCRAM-SHA-256$4096:not*b64${KEY}:{KEY}", "salt 'not\\*b64' is not valid base64"),
        (f"SCRAM-SHA-256$4096:${KEY}:{KEY}", "salt is empty"),
        (f"SCRAM-SHA-256$4096:{RFC_SALT}$c2hvcnQ=:{KEY}", "StoredKey decodes to 5 bytes"),
        (f"SCRAM-SHA-256$4096:{RFC_SALT}${KEY}:%%", "ServerKey '%%' is not valid base64"),
    ],
)
def test_parse_scram_names_what_is_malformed(verifier, complaint):
    with pytest.raises(PoolkitError, match=complaint):
        parse_scram(verifier)


# --------------------------------------------------------------------------- verifier_matches


@pytest.mark.parametrize(
    ("verifier", "password", "user", "expected"),
    [
        (PENCIL_VERIFIER, "pencil", None, True),
        (PENCIL_VERIFIER, "pencil", "anyone", True),
        (PENCIL_VERIFIER, "Pencil", None, False),
        ("md545f2603610af569b6155c45067268c6b", "1234", "admin", True),
        ("md545f2603610af569b6155c45067268c6b", "1234", "root", False),
        ("md545f2603610af569b6155c45067268c6b", "1234", None, False),
        ("1234", "1234", "admin", False),  # a plaintext secret is not a verifier
        ("SCRAM-SHA-256$4096:broken", "pencil", None, False),
    ],
)
def test_verifier_matches(verifier, password, user, expected):
    assert verifier_matches(verifier, password, user) is expected


@pytest.mark.parametrize(("password", "verifier"), POSTGRES_COMPUTED)
def test_verifier_matches_verifiers_computed_by_postgresql(password, verifier):
    assert verifier_matches(verifier, password, None)


# --------------------------------------------------------------------------- keep_or_make


def test_keep_or_make_keeps_existing_verifier_for_same_password():
    existing = scram_sha256("s3cret", iterations=FAST)
    assert keep_or_make("s3cret", "app", "scram-sha-256", existing, iterations=FAST) == existing


def test_keep_or_make_changes_salt_for_a_different_password():
    existing = scram_sha256("s3cret", iterations=FAST)
    made = keep_or_make("n3w", "app", "scram-sha-256", existing, iterations=FAST)
    assert verifier_matches(made, "n3w")
    assert parse_scram(made).salt != parse_scram(existing).salt


def test_keep_or_make_uses_the_injected_salt_for_a_new_verifier():
    made = keep_or_make("pencil", "user", "scram-sha-256", None, base64.b64decode(RFC_SALT))
    assert made == PENCIL_VERIFIER


@pytest.mark.parametrize(
    ("existing", "method", "prefix"),
    [
        (md5_verifier("app", "s3cret"), "scram-sha-256", "SCRAM-SHA-256$"),
        (scram_sha256("s3cret", iterations=FAST), "md5", "md5"),
    ],
)
def test_keep_or_make_makes_new_verifier_when_method_changes(existing, method, prefix):
    made = keep_or_make("s3cret", "app", method, existing, iterations=FAST)
    assert made.startswith(prefix)
    assert verifier_matches(made, "s3cret", "app")


def test_keep_or_make_rehashes_when_iteration_count_changes():
    existing = scram_sha256("s3cret", iterations=FAST)
    made = keep_or_make("s3cret", "app", "scram-sha-256", existing, iterations=FAST + 1)
    assert parse_scram(made).iterations == FAST + 1


@pytest.mark.parametrize(("user", "kept"), [("app", True), ("renamed", False)])
def test_keep_or_make_md5_depends_on_user(user, kept):
    existing = md5_verifier("app", "s3cret")
    assert (keep_or_make("s3cret", user, "md5", existing) == existing) is kept


@pytest.mark.parametrize("existing", ["s3cret", "", "SCRAM-SHA-256$garbage", "md5XYZ"])
def test_keep_or_make_replaces_plaintext_or_malformed_existing(existing):
    made = keep_or_make("s3cret", "app", "scram-sha-256", existing, iterations=FAST)
    assert made != existing
    assert verifier_matches(made, "s3cret")


@pytest.mark.parametrize("method", ["scram", "SCRAM-SHA-256", "password", "pcp-md5"])
def test_keep_or_make_refuses_unknown_method(method):
    with pytest.raises(PoolkitError, match=rf"{method!r}.*scram-sha-256, md5"):
        keep_or_make("s3cret", "app", method, None)


@pytest.mark.parametrize(
    ("password", "complaint"),
    [
        ("", "empty"),
        ("a\x00b", "NUL"),
        (None, "expected a string"),
        (1234, "expected a string"),
        ("md5" + "ab" * 16, "looks like a stored verifier"),
        ("md5" + "AB" * 16, "looks like a stored verifier"),  # upper-case hex too
        (PENCIL_VERIFIER, "looks like a stored verifier"),
        ("SCRAM-SHA-256$not-even-valid", "looks like a stored verifier"),
    ],
)
def test_keep_or_make_refuses_unusable_password(password, complaint):
    with pytest.raises(PoolkitError, match=complaint):
        keep_or_make(password, "app", "scram-sha-256", None)


def test_keep_or_make_md5_needs_user():
    with pytest.raises(PoolkitError, match="user"):
        keep_or_make("s3cret", "", "md5", None)


# --------------------------------------------------------------------------- userlist.txt


def test_render_userlist_sorts_and_doubles_quotes():
    text = render_userlist({"bob": "md5" + "0" * 32, 'al"ice': 'se"cret'})
    assert text == '"al""ice" "se""cret"\n"bob" "md500000000000000000000000000000000"\n'


def test_render_userlist_of_nothing_is_empty():
    assert render_userlist({}) == ""


@pytest.mark.parametrize(
    "entries",
    [
        {'we"ird': PENCIL_VERIFIER, '"': '""', "a b": "x y", "semi;colon": ";"},
        {"\u00e9l\u00e8ve": "md5" + "f" * 32, "tab\tname": "plain text secret"},
    ],
)
def test_userlist_round_trip(entries):
    assert parse_userlist(render_userlist(entries)) == entries


_field = st.text(st.characters(exclude_characters="\n\r\x00", exclude_categories=("Cs",)))


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(_field.filter(bool), _field, max_size=5))
def test_userlist_round_trip_property(entries):
    assert parse_userlist(render_userlist(entries)) == entries


@pytest.mark.parametrize(
    ("entries", "complaint"),
    [
        ({"": "x"}, "user name: is empty"),
        ({"a\nb": "x"}, "user name: contains"),
        ({"a": "x\ry"}, "secret of 'a': contains"),
    ],
)
def test_render_userlist_refuses_unrepresentable_fields(entries, complaint):
    with pytest.raises(PoolkitError, match=complaint):
        render_userlist(entries)


def test_parse_userlist_skips_comments_and_blank_lines_and_ignores_rest_of_line():
    text = (
        "; managed by poolkit\n"
        "\n"
        '   "alice" "a1" "ignored third field"\r\n'
        '\t; "bob" "commented out"\n'
        '"bob"\t"b1"\n'
    )
    assert parse_userlist(text) == {"alice": "a1", "bob": "b1"}


def test_parse_userlist_later_line_wins_like_pgbouncer():
    assert parse_userlist('"alice" "old"\n"alice" "new"\n') == {"alice": "new"}


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ('"alice" "a1"\n# a hash is no comment here\n', "line 2: expected the user name"),
        ('"alice" "a1"\nbob "b1"\n', "line 2: expected the user name"),
        ('\n\n"alice" "a1\n', "line 3: the secret has no closing double quote"),
        ('"alice "a1"\n', "line 1: expected blank space"),
        ('"alice"\n', "line 1: expected blank space"),
        ('"alice" a1\n', "line 1: expected the secret in double quotes"),
        ('"" "a1"\n', "line 1: the user name is empty"),
        ('"alice', "line 1: the user name has no closing double quote"),
    ],
)
def test_parse_userlist_names_the_malformed_line(text, complaint):
    with pytest.raises(PoolkitError, match=complaint):
        parse_userlist(text)


def _users(**passwords: str) -> list[dict[str, str]]:
    return [{"name": name, "password": password} for name, password in passwords.items()]


def test_userlist_entries_changes_exactly_the_changed_users_line():
    before = render_userlist(
        userlist_entries(_users(alice="a1", bob="b1", carol="c1"), {}, "scram-sha-256")
    )
    after = render_userlist(
        userlist_entries(
            _users(alice="a1", bob="b2", carol="c1"), parse_userlist(before), "scram-sha-256"
        )
    )
    changed = [
        (old, new)
        for old, new in zip(before.splitlines(), after.splitlines(), strict=True)
        if old != new
    ]
    assert [old.split()[0] for old, _ in changed] == ['"bob"']


def test_userlist_entries_is_idempotent():
    users = _users(alice="a1", bob="b1")
    first = userlist_entries(users, {}, "md5")
    assert userlist_entries(users, first, "md5") == first


def test_userlist_entries_takes_a_precomputed_verifier_as_is():
    users = [{"name": "pencil", "verifier": PENCIL_VERIFIER}]
    assert userlist_entries(users, {}, "md5") == {"pencil": PENCIL_VERIFIER}


def test_userlist_entries_drops_users_no_longer_listed():
    existing = {"gone": "md5" + "0" * 32}
    assert set(userlist_entries(_users(alice="a1"), existing, "md5")) == {"alice"}


@pytest.mark.parametrize(
    ("users", "complaint"),
    [
        ([{"name": "a", "password": "md5" + "0" * 32}], r"users\[0\] \('a'\): password: looks"),
        ([{"name": "a", "password": PENCIL_VERIFIER}], r"users\[0\] \('a'\): password: looks"),
        ([{"name": "a", "verifier": "plaintext"}], r"users\[0\] \('a'\): verifier is neither"),
        ([{"name": "a", "verifier": "MD5" + "0" * 32}], "verifier is neither"),
        ([{"name": "a", "password": "x", "verifier": PENCIL_VERIFIER}], "not both"),
        ([{"name": "a"}], "needs a password or a verifier"),
        ([{"password": "x"}], r"users\[0\]: name is missing"),
        ([{"name": "a", "password": "x"}, {"name": "a", "password": "y"}], r"users\[1\].*twice"),
        (["alice"], r"users\[0\]: expected a mapping"),
        ([{"name": "a", "password": 1234}], "password must be a string"),
        ([{"name": "a\nb", "password": "x"}], "name: contains"),
    ],
)
def test_userlist_entries_refuses_bad_user(users, complaint):
    with pytest.raises(PoolkitError, match=complaint):
        userlist_entries(users, {}, "scram-sha-256")


def test_userlist_entries_refuses_unknown_method():
    with pytest.raises(PoolkitError, match=r"'scram'.*valid choices"):
        userlist_entries(_users(alice="a1"), {}, "scram")


@pytest.mark.parametrize(
    "call",
    [
        lambda: saslprep(b"bytes"),
        lambda: scram_sha256(None),
        lambda: md5_verifier(None, "pw"),
        lambda: verifier_matches(PENCIL_VERIFIER, 1234),
        lambda: scram_sha256("\ud800"),  # a lone surrogate that is no smuggled byte
    ],
)
def test_non_text_input_raises_poolkit_error(call):
    with pytest.raises(PoolkitError):
        call()


def test_shared_entries_are_identical_on_every_host():
    users = [{"name": "app", "password": "s3cret"}]
    first = userlist_entries(users, {}, "scram-sha-256", shared=True)
    second = userlist_entries(users, {}, "scram-sha-256", shared=True)
    assert first == second
    assert verifier_matches(first["app"], "s3cret", "app")


def test_unshared_entries_draw_random_salts():
    users = [{"name": "app", "password": "s3cret"}]
    assert userlist_entries(users, {}, "scram-sha-256") != userlist_entries(
        users, {}, "scram-sha-256"
    )


def test_derived_salt_depends_on_password_and_user():
    salts = {derived_salt("a", "app"), derived_salt("b", "app"), derived_salt("a", "other")}
    assert len(salts) == 3
    assert all(len(salt) == 16 for salt in salts)
