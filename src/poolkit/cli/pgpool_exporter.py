"""`poolkit pgpool-exporter`: serve Pgpool-II's metrics to Prometheus.

At each scrape it connects through Pgpool-II (a libpq connection string; the password from
--password-file, e.g. a systemd credential, or PGPASSWORD, PGPASSFILE / ~/.pgpass, never a
command-line argument you have to type), runs
SHOW POOL_NODES, POOL_PROCESSES and POOL_POOLS, and answers with `poolkit.pgpool_exporter`'s
families (pgpool2_exporter's names). One connection per scrape: it takes a Pgpool-II child
for the length of three SHOW commands.
"""

from __future__ import annotations

import contextlib
import signal
import threading

from poolkit import PoolkitError
from poolkit.cli._console import show
from poolkit.pgpool_exporter import GAUGE, down, metrics

DEFAULT_LISTEN = "127.0.0.1:9719"


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "pgpool-exporter",
        help="serve Pgpool-II metrics to Prometheus (pgpool2_exporter's metric names)",
        description=(
            "Prometheus exporter for Pgpool-II: node status, load-balancing counts, "
            "frontend and backend connection use, from SHOW POOL_NODES / POOL_PROCESSES / "
            "POOL_POOLS, under the upstream pgpool2_exporter's metric names."
        ),
    )
    parser.add_argument(
        "--pgpool",
        required=True,
        metavar="CONNINFO",
        help="libpq connection string through Pgpool-II, e.g. 'host=127.0.0.1 port=9999 "
        "dbname=postgres user=pgpool_monitor' (password: PGPASSWORD or a passfile)",
    )
    parser.add_argument(
        "--listen",
        default=DEFAULT_LISTEN,
        metavar="ADDRESS:PORT",
        help=f"where to serve /metrics (default {DEFAULT_LISTEN}; 0.0.0.0:9719 for all)",
    )
    parser.add_argument(
        "--password-file",
        metavar="PATH",
        help="read the password from this file's first line at each connection, e.g. "
        "$CREDENTIALS_DIRECTORY/password under systemd (roles/pgpool's unit does)",
    )
    parser.add_argument(
        "--connect-timeout", type=int, default=5, help="seconds per connection (default 5)"
    )
    parser.set_defaults(handler=run)


def _listen(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise PoolkitError(
            f"--listen {text!r}: expected ADDRESS:PORT such as 127.0.0.1:9719 or 0.0.0.0:9719"
        )
    return host.strip("[]") or "0.0.0.0", int(port)


def _password(path: str) -> str:
    """The first line of ``path`` (a systemd credential needs no other format)."""
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.readline().rstrip("\r\n")
    except OSError as exc:
        raise PoolkitError(f"--password-file {path}: cannot read it ({exc.strerror})") from None


class PgpoolCollector:
    """prometheus_client collector: one query round through Pgpool-II per scrape."""

    def __init__(self, conninfo: str, timeout: int, password_file: str | None = None) -> None:
        self.conninfo = conninfo
        self.timeout = timeout
        self.password_file = password_file

    def families(self):
        import psycopg

        try:
            extra = (
                {} if self.password_file is None else {"password": _password(self.password_file)}
            )
            with psycopg.connect(
                self.conninfo,
                **extra,
                autocommit=True,
                connect_timeout=self.timeout,
                application_name="poolkit-pgpool-exporter",
            ) as conn:
                return metrics(
                    show(conn, "SHOW POOL_NODES"),
                    show(conn, "SHOW POOL_PROCESSES"),
                    show(conn, "SHOW POOL_POOLS"),
                )
        except (psycopg.Error, PoolkitError):
            return down()

    def collect(self):
        from prometheus_client.core import GaugeMetricFamily, UnknownMetricFamily

        for family in self.families():
            kind = GaugeMetricFamily if family.kind == GAUGE else UnknownMetricFamily
            metric = kind(family.name, family.help, labels=list(family.labels))
            for labels, value in family.samples:
                metric.add_metric(list(labels), value)
            yield metric


def run(args) -> int:
    from prometheus_client import start_http_server
    from prometheus_client.core import CollectorRegistry
    from psycopg.conninfo import conninfo_to_dict

    try:
        conninfo_to_dict(args.pgpool)
    except Exception as exc:  # psycopg.ProgrammingError
        raise PoolkitError(
            f"--pgpool {args.pgpool!r}: not a libpq connection string ({exc}); expected e.g. "
            "'host=127.0.0.1 port=9999 dbname=postgres user=pgpool_monitor'"
        ) from None
    host, port = _listen(args.listen)
    if args.password_file is not None:
        _password(args.password_file)  # unreadable: say so now, not as pgpool2_up 0
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PgpoolCollector(args.pgpool, args.connect_timeout, args.password_file))
    try:
        # (server, thread) since prometheus_client 0.17; None before (Debian 12 has 0.16),
        # whose daemon thread ends with the process.
        started = start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        raise PoolkitError(
            f"--listen {args.listen}: cannot listen there ({exc.strerror})"
        ) from None
    print(f"poolkit pgpool-exporter: serving http://{host}:{port}/metrics", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait()
    if started:
        started[0].shutdown()
    return 0
