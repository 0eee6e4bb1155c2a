"""The `poolkit` command: argument parsing, I/O and exit codes live here and only here.

Each subcommand is a module in this package with `register(subparsers)`; its handler
returns the process exit status. A `PoolkitError` becomes one line on stderr and exit 2.
"""

from __future__ import annotations

import argparse
import sys

from poolkit import PoolkitError, __version__
from poolkit.cli import alerts as alerts_cmd
from poolkit.cli import calibrate as calibrate_cmd
from poolkit.cli import clients as clients_cmd
from poolkit.cli import dashboard as dashboard_cmd
from poolkit.cli import follow as follow_cmd
from poolkit.cli import hash as hash_cmd
from poolkit.cli import pgpool_exporter as pgpool_exporter_cmd
from poolkit.cli import pgpool_follow as pgpool_follow_cmd
from poolkit.cli import size as size_cmd
from poolkit.cli import status as status_cmd

SUBCOMMANDS = (
    size_cmd,
    clients_cmd,
    hash_cmd,
    status_cmd,
    alerts_cmd,
    dashboard_cmd,
    pgpool_exporter_cmd,
    follow_cmd,
    pgpool_follow_cmd,
    calibrate_cmd,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="poolkit",
        description="Size, deploy and prove PgBouncer and Pgpool-II in front of PostgreSQL.",
    )
    parser.add_argument("--version", action="version", version=f"poolkit {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in SUBCOMMANDS:
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except PoolkitError as exc:
        print(f"poolkit {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
