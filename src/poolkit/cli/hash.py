"""`poolkit hash`: print a password verifier for PostgreSQL, PgBouncer or Pgpool-II's pcp.conf.

The password is never taken from the command line (it would land in shell history and in
the process list): it is prompted for twice on a terminal, or read as one line from
standard input with ``--stdin``.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from poolkit import PoolkitError, verifiers

METHODS = ("scram-sha-256", "md5", "pcp-md5")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer")
    return value


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "hash",
        help="compute a password verifier (SCRAM-SHA-256, md5, pcp.conf md5)",
        description=(
            "Print the verifier for a password: SCRAM-SHA-256 or md5 as PostgreSQL stores "
            "it and PgBouncer's userlist.txt accepts it, or pcp-md5 for Pgpool-II's "
            "pcp.conf (user:md5hex). The password is prompted for twice, or read as one "
            "line from standard input with --stdin; it is never accepted as an argument."
        ),
    )
    parser.add_argument(
        "--method",
        choices=METHODS,
        default="scram-sha-256",
        help="verifier format (default: %(default)s)",
    )
    parser.add_argument("--user", metavar="NAME", help="role name; required for md5")
    parser.add_argument(
        "--iterations",
        type=_positive_int,
        metavar="N",
        help=f"SCRAM iteration count (default: {verifiers.DEFAULT_ITERATIONS})",
    )
    parser.add_argument(
        "--stdin",
        action="store_true",
        help="read the password as one line from standard input instead of prompting",
    )
    parser.add_argument(
        "--userlist-line",
        action="store_true",
        help='print a PgBouncer userlist.txt line, "user" "verifier" (needs --user)',
    )
    parser.set_defaults(handler=run)


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            raise PoolkitError("--stdin: standard input is empty; expected the password line")
        # Strip the line terminator only: every other character belongs to the password.
        if line.endswith("\r\n"):
            return line[:-2]
        return line[:-1] if line.endswith("\n") else line
    if not sys.stdin.isatty():
        raise PoolkitError(
            "standard input is not a terminal, so the password cannot be prompted for; "
            "pass --stdin to read it from standard input"
        )
    try:
        first = getpass.getpass("Password: ")
        second = getpass.getpass("Repeat password: ")
    except EOFError:
        raise PoolkitError("no password entered") from None
    if first != second:
        raise PoolkitError("the two passwords do not match; nothing was printed")
    return first


def _check_arguments(args: argparse.Namespace) -> None:
    if args.method == "md5" and not args.user:
        raise PoolkitError(
            "--user NAME is required with --method md5 (the verifier is md5 of password + user)"
        )
    if args.userlist_line and not args.user:
        raise PoolkitError("--user NAME is required with --userlist-line")
    if args.userlist_line and args.method == "pcp-md5":
        raise PoolkitError(
            "--userlist-line needs --method scram-sha-256 or md5: "
            "PgBouncer does not read pcp-md5 hashes"
        )
    if args.iterations is not None and args.method != "scram-sha-256":
        raise PoolkitError("--iterations applies only to --method scram-sha-256")


def run(args: argparse.Namespace) -> int:
    _check_arguments(args)  # before reading the password: fail fast, nothing typed in vain
    password = _read_password(args.stdin)
    if args.method == "pcp-md5":
        verifier = verifiers.pcp_md5(password)
    else:
        iterations = args.iterations or verifiers.DEFAULT_ITERATIONS
        verifier = verifiers.keep_or_make(
            password, args.user, args.method, None, iterations=iterations
        )
    if args.userlist_line:
        print(verifiers.userlist_line(args.user, verifier))
    else:
        print(verifier)
    return 0
