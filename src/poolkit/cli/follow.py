"""`poolkit follow`: point PgBouncer's followed databases at the Patroni leader.

Every --interval it asks each Patroni REST endpoint for GET /cluster (in parallel, each with
--timeout), and `poolkit.follower.decide` names the target. A new leader is taken only once
its own REST API says its PostgreSQL is out of recovery (`poolkit.follower.promoted`; asked
again every 0.1 s meanwhile). When the target changes it
rewrites the `[databases]` include file (a temporary file renamed over it) and reloads each
PgBouncer unit (`systemctl reload`, SIGHUP: PgBouncer closes idle server connections to the
old address at once and busy ones when released; new ones go to the new address). With no
agreement it keeps the last target. Read-only databases (`follow: replicas`) point at the
streaming replicas within the lag bound (the leader when none), rewritten the same way
when that set changes. Its state (target, healthy, reason, time) is in
--state-file for `poolkit status`, and each change of state is one line on stdout (the
journal). A restarted follower starts from the include file's target.
"""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path

from poolkit import PoolkitError
from poolkit.follower import (
    Answer,
    Decision,
    FollowerConfig,
    Target,
    await_promotion,
    decide,
    describe_replicas,
    load_config,
    promoted,
    render_databases,
    replicas_of_include,
    replication_source,
    resume_due,
    target_of_include,
)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "follow",
        help="point PgBouncer's databases at the Patroni leader (a long-running watcher)",
        description=(
            "Watch a Patroni cluster's REST API and keep PgBouncer's followed databases "
            "pointed at the running leader: rewrite the [databases] include file and reload "
            "PgBouncer when the leader changes; keep the last target when Patroni does not "
            "answer or agree."
        ),
    )
    parser.add_argument(
        "--config", required=True, metavar="PATH", help="the follower's JSON configuration"
    )
    parser.add_argument(
        "--once", action="store_true", help="decide and act once, then exit (for tests)"
    )
    parser.set_defaults(handler=run)


def _context(config: FollowerConfig) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=config.ca_file or None)


def ask(endpoint: str, context: ssl.SSLContext, timeout: float) -> Answer:
    try:
        with urllib.request.urlopen(
            f"{endpoint}/cluster", context=context, timeout=timeout
        ) as response:
            return Answer(endpoint, json.loads(response.read()))
    except (OSError, ValueError, urllib.error.URLError) as exc:
        return Answer(endpoint, None, str(getattr(exc, "reason", exc)))


#: How long a round waits for the remaining endpoints once a majority of them answered.
GRACE = 0.05


class Poller:
    """Asks every endpoint each round, without waiting on one that does not answer.

    A round ends when every endpoint answered, or once a majority of them did and GRACE
    passed: a killed member's API answers nothing until the request's timeout (1 s), and
    waiting for it cost every round that second, the rounds that see the new leader and
    wait for its promotion included. An endpoint whose request from an earlier round is still
    out is not asked again; it counts as no answer. A late answer is dropped, not used in a
    later round. `poolkit.follower.decide` then counts only the endpoints that answered, as
    before, so a majority of all endpoints agreeing decides as it would have after the
    timeout."""

    def __init__(self, endpoints: Sequence[str], ask_one: Callable[[str], Answer]):
        self.endpoints = tuple(endpoints)
        self.ask_one = ask_one
        self.pool = ThreadPoolExecutor(max_workers=len(self.endpoints))
        self.out: dict[str, Future] = {}

    def round(self) -> list[Answer]:
        asked = {}
        for endpoint in self.endpoints:
            earlier = self.out.get(endpoint)
            if earlier is None or earlier.done():
                self.out[endpoint] = asked[endpoint] = self.pool.submit(self.ask_one, endpoint)
        majority = len(self.endpoints) // 2 + 1
        pending = set(asked.values())
        while pending:
            answered = len(asked) - len(pending)
            if answered >= majority:
                wait(pending, timeout=GRACE)
                break
            _, pending = wait(pending, return_when=FIRST_COMPLETED)
        answers = []
        for endpoint in self.endpoints:
            future = asked.get(endpoint)
            if future is not None and future.done():
                answers.append(future.result())
            else:
                answers.append(Answer(endpoint, None, "no answer yet"))
        return answers

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


def ask_status(api_url: str, context: ssl.SSLContext, timeout: float) -> tuple[dict | None, str]:
    """A member's GET /patroni (its `api_url`), and a short account of the answer."""
    try:
        with urllib.request.urlopen(api_url, context=context, timeout=timeout) as response:
            status = json.loads(response.read())
    except urllib.error.HTTPError as exc:  # 503 still carries the member's status
        try:
            status = json.loads(exc.read())
        except ValueError:
            return None, f"{api_url}: HTTP {exc.code}"
    except (OSError, ValueError, urllib.error.URLError) as exc:
        return None, f"{api_url}: {getattr(exc, 'reason', exc)}"
    if not isinstance(status, dict):
        return None, f"{api_url}: not a Patroni status"
    return status, f"{api_url}: role {status.get('role')}, state {status.get('state')}"


def leader_replication(
    config: FollowerConfig, context: ssl.SSLContext, answers: list[Answer]
) -> list | None:
    """For read-only databases on Patroni before 3.0.4: the leader's pg_stat_replication
    rows (`poolkit.follower.replication_source`); None when not needed or not answered."""
    source = replication_source(answers) if config.replica_databases else ""
    if not source:
        return None
    status, _ = ask_status(source, context, config.timeout)
    if status is None:
        return None
    rows = status.get("replication", [])
    return rows if isinstance(rows, list) else None


def confirm_leader(
    config: FollowerConfig,
    context: ssl.SSLContext,
    decision: Decision,
    current: Target | None,
    replicas: tuple[Target, ...],
) -> Decision:
    """`decision`, or the last target kept while its new leader is still promoting."""
    if not decision.changed or current is None or not decision.leader_api:
        return decision
    status, detail = ask_status(decision.leader_api, context, config.timeout)
    return decision if promoted(status) else await_promotion(decision, current, replicas, detail)


def write_atomically(path: str, text: str) -> None:
    directory = os.path.dirname(path)
    handle, tmp = tempfile.mkstemp(dir=directory, prefix=".follow-")
    try:
        with os.fdopen(handle, "w") as out:
            out.write(text)
        os.chmod(tmp, 0o644)  # PgBouncer's user reads it; no secret in it
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def reload_units(units: tuple[str, ...]) -> list[str]:
    """Reload each PgBouncer unit; the units that failed to reload."""
    failed = []
    for unit in units:
        try:
            run = subprocess.run(
                ["systemctl", "reload", unit], capture_output=True, text=True, check=False
            )
        except OSError as exc:
            failed.append(f"{unit}: {exc}")
            continue
        if run.returncode != 0:
            failed.append(f"{unit}: {run.stderr.strip() or run.returncode}")
    return failed


def act(
    config: FollowerConfig, target: Target, replicas: tuple[Target, ...] = ()
) -> tuple[bool, list[str]]:
    """Make the include file say `target` (and `replicas`, for the read-only databases)
    with the configured settings: write it and reload the units when it differs (a new
    leader or replica set, changed settings, a missing file).
    Returns (written, the units that failed to reload)."""
    text = render_databases(config.databases, target, config.replica_databases, replicas)
    try:
        if Path(config.include_file).read_text() == text:
            return False, []
    except OSError:
        pass
    write_atomically(config.include_file, text)
    return True, reload_units(config.units)


def resume_if_due(config: FollowerConfig, target: Target | None) -> None:
    """RESUME every process when a switchover's request names `target` (`resume_due`),
    then remove the request: it is done once."""
    if config.resume is None:
        return
    path = Path(config.resume.request_file)
    try:
        request = json.loads(path.read_text())
        age = time.time() - path.stat().st_mtime
    except (OSError, ValueError):
        return
    if not resume_due(request, target, age):
        return
    failed = []
    for argv in config.resume.commands():
        try:
            run = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=10)
        except (OSError, subprocess.TimeoutExpired) as exc:
            failed.append(str(exc))
            continue
        errors = [line for line in run.stderr.splitlines() if "not paused" not in line]
        if run.returncode not in (0, 1) or errors:
            failed.append("; ".join(errors) or f"psql exited {run.returncode}")
    path.unlink(missing_ok=True)
    print(
        f"resumed {', '.join(config.resume.databases)} on {target} (switchover request)"
        + (f"; failed: {' | '.join(failed)}" if failed else "")
    )


def save_state(config: FollowerConfig, decision: Decision, since: float) -> None:
    state = {
        "target": str(decision.target) if decision.target else None,
        "target_host": decision.target.host if decision.target else None,
        "target_port": decision.target.port if decision.target else None,
        "healthy": decision.healthy,
        "reason": decision.reason,
        "votes": decision.votes,
        "replica_databases": sorted(config.replica_databases),
        "replicas": [str(t) for t in decision.replicas] if config.replica_databases else [],
        "replica_hosts": ([t.host for t in decision.replicas] if config.replica_databases else []),
        "checked_at": time.time(),
        "state_since": since,
    }
    write_atomically(config.state_file, json.dumps(state, indent=2) + "\n")


def run(args) -> int:
    path = Path(args.config)
    try:
        config = load_config(path.read_text(), str(path))
    except OSError as exc:
        raise PoolkitError(f"cannot read the follower configuration {path}: {exc}") from exc
    context = _context(config)
    try:
        included = Path(config.include_file).read_text()
    except OSError:
        included = ""
    current, replicas = target_of_include(included), replicas_of_include(included)
    print(f"following {', '.join(config.endpoints)}; starting from {current or 'no target'}")
    last_reason, since = None, time.time()
    poller = Poller(config.endpoints, lambda e: ask(e, context, config.timeout))
    try:
        while True:
            started = time.monotonic()
            answers = poller.round()
            decision = decide(
                current,
                answers,
                replicas,
                config.max_replica_lag,
                config.single_replica,
                leader_replication(config, context, answers),
            )
            decision = confirm_leader(config, context, decision, current, replicas)
            if decision.target is not None:
                written, failed = act(config, decision.target, decision.replicas)
                moved_reads = config.replica_databases and decision.replicas != replicas
                current, replicas = decision.target, decision.replicas
                if moved_reads:
                    print(describe_replicas(replicas, current))
                if written:
                    names = {failure.split(":", 1)[0] for failure in failed}
                    reloaded = [unit for unit in config.units if unit not in names]
                    print(
                        f"wrote {config.include_file} ({decision.reason}); reloaded "
                        f"{', '.join(reloaded) or 'no unit'}"
                    )
                for failure in failed:
                    print(f"reload failed: {failure}", file=sys.stderr)
                resume_if_due(config, current)
            reason = decision.reason if not decision.healthy else f"following {current}"
            if reason != last_reason:
                since = time.time()
                if not decision.changed:
                    print(
                        reason
                        if decision.healthy
                        else f"keeping {current or 'no target'}: {reason}"
                    )
                last_reason = reason
            save_state(config, decision, since)
            sys.stdout.flush()
            if args.once:
                return 0 if decision.target else 1
            interval = min(config.interval, 0.1) if decision.promoting else config.interval
            time.sleep(max(0.0, interval - (time.monotonic() - started)))
    finally:
        poller.close()
