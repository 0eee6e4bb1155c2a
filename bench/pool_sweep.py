#!/usr/bin/env python3
"""Sweep PgBouncer's pool size on the local stack, run `poolkit calibrate`, compare.

A benchmark: it prints figures and asserts nothing (issue "poolkit calibrate"). For each
workload (pgbench's TPC-B-like and select-only transactions on pgbench's tables, scale 10):

0. after pgbench -i, a CHECKPOINT and --warm-up seconds of unmeasured TPC-B-like load;
1. `poolkit calibrate` measures with the same transaction (--sql) and recommends a useful
   concurrency (--out-csv and --plot keep its runs and picture in .cache/bench). It
   measures PostgreSQL directly, or with --calibrate-through pgbouncer the same PgBouncer
   with its pool opened to --clients (so the pooler caps nothing and its own cost is in
   every point);
2. every pool size of --pools, the floor's (cpu_cores x 2 + spindles) and the calibrated
   one is deployed the way a user deploys it: a topology whose `calibration` names that
   useful concurrency, rendered by the roles (`docker compose run config`), PgBouncer
   reloaded (SIGHUP), its `SHOW DATABASES` pool_size checked, its server connections
   dropped;
3. pgbench runs --clients clients (-j equal to -c) through PgBouncer for --duration seconds,
   in --rounds passes over all the pool sizes (a change in the machine's load then touches
   every pool size alike), and the script samples the server connections in use.

It prints a table per workload and the two ratios "tps at the recommendation / best swept
tps", for the calibration and for the floor. The stack runs as its own compose project
(poolkit-bench, ports 4xxxx) and is removed at the end unless --keep.

    .venv/bin/python bench/pool_sweep.py                  # about 22 minutes on 2 cores
    .venv/bin/python bench/pool_sweep.py --workloads tpcb --rounds 1 --duration 5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from poolkit.pgbench import parse_tps  # noqa: E402

PROJECT = "poolkit-bench"
PORTS = {
    "POOLKIT_PGBOUNCER_PORT": 46432,
    "POOLKIT_PGPOOL_PORT": 49999,
    "POOLKIT_POSTGRES_PORT": 45433,
    "POOLKIT_POSTGRES_REPLICA_PORT": 45434,
}
#: Where the per-pool topology is written: inside the checkout, which the `config` service
#: mounts at /poolkit.
WORKDIR = Path(".cache/bench")
SCALE = 10

#: pgbench's built-in transactions (pgbench -b), as files for `poolkit calibrate --sql`.
SCRIPTS = {
    "tpcb": (
        "tpcb-like",
        "\\set aid random(1, 100000 * :scale)\n"
        "\\set bid random(1, 1 * :scale)\n"
        "\\set tid random(1, 10 * :scale)\n"
        "\\set delta random(-5000, 5000)\n"
        "BEGIN;\n"
        "UPDATE pgbench_accounts SET abalance = abalance + :delta WHERE aid = :aid;\n"
        "SELECT abalance FROM pgbench_accounts WHERE aid = :aid;\n"
        "UPDATE pgbench_tellers SET tbalance = tbalance + :delta WHERE tid = :tid;\n"
        "UPDATE pgbench_branches SET bbalance = bbalance + :delta WHERE bid = :bid;\n"
        "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) "
        "VALUES (:tid, :bid, :aid, :delta, CURRENT_TIMESTAMP);\n"
        "END;\n",
    ),
    "select": (
        "select-only",
        "\\set aid random(1, 100000 * :scale)\n"
        "SELECT abalance FROM pgbench_accounts WHERE aid = :aid;\n",
    ),
}


@dataclass
class PoolRun:
    pool_size: int
    tps: list[float] = field(default_factory=list)
    server_connections: int = 0

    @property
    def mean(self) -> float:
        return statistics.fmean(self.tps)


def ratios(runs: dict[int, PoolRun], calibrated: int | None, floor: int) -> dict[str, float | None]:
    """tps at the calibrated and at the floor's pool size over the best swept tps."""
    best = max(run.mean for run in runs.values())
    return {
        "best_tps": best,
        "calibrated": runs[calibrated].mean / best if calibrated in runs else None,
        "floor": runs[floor].mean / best if floor in runs else None,
    }


def paired_ratio(runs: dict[int, PoolRun], pool: int) -> float | None:
    """The mean over rounds of tps at `pool` / tps at the best pool (highest mean) in the
    same round. A round's pools ran minutes apart at most, so a slow spell of the machine
    that lowers a whole round cancels out of its ratio, where it stays in the means."""
    if pool not in runs:
        return None
    best = max(runs.values(), key=lambda run: run.mean)
    pairs = list(zip(runs[pool].tps, best.tps, strict=False))
    return statistics.fmean(a / b for a, b in pairs) if pairs else None


def rounds_spread(runs: dict[int, PoolRun]) -> float | None:
    """The rounds' pooled relative standard deviation around their pool's mean (as
    `poolkit.measurements.spread` for a calibration's repeats)."""
    from poolkit.measurements import Point, spread

    return spread([Point(p, t) for p, run in runs.items() for t in run.tps])


class Stack:
    """The compose project poolkit-bench and its settings."""

    def __init__(self) -> None:
        self.env = {**os.environ, **{k: str(v) for k, v in PORTS.items()}}
        self.env.pop("COMPOSE_PROFILES", None)
        self.settings: dict[str, str] = {}
        self.rendered: set[int] = set()  # pool sizes whose pgbouncer.ini the roles rendered

    def compose(self, *args: str, env: dict | None = None) -> str:
        run = subprocess.run(
            ["docker", "compose", "-p", PROJECT, *args],
            cwd=ROOT,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
        )
        if run.returncode != 0:
            raise SystemExit(
                f"pool_sweep: docker compose {' '.join(args)} failed:\n{run.stderr[-3000:]}"
            )
        return run.stdout

    def up(self) -> None:
        self.compose("down", "-v", "--remove-orphans")
        self.rendered.clear()  # the volume with the kept files is gone
        self.compose("up", "-d", "--build", "--wait")
        config = json.loads(self.compose("config", "--format", "json"))
        self.settings = config["services"]["config"]["environment"]

    def down(self) -> None:
        self.compose("down", "-v", "--remove-orphans")

    def dsn(self, port_key: str, user: str | None = None, dbname: str | None = None) -> str:
        return (
            f"host=127.0.0.1 port={PORTS[port_key]} "
            f"dbname={dbname or self.settings['POOLKIT_DATABASE']} "
            f"user={user or self.settings['POOLKIT_APP_USER']}"
        )

    @property
    def password_env(self) -> dict[str, str]:
        return {**self.env, "PGPASSWORD": self.settings["POOLKIT_APP_PASSWORD"]}

    def admin(self):
        import psycopg

        return psycopg.connect(
            self.dsn("POOLKIT_PGBOUNCER_PORT", "pgbouncer_admin", "pgbouncer"),
            password=self.settings["POOLKIT_PGBOUNCER_ADMIN_PASSWORD"],
            autocommit=True,
        )

    def in_config(self, *argv: str) -> None:
        """Run `argv` in the config service's container, which mounts PgBouncer's
        configuration volume read-write (PgBouncer's own container mounts it read-only)."""
        self.compose("run", "--rm", "--no-deps", "-T", "--entrypoint", argv[0], "config", *argv[1:])

    def deploy_pool(self, pool_size: int) -> None:
        """Render the stack with a topology calibrated at `pool_size` (the roles, the first
        time; after that the pgbouncer-<process>.ini files they rendered, kept in the volume:
        about 25 s of Ansible saved per run), reload PgBouncer and wait until its console
        shows that pool size."""
        from psycopg.pq import ExecStatus

        from poolkit.cli._console import show

        # The role writes one pgbouncer-<process>.ini per process (pgbouncer.ini is the
        # package's sample): keep them all, in a directory per pool size.
        kept = f"/etc/pgbouncer/bench-pool-{pool_size}"
        if pool_size in self.rendered:
            self.in_config("sh", "-c", f"cp {kept}/pgbouncer-*.ini /etc/pgbouncer/")
        else:
            topology = (ROOT / "compose/topology.yml").read_text()
            calibrated = topology.replace(
                "\npools:",
                f"\ncalibration: {{useful_concurrency: {pool_size}, source: bench/pool_sweep}}"
                "\n\npools:",
                1,
            )
            (ROOT / WORKDIR).mkdir(parents=True, exist_ok=True)
            (ROOT / WORKDIR / "topology.yml").write_text(calibrated)
            self.compose(
                "run", "--rm", "config", env={"POOLKIT_TOPOLOGY": str(WORKDIR / "topology.yml")}
            )
            rendered = "/etc/pgbouncer/pgbouncer-*.ini"
            self.in_config("sh", "-c", f"mkdir -p {kept} && cp {rendered} {kept}")
            self.rendered.add(pool_size)
        self.compose("kill", "-s", "HUP", "pgbouncer")
        deadline = time.monotonic() + 30
        database = self.settings["POOLKIT_DATABASE"]
        while True:
            with self.admin() as conn:
                rows = {r["name"]: r for r in show(conn, "SHOW DATABASES")}
            if rows.get(database, {}).get("pool_size") == str(pool_size):
                # A smaller pool_size closes no server connection a larger one opened (the
                # calibration's 32 were still there, and used, at pool 2): drop them while
                # nothing runs, so every measurement starts from an empty pool.
                # The console takes the simple query protocol only (pgconn.exec_, as `show`).
                with self.admin() as conn:
                    for command in (f"KILL {database}", f"RESUME {database}"):
                        result = conn.pgconn.exec_(command.encode())
                        if result.status != ExecStatus.COMMAND_OK:
                            raise SystemExit(
                                f"pool_sweep: {command} on PgBouncer's console failed: "
                                f"{(result.error_message or b'').decode(errors='replace')}"
                            )
                return
            if time.monotonic() > deadline:
                raise SystemExit(
                    f"pool_sweep: PgBouncer's pool_size for {database} is "
                    f"{rows.get(database, {}).get('pool_size')} after the reload, "
                    f"expected {pool_size}"
                )
            time.sleep(0.5)

    def sample_servers(self, stop: threading.Event, seen: list[int]) -> None:
        """Append the app pool's server connections to `seen` every 0.5 s until `stop`."""
        from poolkit.cli._console import show

        kinds = ("sv_active", "sv_idle", "sv_used")
        with self.admin() as conn:
            while not stop.wait(0.5):
                for row in show(conn, "SHOW POOLS"):
                    if row["database"] == self.settings["POOLKIT_DATABASE"]:
                        seen.append(sum(int(row[k] or 0) for k in kinds))


def pgbench(stack: Stack, argv: list[str], what: str) -> str:
    run = subprocess.run(["pgbench", *argv], env=stack.password_env, capture_output=True, text=True)
    if run.returncode != 0:
        raise SystemExit(f"pool_sweep: pgbench {what} failed:\n{(run.stdout + run.stderr)[-2000:]}")
    return run.stdout + run.stderr


def measure(
    stack: Stack, workload: str, run: PoolRun, round_: int, args: argparse.Namespace
) -> None:
    """One round of `workload` at `run.pool_size`, deployed afresh (an empty pool)."""
    stack.deploy_pool(run.pool_size)
    stop = threading.Event()
    samples: list[int] = []
    sampler = threading.Thread(target=stack.sample_servers, args=(stop, samples))
    sampler.start()
    out = pgbench(
        stack,
        [
            "-n",
            "-M",
            "simple",
            "-b",
            SCRIPTS[workload][0],
            "-c",
            str(args.clients),
            "-j",
            str(args.clients),
            "-T",
            str(args.duration),
            stack.dsn("POOLKIT_PGBOUNCER_PORT"),
        ],
        f"{workload} at pool {run.pool_size}",
    )
    stop.set()
    sampler.join()
    run.tps.append(parse_tps(out, f"{workload} pool {run.pool_size} round {round_ + 1}"))
    run.server_connections = max([run.server_connections, *samples])


def warm_up(stack: Stack, args: argparse.Namespace) -> None:
    """Write the loading's WAL out (CHECKPOINT) and run the TPC-B-like load once unmeasured:
    the first measured runs otherwise met that checkpoint and cold caches (the first pass of
    a calibration at 8 clients gave 412 tps, the next two 709 and 783)."""
    print(f"==> CHECKPOINT, then {args.warm_up} s of unmeasured load", flush=True)
    stack.compose("exec", "-T", "-u", "postgres", "postgres", "psql", "-Xq", "-c", "CHECKPOINT")
    if args.warm_up > 0:
        pgbench(
            stack,
            [
                "-n",
                "-b",
                "tpcb-like",
                "-c",
                str(args.clients),
                "-j",
                str(args.clients),
                "-T",
                str(args.warm_up),
                stack.dsn("POOLKIT_POSTGRES_PORT"),
            ],
            "warm-up",
        )


def sweep(stack: Stack, workload: str, pools: list[int], args: argparse.Namespace) -> dict:
    """--rounds passes over every pool size (2, 4, ... then 2, 4, ... again), so a change in
    the machine's load spreads over every pool size instead of favouring one."""
    runs = {p: PoolRun(p) for p in pools}
    for round_ in range(args.rounds):
        for pool_size in pools:
            measure(stack, workload, runs[pool_size], round_, args)
        print(
            f"  round {round_ + 1} of {args.rounds}: "
            + ", ".join(f"pool {p} {runs[p].tps[-1]:.0f}" for p in pools)
            + " tps",
            flush=True,
        )
    for p in pools:
        print(
            f"  pool {p:>3}: mean {runs[p].mean:.0f} tps "
            f"(server connections seen: {runs[p].server_connections})",
            flush=True,
        )
    return runs


def calibrate(stack: Stack, workload: str, args: argparse.Namespace) -> dict:
    if args.calibrate_through == "pgbouncer":
        stack.deploy_pool(args.clients)
        port_key = "POOLKIT_PGBOUNCER_PORT"
    else:
        port_key = "POOLKIT_POSTGRES_PORT"
    script = ROOT / WORKDIR / f"{workload}.sql"
    script.write_text(SCRIPTS[workload][1].replace(":scale", str(SCALE)))
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "poolkit",
            "calibrate",
            stack.dsn(port_key),
            "--sql",
            str(script),
            "--max-clients",
            str(args.clients),
            "--cpu-cores",
            str(args.cpu_cores),
            "--time-budget",
            str(args.calibrate_budget),
            *(["--duration", str(args.calibrate_duration)] if args.calibrate_duration else []),
            *(["--repeats", str(args.calibrate_repeats)] if args.calibrate_repeats else []),
            "--format",
            "json",
            "--plot",
            str(ROOT / WORKDIR / f"calibrate-{workload}.png"),
            "--out-csv",
            str(ROOT / WORKDIR / f"calibrate-{workload}.csv"),
        ],
        env={**stack.password_env, "PYTHONPATH": str(ROOT / "src")},
        capture_output=True,
        text=True,
    )
    if run.returncode != 0:
        raise SystemExit(f"pool_sweep: poolkit calibrate failed:\n{run.stderr[-2000:]}")
    return json.loads(run.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pools", default="2,4,8,16,32", help="pool sizes to sweep")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--duration", type=int, default=10, help="seconds per pgbench run")
    parser.add_argument("--rounds", type=int, default=3, help="pgbench runs per pool size")
    parser.add_argument("--workloads", default="tpcb,select", help="tpcb, select or both")
    parser.add_argument("--cpu-cores", type=int, default=2, help="the floor's cpu_cores")
    parser.add_argument(
        "--warm-up", type=int, default=30, help="seconds of unmeasured load before measuring"
    )
    parser.add_argument("--calibrate-budget", type=int, default=120)
    parser.add_argument(
        "--calibrate-duration",
        type=int,
        help="seconds per calibrate run (default: as long as --calibrate-budget allows, <= 10)",
    )
    parser.add_argument(
        "--calibrate-repeats",
        type=int,
        help="passes of poolkit calibrate (default: 3, or 2 if --calibrate-budget is short)",
    )
    parser.add_argument(
        "--calibrate-through",
        choices=("postgres", "pgbouncer"),
        default="postgres",
        help="where poolkit calibrate measures: PostgreSQL directly, or PgBouncer with its "
        "pool opened to --clients",
    )
    parser.add_argument("--keep", action="store_true", help="leave the stack running")
    args = parser.parse_args()
    pools = sorted({int(p) for p in args.pools.split(",")})
    workloads = args.workloads.split(",")
    unknown = [w for w in workloads if w not in SCRIPTS]
    if unknown or not pools or min(pools) < 1:
        parser.error(f"--workloads takes {', '.join(SCRIPTS)}; --pools positive integers")
    floor = args.cpu_cores * 2

    stack = Stack()
    started = time.monotonic()
    print(f"==> docker compose -p {PROJECT} up (ports {sorted(PORTS.values())})", flush=True)
    stack.up()
    try:
        print(f"==> pgbench -i -s {SCALE} on PostgreSQL", flush=True)
        pgbench(stack, ["-i", "-q", "-s", str(SCALE), stack.dsn("POOLKIT_POSTGRES_PORT")], "-i")
        warm_up(stack, args)
        results = {}
        for workload in workloads:
            print(
                f"==> {workload}: poolkit calibrate through {args.calibrate_through} (--sql, up to "
                f"{args.clients} clients, {args.calibrate_budget} s)",
                flush=True,
            )
            fit = calibrate(stack, workload, args)
            # No recommendation (a poor fit): poolkit size keeps the floor, and so does this.
            recommended = fit.get("recommendation")
            if not isinstance(recommended, int):
                recommended = floor
            swept = sorted({*pools, floor, recommended})
            print(
                f"==> {workload}: {args.clients} clients through PgBouncer, pools "
                f"{', '.join(map(str, swept))}, {args.rounds} rounds of {args.duration} s",
                flush=True,
            )
            runs = sweep(stack, workload, swept, args)
            results[workload] = (runs, fit, recommended)
        print(
            f"\n==> results ({time.monotonic() - started:.0f} s; pgbench -c {args.clients} "
            f"-j {args.clients} through PgBouncer, scale {SCALE})"
        )
        for workload, (runs, fit, recommended) in results.items():
            r = ratios(runs, recommended, floor)
            print(f"\n{workload} ({SCRIPTS[workload][0]})")
            print("| pool_size | tps (mean) | rounds | server connections |")
            print("|---:|---:|---|---:|")
            for p in sorted(runs):
                marks = [m for m, v in (("calibrated", recommended), ("floor", floor)) if v == p]
                label = f"{p} ({', '.join(marks)})" if marks else str(p)
                print(
                    f"| {label} | {runs[p].mean:.0f} | "
                    f"{', '.join(f'{t:.0f}' for t in runs[p].tps)} | "
                    f"{runs[p].server_connections} |"
                )
            f = fit.get("fit") or {}
            shape = ", ".join(
                f"{k} {f[k]:.4g}"
                for k in ("alpha", "beta", "lambda", "r2", "spread", "peak_concurrency")
                if isinstance(f.get(k), (int, float))
            )
            noise = rounds_spread(runs)
            if noise is not None:
                print(
                    f"rounds spread {noise:.1%} around their pool's mean (pooled): two pools' "
                    f"means closer than about {2 * noise / args.rounds**0.5:.1%} are within "
                    f"the noise of {args.rounds} rounds"
                )
            fallback = "" if fit.get("recommendation") else " (no recommendation: the floor stays)"
            print(f"calibration: pool {recommended}{fallback}: {fit.get('reason')}; {shape}")
            calibrated_ratio = f"{r['calibrated']:.1%}" if r["calibrated"] is not None else "n/a"
            print(
                f"tps at the calibrated pool / best swept: {calibrated_ratio}; "
                f"at the floor's pool ({floor}) / best swept: {r['floor']:.1%} "
                f"(best {r['best_tps']:.0f} tps)"
            )
            paired = {p: paired_ratio(runs, p) for p in (recommended, floor)}
            print(
                "the same, round by round (mean of each round's ratio to the best pool in "
                f"that round): calibrated {paired[recommended]:.1%}, floor {paired[floor]:.1%}"
            )
    finally:
        if args.keep:
            print(f"==> the stack stays up (docker compose -p {PROJECT} down -v to remove it)")
        else:
            stack.down()
    return 0


if __name__ == "__main__":
    sys.exit(main())
