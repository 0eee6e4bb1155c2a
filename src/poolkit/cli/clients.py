"""`poolkit clients TOPOLOGY`: read a topology, size it, print each app's client settings.

All I/O of the client settings lives here: the topology is read as `poolkit size` reads
it, the options go as typed to `poolkit.clients` (which checks them), and the renderings
are in `poolkit.render_clients`.
"""

from __future__ import annotations

import sys

from poolkit.cli.size import _read, load_text
from poolkit.clients import LIBRARIES, plan_clients, resolve_pooler
from poolkit.render_clients import FORMATS, render
from poolkit.sizing import size
from poolkit.topology import parse_topology


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "clients",
        help="client-side pool settings per app and library",
        description=(
            "Print, per application of the topology, the pool settings of SQLAlchemy, "
            "asyncpg, psycopg, psycopg2 and Django that open at most the connections "
            "`poolkit size` counted, for the pooler in front (docs/transaction-pooling.md)."
        ),
    )
    parser.add_argument(
        "topology",
        metavar="TOPOLOGY",
        help="topology file, YAML or JSON; - reads standard input",
    )
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="text",
        help="text (default), env (an env file per app), snippets (Python), json",
    )
    parser.add_argument(
        "--pooler",
        metavar="pgbouncer|pgpool",
        help="what the clients connect through (default: pgbouncer)",
    )
    parser.add_argument(
        "--pgbouncer-version",
        metavar="VERSION",
        help="PgBouncer's version or `pgbouncer --version` output (default: poolers.version "
        "of the topology, else unknown: settings that work with every version)",
    )
    parser.add_argument(
        "--pool-mode",
        metavar="transaction|session",
        help="PgBouncer's pool_mode (default: transaction, as poolkit size assumes)",
    )
    parser.add_argument(
        "--max-prepared-statements",
        metavar="N",
        help="PgBouncer's max_prepared_statements (default: the topology's, else the "
        "version's default)",
    )
    parser.add_argument(
        "--server-lifetime",
        metavar="SECONDS",
        help="PgBouncer's server_lifetime (default: 3600)",
    )
    parser.add_argument(
        "--client-idle-timeout",
        metavar="SECONDS",
        help="PgBouncer's client_idle_timeout or Pgpool-II's client_idle_limit (default: 0, off)",
    )
    parser.add_argument(
        "--app",
        action="append",
        default=[],
        metavar="NAME",
        help="only this application (repeatable)",
    )
    parser.add_argument(
        "--serverless",
        action="append",
        default=[],
        metavar="NAME",
        help="treat this application as serverless: each process is one invocation (repeatable)",
    )
    parser.add_argument(
        "--library",
        action="append",
        default=[],
        metavar="NAME",
        help=f"only this library (repeatable): {', '.join(LIBRARIES)}",
    )
    parser.add_argument(
        "--sslmode",
        metavar="verify-full|require",
        help="sslmode of serverless apps (default: verify-full)",
    )
    parser.set_defaults(handler=run)


def run(args) -> int:
    name, text = _read(args.topology)
    topology = parse_topology(load_text(text, name))
    sizing = size(topology)
    pooler = resolve_pooler(
        topology,
        pooler=args.pooler,
        pgbouncer_version=args.pgbouncer_version,
        pool_mode=args.pool_mode,
        max_prepared_statements=args.max_prepared_statements,
        server_lifetime=args.server_lifetime,
        client_idle_timeout=args.client_idle_timeout,
        sslmode=args.sslmode,
    )
    plan = plan_clients(
        sizing,
        pooler,
        apps=tuple(args.app),
        serverless=tuple(args.serverless),
        libraries=tuple(args.library),
    )
    sys.stdout.write(render(plan, args.format, source=name))
    return 0
