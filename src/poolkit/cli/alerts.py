"""`poolkit alerts TOPOLOGY`: Prometheus alert rules for the poolers, sized from a topology.

Reads the topology like `poolkit size` (YAML or JSON, `-` for stdin), writes the rule file
(standard output, or `-o FILE`). The rules are built in `poolkit.monitoring`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from poolkit import PoolkitError
from poolkit.cli.size import _read, load_text
from poolkit.monitoring import QUERY_WAIT_TIMEOUT, alert_rules, monitoring_spec
from poolkit.sizing import size_dict

HEADER = """\
# Prometheus alerting rules for PgBouncer and Pgpool-II: `poolkit alerts {source}`.
# The thresholds are the sizing's figures as literal numbers: regenerate this file when
# the topology changes. Check it with `promtool check rules FILE`.
"""


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "alerts",
        help="write Prometheus alert rules sized from a topology",
        description=(
            "Write Prometheus alerting rules for PgBouncer (prometheus-pgbouncer-exporter) "
            "and Pgpool-II (pgpool2_exporter) whose thresholds follow the pool sizes "
            "computed from the topology."
        ),
    )
    parser.add_argument(
        "topology",
        metavar="TOPOLOGY",
        help="topology file, YAML or JSON; - reads standard input",
    )
    parser.add_argument(
        "--query-wait-timeout",
        type=int,
        default=QUERY_WAIT_TIMEOUT,
        metavar="SECONDS",
        help=f"PgBouncer's query_wait_timeout where it is deployed (default: {QUERY_WAIT_TIMEOUT})",
    )
    add_output(parser, "rule file")
    parser.set_defaults(handler=run)


def add_output(parser, what: str) -> None:
    parser.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        default="-",
        help=f"write the {what} to FILE (default: standard output)",
    )


def run(args) -> int:
    name, text = _read(args.topology)
    sizing = size_dict(load_text(text, name))
    spec = monitoring_spec(sizing, {"pgbouncer": {"query_wait_timeout": args.query_wait_timeout}})
    body = yaml.safe_dump(alert_rules(spec), sort_keys=False, allow_unicode=True, width=4096)
    write_output(args.output, HEADER.format(source=name) + body, "rule file")
    return 0


def write_output(output: str, text: str, what: str) -> None:
    if output == "-":
        sys.stdout.write(text)
        return
    try:
        Path(output).write_text(text, encoding="utf-8")
    except OSError as exc:
        reason = exc.strerror or exc.__class__.__name__
        raise PoolkitError(
            f"{output}: cannot write the {what} ({reason}); expected a writable file path, "
            f"or - for standard output"
        ) from None
