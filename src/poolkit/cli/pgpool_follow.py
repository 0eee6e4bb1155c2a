"""`poolkit pgpool-follow`: keep Pgpool-II's primary on the Patroni leader.

Each round asks every Patroni endpoint for /cluster (`poolkit.follower.decide`: a majority,
a running leader, out of recovery by its own REST API), reads Pgpool-II's backends with
`pcp_node_info`, and sends the one PCP request `poolkit.pgpool_follower.decide_action` names
(attach the leader's backend, or make it Pgpool-II's primary). The PCP password comes from a
file (the unit's systemd credential); the PCP tools read it from a password file this command
writes, mode 0600, in a directory only it uses (the unit's RuntimeDirectory, on /run).
"""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from poolkit import PoolkitError
from poolkit.cli.follow import ask, ask_status, write_atomically
from poolkit.follower import Decision, decide, promoted
from poolkit.pgpool_follower import (
    Action,
    PgpoolFollowerConfig,
    PgpoolNode,
    agrees,
    as_target,
    decide_action,
    due,
    load_config,
    parse_node_info,
    primary_of,
)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "pgpool-follow",
        help="keep Pgpool-II's primary on the Patroni leader (PCP)",
        description=(
            "Watch a Patroni cluster's REST API and Pgpool-II's backends (pcp_node_info); "
            "attach the leader's backend when Pgpool-II detached it, or make it Pgpool-II's "
            "primary when Pgpool-II names another (docs/ha.md)."
        ),
    )
    parser.add_argument("--config", required=True, metavar="PATH", help="the JSON configuration")
    parser.add_argument(
        "--password-file",
        required=True,
        metavar="PATH",
        help="the PCP user's password (the unit's credential)",
    )
    parser.add_argument(
        "--runtime-dir",
        default=os.environ.get("RUNTIME_DIRECTORY", ""),
        metavar="DIR",
        help="a private directory on /run for the PCP password file (default: the unit's "
        "RuntimeDirectory)",
    )
    parser.add_argument("--once", action="store_true", help="one round, then exit")
    parser.set_defaults(handler=run)


def write_pcppass(directory: str, user: str, password: str) -> str:
    """The PCP password file (0600: the PCP tools ignore one with group access)."""
    if not directory or not os.path.isdir(directory):
        raise PoolkitError(
            f"--runtime-dir {directory!r} is not a directory: give a private directory on /run "
            "(the unit's RuntimeDirectory) for the PCP password file"
        )
    path = os.path.join(directory, "pcppass")
    handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(handle, "w") as out:
        out.write(f"*:*:{user}:{password}\n")
    os.chmod(path, 0o600)
    return path


class Pcp:
    """The PCP tools against one Pgpool-II, with the password file."""

    def __init__(self, config: PgpoolFollowerConfig, pcppass: str):
        self.args = ["-h", config.pcp_host, "-p", str(config.pcp_port), "-U", config.pcp_user, "-w"]
        self.env = {**os.environ, "PCPPASSFILE": pcppass}
        self.timeout = max(5.0, config.timeout * 5)

    def run(self, command: str, *args: str) -> str:
        try:
            done = subprocess.run(
                [command, *self.args, *args],
                capture_output=True,
                text=True,
                env=self.env,
                timeout=self.timeout,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PoolkitError(f"{command}: {exc}") from exc
        if done.returncode != 0:
            raise PoolkitError(f"{command}: {(done.stderr or done.stdout).strip()[:300]}")
        return done.stdout

    def nodes(self, count: int) -> list[PgpoolNode]:
        return [
            parse_node_info(i, self.run("pcp_node_info", "--verbose", "-n", str(i)))
            for i in range(count)
        ]

    def send(self, action: Action) -> str:
        return self.run(action.pcp_command(), "-n", str(action.node.node_id)).strip()


def leader_of(
    config: PgpoolFollowerConfig, context: ssl.SSLContext, decision: Decision
) -> tuple[Decision, bool]:
    """`decision`, and whether its new leader is still in recovery (then not yet a leader
    for Pgpool-II: asked again at once)."""
    if not decision.changed or not decision.leader_api:
        return decision, False
    status, detail = ask_status(decision.leader_api, context, config.timeout)
    if promoted(status):
        return decision, False
    reason = f"new leader {decision.target} is not out of recovery yet ({detail})"
    return Decision(None, False, False, reason, decision.votes), True


def save_state(config: PgpoolFollowerConfig, state: dict) -> None:
    write_atomically(config.state_file, json.dumps(state, indent=2) + "\n")


def one_round(config, context, pool, pcp, last_action) -> tuple[dict, tuple | None, bool]:
    answers = list(pool.map(lambda e: ask(e, context, config.timeout), config.endpoints))
    try:
        nodes = pcp.nodes(config.nodes)
    except PoolkitError as exc:
        state = {"healthy": False, "reason": f"Pgpool-II's PCP did not answer: {exc}"}
        return state, last_action, False
    primary = primary_of(nodes)
    decision = decide(as_target(primary), answers)
    decision, promoting = leader_of(config, context, decision)
    leader = decision.target if decision.healthy else None
    action, note = decide_action(leader, nodes)
    reason = note if action is None else action.reason
    if leader is None:
        reason = f"{decision.reason}; Pgpool-II left as it is"
    sent = ""
    if action is not None and due(action, last_action, time.monotonic(), config.retry):
        try:
            sent = pcp.send(action)
        except PoolkitError as exc:
            sent = f"failed: {exc}"
        last_action = (action.kind, action.node.node_id, time.monotonic())
        print(f"{action.pcp_command()} {action.node}: {action.reason}: {sent}")
    state = {
        "leader": str(leader) if leader else None,
        "leader_host": leader.host if leader else None,
        "leader_name": (leader.name or leader.host) if leader else None,
        "pgpool_primary": f"{primary.host}:{primary.port}" if primary else None,
        "healthy": agrees(leader, nodes),
        "reason": reason,
        "nodes": [str(n) for n in nodes],
        # Attaching one restarts Pgpool-II's children: switchover.yml waits for it.
        "detached": [f"{n.host}:{n.port}" for n in nodes if not n.attached],
        "last_request": sent or None,
    }
    return state, last_action, promoting


def run(args) -> int:
    path = Path(args.config)
    try:
        config = load_config(path.read_text(), str(path))
        password = Path(args.password_file).read_text().strip()
    except OSError as exc:
        raise PoolkitError(f"cannot read {exc.filename}: {exc.strerror}") from exc
    if not password:
        raise PoolkitError(f"--password-file {args.password_file}: empty (the PCP password)")
    pcp = Pcp(config, write_pcppass(args.runtime_dir, config.pcp_user, password))
    context = ssl.create_default_context(cafile=config.ca_file or None)
    print(f"following {', '.join(config.endpoints)} for Pgpool-II's {config.nodes} backends")
    last_action, last_reason, since = None, None, time.time()
    with ThreadPoolExecutor(max_workers=len(config.endpoints)) as pool:
        while True:
            started = time.monotonic()
            state, last_action, promoting = one_round(config, context, pool, pcp, last_action)
            if state["reason"] != last_reason:
                since, last_reason = time.time(), state["reason"]
                print(state["reason"])
            state.update(checked_at=time.time(), state_since=since)
            save_state(config, state)
            sys.stdout.flush()
            if args.once:
                return 0 if state["healthy"] or state.get("last_request") else 1
            interval = min(config.interval, 0.1) if promoting else config.interval
            time.sleep(max(0.0, interval - (time.monotonic() - started)))
