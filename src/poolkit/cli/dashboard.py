"""`poolkit dashboard [TOPOLOGY]`: a Grafana dashboard for PgBouncer and Pgpool-II.

Without a topology the dashboard has both rows and no sized thresholds; with one (read like
`poolkit size` reads it) it draws the sizing's limits and leaves out Pgpool-II when the
topology has none. Writes JSON to standard output or `-o FILE`; the model is built in
`poolkit.monitoring`.
"""

from __future__ import annotations

import json

from poolkit.cli.alerts import add_output, write_output
from poolkit.cli.size import _read, load_text
from poolkit.monitoring import dashboard, monitoring_spec
from poolkit.sizing import size_dict


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "dashboard",
        help="write a Grafana dashboard for the poolers",
        description=(
            "Write a Grafana dashboard (JSON model, Prometheus data source chosen on import) "
            "for prometheus-pgbouncer-exporter and pgpool2_exporter metrics."
        ),
    )
    parser.add_argument(
        "topology",
        metavar="TOPOLOGY",
        nargs="?",
        help="topology file, YAML or JSON, whose sizing sets the thresholds; - reads "
        "standard input",
    )
    add_output(parser, "dashboard")
    parser.set_defaults(handler=run)


def run(args) -> int:
    spec = None
    if args.topology is not None:
        name, text = _read(args.topology)
        spec = monitoring_spec(size_dict(load_text(text, name)))
    text = json.dumps(dashboard(spec), indent=2, ensure_ascii=False) + "\n"
    write_output(args.output, text, "dashboard")
    return 0
