"""plugins/filter/poolkit_verifiers.py, loaded by path and called directly."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError
from ansible.utils.unsafe_proxy import AnsibleUnsafeText

from poolkit.verifiers import md5_verifier, parse_scram, verifier_matches

PLUGIN = Path(__file__).resolve().parents[2] / "plugins" / "filter" / "poolkit_verifiers.py"
PENCIL_VERIFIER = (
    "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY="
    ":wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="
)


def _load_plugin():
    spec = importlib.util.spec_from_file_location("poolkit_verifiers_filter_under_test", PLUGIN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


plugin = _load_plugin()
FILTERS = plugin.FilterModule().filters()


class _Vaulted:
    """Stands in for a vaulted value: only str() reveals the plaintext."""

    def __init__(self, plaintext: str) -> None:
        self._plaintext = plaintext

    def __str__(self) -> str:
        return self._plaintext


def test_filter_module_exposes_the_four_filters():
    assert set(FILTERS) == {
        "poolkit_verifier",
        "poolkit_userlist_parse",
        "poolkit_userlist",
        "poolkit_pcp_md5",
    }


@pytest.mark.parametrize("password", ["s3cret", AnsibleUnsafeText("s3cret"), _Vaulted("s3cret")])
def test_poolkit_verifier_accepts_unsafe_and_vaulted_passwords(password):
    assert FILTERS["poolkit_verifier"](password, "app", "md5") == md5_verifier("app", "s3cret")


def test_poolkit_verifier_defaults_to_scram():
    made = FILTERS["poolkit_verifier"]("s3cret", "app", iterations=16)
    assert verifier_matches(made, "s3cret")


def test_poolkit_verifier_keeps_a_matching_existing_verifier():
    assert FILTERS["poolkit_verifier"]("pencil", "app", existing=PENCIL_VERIFIER) == (
        PENCIL_VERIFIER
    )


@pytest.mark.parametrize("existing", ["", None])
def test_poolkit_verifier_treats_empty_existing_as_none(existing):
    made = FILTERS["poolkit_verifier"]("s3cret", "app", "scram-sha-256", existing, iterations=16)
    assert parse_scram(made).iterations == 16


def test_poolkit_verifier_bad_method_raises_ansible_filter_error():
    with pytest.raises(AnsibleFilterError, match=r"'sha1'.*valid choices: scram-sha-256, md5"):
        FILTERS["poolkit_verifier"]("s3cret", "app", "sha1")


@pytest.mark.parametrize(
    ("password", "complaint"),
    [
        (True, "expected a string, got bool"),
        (123, "expected a string, got int"),
        (None, "expected a string, got NoneType"),
        ("", "empty"),
    ],
)
def test_poolkit_verifier_refuses_non_string_or_empty_password(password, complaint):
    with pytest.raises(AnsibleFilterError, match=complaint):
        FILTERS["poolkit_verifier"](password, "app", "md5")


def test_poolkit_userlist_parse():
    text = AnsibleUnsafeText('; comment\n"al""ice" "a1"\n')
    assert FILTERS["poolkit_userlist_parse"](text) == {'al"ice': "a1"}


def test_poolkit_userlist_parse_error_names_the_line():
    with pytest.raises(AnsibleFilterError, match="userlist line 2"):
        FILTERS["poolkit_userlist_parse"]('"a" "b"\nbroken\n')


def test_poolkit_userlist_rerun_leaves_the_file_unchanged():
    users = [
        {"name": "alice", "password": AnsibleUnsafeText("a1")},
        {"name": "bob", "password": _Vaulted("b1")},
        {"name": "pencil", "verifier": PENCIL_VERIFIER, "pool_mode": "session"},
    ]
    first = FILTERS["poolkit_userlist"](users, "", iterations=16)
    assert FILTERS["poolkit_userlist"](users, first, iterations=16) == first
    assert first.splitlines()[-1] == f'"pencil" "{PENCIL_VERIFIER}"'


def test_poolkit_userlist_md5():
    text = FILTERS["poolkit_userlist"]([{"name": "admin", "password": "1234"}], "", "md5")
    assert text == '"admin" "md545f2603610af569b6155c45067268c6b"\n'


@pytest.mark.parametrize(
    ("users", "existing_text", "complaint"),
    [
        ([{"name": "a", "password": "x"}], "", "no-such-method"),
        ("alice", "", "expected a list"),
        ([{"name": "a", "password": "x"}], "broken", "userlist line 1"),
        ([{"name": "a", "password": 1234}], "", r"users\[0\].password: expected a string"),
        ([{"name": "a", "password": "md5" + "0" * 32}], "", "looks like a stored verifier"),
    ],
)
def test_poolkit_userlist_errors_raise_ansible_filter_error(users, existing_text, complaint):
    method = "no-such-method" if complaint == "no-such-method" else "scram-sha-256"
    with pytest.raises(AnsibleFilterError, match=complaint):
        FILTERS["poolkit_userlist"](users, existing_text, method)


def test_poolkit_pcp_md5():
    assert FILTERS["poolkit_pcp_md5"](_Vaulted("your_password")) == (
        "1060b7b46a3bd36b3a0d66e0127d0517"
    )
