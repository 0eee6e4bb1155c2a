"""`poolkit calibrate`: measure (or replay) throughput against concurrency, fit the Universal
Scalability Law, and recommend the database's useful concurrency for `poolkit size`.

    poolkit calibrate --replay runs.csv          fit saved measurements, no load
    poolkit calibrate DSN [--sql FILE] ...       measure with pgbench, then fit

Progress goes to standard error, the result to standard output. The fit is `poolkit.usl`,
the plan and pgbench's output `poolkit.pgbench`, the load itself `poolkit.cli._load`.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import sys
from pathlib import Path

from poolkit import PoolkitError
from poolkit.measurements import Point, format_csv, parse_csv
from poolkit.pgbench import plan_runs, shared_host_note
from poolkit.render_calibration import FORMATS, Floor, render, source_line

#: What the fit and the plot need beyond poolkit's own dependencies (the `calibrate` extra).
FIT_PACKAGES = ("numpy", "scipy")
PLOT_PACKAGES = ("matplotlib",)
EXTRA_HINT = "pip install 'poolkit[calibrate]'"


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "calibrate",
        help="measure the database's useful concurrency (USL fit of pgbench runs)",
        description=(
            "Run pgbench at 1, 2, 4, ... clients (or replay saved runs), fit the Universal "
            "Scalability Law and recommend the useful concurrency that `poolkit size` aims "
            "pools at (topology key calibration, docs/sizing.md)."
        ),
    )
    parser.add_argument(
        "dsn",
        metavar="DSN",
        nargs="?",
        help="libpq connection string or URI of the database (or the pooler) to load",
    )
    parser.add_argument(
        "--replay",
        metavar="FILE",
        help="fit saved measurements (CSV rows concurrency,tps[,pass]) instead of running pgbench",
    )
    parser.add_argument(
        "--sql",
        metavar="FILE",
        help="pgbench script of one transaction (default: a scratch TPC-B-like schema "
        "created and dropped by this run)",
    )
    parser.add_argument("--max-clients", type=int, default=64, metavar="N", help="default: 64")
    parser.add_argument(
        "--duration",
        type=int,
        metavar="S",
        help="seconds per run (default: as long as --time-budget allows, 2 to 10)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        metavar="R",
        help="runs per level, in passes (default: 3, or 2 when the budget is short)",
    )
    parser.add_argument(
        "--time-budget",
        type=int,
        default=120,
        metavar="S",
        help="upper bound on the whole measurement in seconds (default: 120)",
    )
    parser.add_argument("--out-csv", metavar="FILE", help="also save the runs as CSV")
    parser.add_argument("--plot", metavar="FILE", help="draw runs and fit into a PNG file")
    parser.add_argument(
        "--cpu-cores",
        type=int,
        metavar="N",
        help="cores of the database host, to show the cpu_cores x 2 + spindles floor",
    )
    parser.add_argument(
        "--spindles", type=int, default=0, metavar="N", help="effective_spindle_count (default 0)"
    )
    parser.add_argument("--format", choices=FORMATS, default="table", help="default: table")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    _check_arguments(args)
    require_packages(FIT_PACKAGES + (PLOT_PACKAGES if args.plot else ()))
    if args.replay:
        points = parse_csv(_read(args.replay, "--replay"), args.replay)
        measured = f"--replay {args.replay}"
    else:
        points, measured = _measure(args)
    from poolkit.usl import fit_usl

    fit = fit_usl(points)
    if args.out_csv:
        _write(args.out_csv, "--out-csv", format_csv(points))
    source = source_line(fit, datetime.date.today().isoformat(), measured)
    floor = Floor(args.cpu_cores, args.spindles) if args.cpu_cores else None
    sys.stdout.write(render(fit, args.format, source=source, floor=floor))
    if args.plot:
        from poolkit.cli._plot import write_plot

        try:
            write_plot(fit, points, args.plot, f"poolkit calibrate: {measured}")
        except OSError as exc:
            raise PoolkitError(f"--plot {args.plot}: cannot write ({exc.strerror})") from None
    return 0


def _check_arguments(args: argparse.Namespace) -> None:
    if args.replay and args.dsn:
        raise PoolkitError(
            f"--replay {args.replay} fits saved runs and DSN {args.dsn!r} would measure new "
            f"ones; expected one of them"
        )
    if not args.replay and not args.dsn:
        raise PoolkitError("expected a DSN to measure, or --replay FILE with saved runs")
    if args.replay:
        live = [
            f"--{o.replace('_', '-')}" for o in ("sql", "duration", "repeats") if getattr(args, o)
        ]
        if live:
            raise PoolkitError(
                f"{', '.join(live)} only apply when measuring a DSN, not with --replay"
            )
    for option in ("max_clients", "time_budget", "cpu_cores"):
        value = getattr(args, option)
        if value is not None and value < 1:
            raise PoolkitError(f"--{option.replace('_', '-')} {value}; expected an integer >= 1")
    if args.spindles < 0:
        raise PoolkitError(f"--spindles {args.spindles}; expected an integer >= 0")


def _installed(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def require_packages(names: tuple[str, ...], find=_installed) -> None:
    """Raise PoolkitError naming the first of `names` that `find` does not find."""
    missing = [name for name in names if not find(name)]
    if missing:
        raise PoolkitError(
            f"needs the Python package{'s' if len(missing) > 1 else ''} {', '.join(missing)}, "
            f"which {'are' if len(missing) > 1 else 'is'} not installed; install them with "
            f"{EXTRA_HINT}"
        )


def _read(path: str, option: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise PoolkitError(f"{option} {path}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise PoolkitError(f"{option} {path}: cannot read ({exc.strerror})") from None


def _write(path: str, option: str, text: str) -> None:
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise PoolkitError(f"{option} {path}: cannot write ({exc.strerror})") from None


def progress_line(done: int, total: int, seconds_left: float, width: int = 24) -> str:
    """`[#########...............]  9/21 runs, about 66 s left`"""
    filled = round(width * done / total) if total else width
    return (
        f"[{'#' * filled}{'.' * (width - filled)}] {done:>{len(str(total))}}/{total} runs, "
        f"about {seconds_left:.0f} s left"
    )


def _progress_bar(stream):
    """Redraws one line on a terminal; elsewhere (a log, CI) writes a line per run."""
    redraw = stream.isatty()

    def show(done: int, total: int, seconds_left: float) -> None:
        line = progress_line(done, total, seconds_left)
        if redraw:
            stream.write("\r" + line)
        else:
            stream.write("  " + line + "\n")
        stream.flush()

    return show


def _measure(args: argparse.Namespace) -> tuple[list[Point], str]:
    from poolkit.cli import _load

    _load.require_pgbench()
    plan = plan_runs(
        args.max_clients,
        args.time_budget,
        duration=args.duration,
        repeats=args.repeats,
        scratch=args.sql is None,
    )
    conninfo, password = _load.split_password(args.dsn)
    target = _load.describe(conninfo)
    if args.sql is not None:
        _read(args.sql, "--sql")  # unreadable: fail before any load
    else:
        _load.refuse_standby(conninfo, password)

    def say(line: str) -> None:
        # On a terminal the progress bar's line is cleared first, then drawn again below.
        clear = "\r\x1b[K" if sys.stderr.isatty() else ""
        print(clear + line, file=sys.stderr, flush=True)

    workload = f"--sql {args.sql}" if args.sql else "a scratch TPC-B-like schema poolkit_calibrate"
    say(
        f"poolkit calibrate: {target}, {workload}; {plan.repeats} passes over "
        f"{len(plan.levels)} levels ({', '.join(map(str, plan.levels))} clients, pgbench -c N "
        f"-j N), {plan.duration} s each run: at most about {plan.seconds} s"
    )
    where = _load.shares_host(conninfo)
    if where is not None:
        say(shared_host_note(where))
    runner = _load.PgbenchRunner(conninfo, password, plan, say, progress=_progress_bar(sys.stderr))
    with _load.sigterm_interrupts():
        if args.sql is not None:
            points = runner.run_all(args.sql, args.time_budget)
        else:
            with _load.scratch_schema(conninfo, password, max(plan.levels)) as script:
                points = runner.run_all(script, args.time_budget - plan.setup_seconds)
            say("  scratch schema poolkit_calibrate dropped")
    if not points:
        raise PoolkitError(f"--time-budget {args.time_budget} s: no run fitted in it")
    return points, target
