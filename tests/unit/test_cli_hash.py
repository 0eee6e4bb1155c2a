"""`poolkit hash`: password input, argument checks, output and exit codes."""

from __future__ import annotations

import getpass
import io
import sys

import pytest

from poolkit.cli import main
from poolkit.verifiers import md5_verifier, parse_scram, verifier_matches


class _Terminal(io.StringIO):
    """A stand-in for an interactive standard input."""

    def isatty(self) -> bool:
        return True


@pytest.fixture
def stdin(monkeypatch):
    def feed(text: str, tty: bool = False) -> None:
        monkeypatch.setattr(sys, "stdin", _Terminal(text) if tty else io.StringIO(text))

    return feed


@pytest.fixture
def typed(monkeypatch, stdin):
    """Simulate the two getpass prompts on a terminal."""

    def answer(*answers: str) -> list[str]:
        stdin("", tty=True)
        replies = iter(answers)
        prompts: list[str] = []

        def fake_getpass(prompt: str = "Password: ", stream=None) -> str:
            prompts.append(prompt)
            return next(replies)

        monkeypatch.setattr(getpass, "getpass", fake_getpass)
        return prompts

    return answer


def _one_line(text: str) -> str:
    lines = text.splitlines()
    assert len(lines) == 1, text
    return lines[0]


def test_stdin_prints_a_scram_verifier(stdin, capsys):
    stdin("s3cret\n")
    assert main(["hash", "--stdin", "--iterations", "16"]) == 0
    out = _one_line(capsys.readouterr().out)
    assert parse_scram(out).iterations == 16
    assert verifier_matches(out, "s3cret")


@pytest.mark.parametrize(
    ("line", "password"),
    [
        ("s3cret\n", "s3cret"),
        ("s3cret", "s3cret"),
        ("s3cret\r\n", "s3cret"),
        ("  spaced out  \n", "  spaced out  "),
        ("first\nsecond\n", "first"),
    ],
)
def test_stdin_strips_only_the_line_terminator(stdin, capsys, line, password):
    stdin(line)
    assert main(["hash", "--stdin", "--method", "md5", "--user", "app"]) == 0
    assert _one_line(capsys.readouterr().out) == md5_verifier("app", password)


def test_pcp_md5_method(stdin, capsys):
    stdin("your_password\n")
    assert main(["hash", "--stdin", "--method", "pcp-md5"]) == 0
    assert capsys.readouterr().out == "1060b7b46a3bd36b3a0d66e0127d0517\n"


def test_userlist_line(stdin, capsys):
    stdin("1234\n")
    assert main(["hash", "--stdin", "--method", "md5", "--user", 'ad"min', "--userlist-line"]) == 0
    expected = '"ad""min" "' + md5_verifier('ad"min', "1234") + '"\n'
    assert capsys.readouterr().out == expected


@pytest.mark.parametrize(
    "argv",
    [
        ["hash", "s3cret"],
        ["hash", "--stdin", "s3cret"],
        ["hash", "--method", "md5", "--user", "app", "s3cret"],
    ],
)
def test_password_on_the_command_line_is_refused(stdin, capsys, argv):
    stdin("from stdin\n")
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    captured = capsys.readouterr()
    assert "unrecognized arguments" in captured.err
    assert captured.out == ""


def test_unknown_method_is_an_argparse_error(stdin, capsys):
    stdin("s3cret\n")
    with pytest.raises(SystemExit) as exc:
        main(["hash", "--stdin", "--method", "sha1"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (["--method", "md5"], "--user"),
        (["--userlist-line"], "--user"),
        (["--method", "pcp-md5", "--user", "a", "--userlist-line"], "pcp-md5"),
        (["--method", "md5", "--user", "a", "--iterations", "10"], "--iterations"),
    ],
)
def test_inconsistent_options_exit_2_with_one_line(stdin, capsys, argv, complaint):
    stdin("s3cret\n")
    assert main(["hash", "--stdin", *argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    line = _one_line(captured.err)
    assert line.startswith("poolkit hash: ")
    assert complaint in line


def test_md5_without_user_fails_before_asking_for_the_password(typed, capsys):
    prompts = typed("s3cret", "s3cret")
    assert main(["hash", "--method", "md5"]) == 2
    assert prompts == []
    assert "--user" in _one_line(capsys.readouterr().err)


def test_prompt_asks_twice_and_prints_the_verifier(typed, capsys):
    prompts = typed("s3cret", "s3cret")
    assert main(["hash", "--method", "md5", "--user", "app"]) == 0
    assert len(prompts) == 2
    assert capsys.readouterr().out == md5_verifier("app", "s3cret") + "\n"


def test_prompt_mismatch_exits_2(typed, capsys):
    typed("s3cret", "s3cre7")
    assert main(["hash", "--method", "md5", "--user", "app"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "do not match" in _one_line(captured.err)


def test_prompt_needs_a_terminal(stdin, capsys):
    stdin("s3cret\n", tty=False)
    assert main(["hash"]) == 2
    assert "--stdin" in _one_line(capsys.readouterr().err)


@pytest.mark.parametrize(
    ("line", "complaint"),
    [
        ("", "standard input is empty"),
        ("\n", "empty"),
        ("md5" + "0" * 32 + "\n", "looks like a stored verifier"),
    ],
)
def test_unusable_stdin_password_exits_2(stdin, capsys, line, complaint):
    stdin(line)
    assert main(["hash", "--stdin", "--method", "md5", "--user", "app"]) == 2
    assert complaint in _one_line(capsys.readouterr().err)


def test_bad_iterations_is_an_argparse_error(stdin, capsys):
    stdin("s3cret\n")
    with pytest.raises(SystemExit) as exc:
        main(["hash", "--stdin", "--iterations", "0"])
    assert exc.value.code == 2
    assert "positive integer" in capsys.readouterr().err
