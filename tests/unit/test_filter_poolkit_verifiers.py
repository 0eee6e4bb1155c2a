"""filter_plugins/poolkit_verifiers.py, loaded by path and called directly."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from ansible.utils.unsafe_proxy import AnsibleUnsafeText

from poolkit.verifiers import md5_verifier, parse_scram, verifier_matches

PLUGIN = Path(__file__).resolve().parents[2] / "filter_plugins" / "poolkit_verifiers.py"
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


@pytest.mark.parametrize("name", sorted(FILTERS))
def test_each_filter_has_yaml_documentation_examples_and_return(name):
    docs = plugin.FILTER_DOCS[name]
    assert yaml.safe_load(docs["DOCUMENTATION"])["name"] == name
    assert yaml.safe_load(docs["EXAMPLES"])
    assert "_value" in yaml.safe_load(docs["RETURN"])


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


def test_plugin_falls_back_to_the_checkout_when_poolkit_is_not_installed(tmp_path):
    # -S skips site-packages .pth files, so the editable install of poolkit is invisible;
    # ansible is made importable by adding site-packages itself to sys.path.
    code = (
        "import sys, importlib.util\n"
        f"sys.path.append({sysconfig.get_paths()['purelib']!r})\n"
        "try:\n"
        "    import poolkit\n"
        "    print('poolkit unexpectedly importable')\n"
        "    sys.exit(1)\n"
        "except ImportError:\n"
        "    pass\n"
        f"spec = importlib.util.spec_from_file_location('plugin', {str(PLUGIN)!r})\n"
        "module = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(module)\n"
        "print(module.FilterModule().filters()['poolkit_pcp_md5']('foo'))\n"
    )
    result = subprocess.run(
        [sys.executable, "-S", "-c", code],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "acbd18db4cc2f85cedef654fccc4a4d8"
