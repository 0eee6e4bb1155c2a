"""Backend loss under read load: the replica stops while clients read through Pgpool-II.
A health check marks it down within one period and timeout of its stop; reads then succeed
on the primary alone (the failed ones are bounded to the window before, and printed);
playbooks/pgpool-attach.yml re-attaches it once it is back, and reads balance onto it
again. Attaching restarts Pgpool-II's child processes, so a session open at that moment may
be closed or a new one refused: those are the only failures allowed from the attach on, and
the readers recover. Each read is placed in a window by when it started, so one that hangs
until its connect timeout counts where it began."""

from __future__ import annotations

import threading
import time

import psycopg
from conftest import pool_nodes, wait_for

# converge.yml: health_check_period 1 s and health_check_timeout 3 s (max_retries 0), plus
# the 0.5 s between two looks at SHOW POOL_NODES and the look itself.
MARKED_DOWN_WITHIN_S = 1 + 3 + 1
# The readers have recovered from the attach once this many reads succeed after the last
# failed one.
RECOVERED_READS = 10


def test_replica_loss_under_read_load_then_attach(pgpool, other_host, attach, pgpool_status):
    replica = other_host("replica")
    unit = replica.run("systemctl list-units --plain --no-legend 'postgresql@*'").stdout.split()[0]
    reads: list[tuple[float, str | None]] = []  # (when it started, error or None)
    stop = threading.Event()

    def reader():
        while not stop.is_set():
            started = time.monotonic()
            try:  # a session per read: each picks its load-balance node anew
                with pgpool() as conn:
                    conn.execute("SELECT 1").fetchone()
                reads.append((started, None))
            except psycopg.Error as error:
                reads.append((started, str(error).strip().splitlines()[0]))
            time.sleep(0.02)

    def status():
        try:
            with pgpool() as conn:
                return pool_nodes(conn)[1]["status"]
        except psycopg.Error:
            return None

    def reads_after_last_failure():
        last_failure = max((when for when, error in reads if error), default=0.0)
        return [when for when, error in reads if not error and when > last_failure]

    def replica_selects():
        # Right after the attach Pgpool-II restarts its children: a connection in that moment
        # fails ("server sent an error response during SSL exchange", make test 2026-12-02),
        # as the healed status below may. A new one is made within 15 s.
        deadline = time.monotonic() + 15
        while True:
            try:
                with pgpool() as conn:
                    return int(pool_nodes(conn)[1]["select_cnt"])
            except psycopg.Error:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    # converge.yml runs 6 children (and refuses more): 3 readers leave room for the checks.
    threads = [threading.Thread(target=reader) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(1)
        stopped_at = time.monotonic()
        assert replica.run(f"systemctl stop {unit}").rc == 0
        gone_at = time.monotonic()
        assert wait_for(lambda: status() == "down", timeout=30), "the replica was not marked down"
        down_at = time.monotonic()
        time.sleep(3)  # reads on the primary alone
        on_primary_until = time.monotonic()
        degraded = pgpool_status()
        restarted_at = time.monotonic()
        assert replica.run(f"systemctl start {unit}").rc == 0
        assert wait_for(lambda: replica.socket("tcp://0.0.0.0:5432").is_listening, timeout=30)
        attach_at = time.monotonic()
        run = attach()
        attached_at = time.monotonic()
        assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
        assert wait_for(lambda: status() in ("up", "waiting"), timeout=30)
        up_at = time.monotonic()
        before = replica_selects()
        time.sleep(2)
        balanced = replica_selects() - before
        # The attach restarts Pgpool-II's children (below): a status query in that moment
        # fails to connect. The status must say OK within 15 s of the replica showing up.
        while True:
            healed = pgpool_status()
            if healed.returncode == 0 or time.monotonic() - up_at > 15:
                break
            time.sleep(0.5)
        healed_after = time.monotonic() - up_at
        # The children may restart late, even after the status says OK (make test
        # 2026-12-03: 6 failed reads, then the test stopped its readers after 6 good ones):
        # give the readers up to 15 s to show they recover, asserted below.
        wait_for(lambda: len(reads_after_last_failure()) >= RECOVERED_READS, timeout=15)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        replica.run(f"systemctl start {unit}")
    failed = [(when, error) for when, error in reads if error]

    def window(start, end):
        return [error for when, error in failed if start < when <= end]

    after_attach = sorted(when for when, _ in failed if when > attach_at)
    burst = after_attach[-1] - after_attach[0] if after_attach else 0.0
    last_failure = max((when for when, _ in failed), default=0.0)
    alone = (down_at + 1, on_primary_until - 0.5)  # reads that started with time to end
    succeeded_alone = [when for when, error in reads if not error and alone[0] < when <= alone[1]]

    print(
        f"\nreplica stopped under read load (3 readers): marked down after"
        f" {down_at - stopped_at:.1f} s ({down_at - gone_at:.1f} s after the stop returned);"
        f" {len(reads)} reads, {len(failed)} failed:"
        f" {len(window(stopped_at, down_at + 1))} until marked down,"
        f" {len(window(down_at + 1, restarted_at))} on the primary alone,"
        f" {len(window(restarted_at, attach_at))} while the replica restarted,"
        f" {len(window(attach_at, float('inf')))} from re-attach on (within {burst:.1f} s,"
        f" the last {max(0.0, last_failure - up_at):.1f} s after the replica showed up;"
        f" the playbook took {attached_at - attach_at:.1f} s);"
        f" {len(succeeded_alone)} reads succeeded on the primary alone;"
        f" {len(reads_after_last_failure())} after the last failure;"
        f" after re-attach {balanced} reads reached the replica in 2 s;"
        f" errors: {sorted({error for _, error in failed})[:3]}"
    )
    print(f"--- poolkit status, replica down (exit {degraded.returncode}):\n{degraded.stdout}")
    print(
        f"--- after pgpool-attach.yml (exit {healed.returncode}, {healed_after:.1f} s after the "
        f"replica showed up):\n{healed.stdout}"
    )
    assert degraded.returncode == 1, degraded.stdout + degraded.stderr
    assert "WARNING   node 1 (standby)" in degraded.stdout
    assert "pgpool-attach.yml" in degraded.stdout
    assert healed.returncode == 0, healed.stdout + healed.stderr
    assert "changed=1" in run.stdout  # the playbook attached the node
    assert down_at - gone_at <= MARKED_DOWN_WITHIN_S
    assert not window(down_at + 1, on_primary_until)  # no read failed on the primary alone
    assert len(succeeded_alone) >= 3  # and the readers were reading (3 for 1.5 s at least)
    # Attaching restarts Pgpool-II's children: a session open then is closed, and for a
    # moment fewer children accept (0 to 9 failed reads, up to 3 s after the replica showed
    # up again on a loaded machine: when depends on the load, so it is printed, not bounded).
    # Every such failure is a closed or refused connection, and the readers recover: the
    # reads after the last failure all succeeded.
    restart_kinds = ("SSL exchange", "terminating", "unable to read", "closed the", "too many")
    odd = [e for e in window(attach_at, float("inf")) if not any(k in e for k in restart_kinds)]
    assert not odd, odd
    assert len(reads_after_last_failure()) >= RECOVERED_READS
    assert balanced > 0
