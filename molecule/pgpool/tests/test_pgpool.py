"""roles/pgpool in front of a streaming primary and replica: the service as deployed, SCRAM
through AES pool_passwd, node status, load balancing, connection cache, limits, health
checks and re-attaching a backend."""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass

import psycopg
import pytest
from conftest import PASSWORDS, pool_nodes, wait_for
from converge import converge as run_converge
from converge import secrets_in_output
from credentials import assert_stored_encrypted
from test_exporter import CREDENTIAL, exporter_started, metrics

from poolkit import pgpool as pgpool_settings

NUM_INIT_CHILDREN = 6  # converge.yml
MAX_POOL = 2
RESERVED = 1


def test_service_enabled_and_running(host):
    service = host.service("pgpool2.service")
    assert service.is_running
    assert service.is_enabled


@pytest.mark.parametrize("port", [9999, 9898])
def test_client_and_pcp_ports_listening(host, port):
    assert host.socket(f"tcp://0.0.0.0:{port}").is_listening


@pytest.mark.parametrize(
    ("path", "mode", "owner"),
    [
        ("/etc/pgpool2/pool_passwd", 0o640, "postgres"),
        ("/var/lib/postgresql/.pgpoolkey", 0o600, "postgres"),
        ("/etc/pgpool2/pcp.conf", 0o640, "root"),
    ],
)
def test_secret_files_modes(host, path, mode, owner):
    secret = host.file(path)
    assert secret.mode == mode
    assert secret.user == owner


@pytest.mark.parametrize("user", ["app", "pgpool_check", "pcpadmin"])
def test_no_plaintext_password_on_disk(host, user):
    found = host.run(f"grep -rlF -- '{PASSWORDS[user]}' /etc/pgpool2 /var/lib/postgresql")
    assert found.rc == 1, f"plaintext password of {user} in {found.stdout}"


def test_pool_passwd_entries_are_aes(host):
    content = host.file("/etc/pgpool2/pool_passwd").content_string
    assert "app:AES" in content
    assert "pgpool_check:AES" in content


def test_scram_login_through_pgpool(pgpool):
    # libpq refuses any other method (md5, password, trust): the login is SCRAM.
    with pgpool(require_auth="scram-sha-256") as conn:
        assert conn.execute("SELECT current_user").fetchone()[0] == "app"


def test_wrong_password_is_refused(pgpool):
    with pytest.raises(psycopg.OperationalError, match="authentication failed"):
        pgpool(password="not-the-password")


def test_show_pool_nodes_both_up_with_weights(pgpool):
    with pgpool() as conn:
        nodes = pool_nodes(conn)
    assert [n["status"] for n in nodes] == ["up", "up"]
    assert [n["role"] for n in nodes] == ["primary", "standby"]
    assert [float(n["lb_weight"]) for n in nodes] == [0.5, 0.5]


def test_pcp_node_info_answers(pcp):
    result = pcp("pcp_node_info -n 1")
    assert result.rc == 0, result.stderr
    assert "standby" in result.stdout


def select_counts(pgpool):
    with pgpool() as conn:
        return [int(node["select_cnt"]) for node in pool_nodes(conn)]


def test_reads_outside_transactions_reach_the_replica(pgpool):
    # A plain SELECT (a volatile function such as pg_is_in_recovery() would go to the
    # primary: Pgpool-II treats volatile functions as writes).
    before = select_counts(pgpool)
    for _ in range(30):
        with pgpool() as conn:
            conn.execute("SELECT 1").fetchone()
    after = select_counts(pgpool)
    assert after[1] > before[1]  # sessions balanced to the replica
    assert after[0] > before[0]  # and to the primary, by weight 1:1


def test_writes_and_transactions_stay_on_the_primary(pgpool):
    before = select_counts(pgpool)
    for _ in range(10):
        with pgpool(autocommit=False) as conn:
            conn.execute("CREATE TEMP TABLE t (x int)")
            for _ in range(3):
                conn.execute("SELECT 1").fetchone()
            assert conn.execute("SELECT pg_is_in_recovery()").fetchone()[0] is False
            conn.rollback()
    after = select_counts(pgpool)
    assert after[1] == before[1]  # nothing reached the replica after the write


def test_connection_cache_reuses_backends(pgpool):
    """20 reconnects of the same user/database: with the cache, they are served by the
    cached connections of at most num_init_children children on 2 backends."""
    pids = set()
    for _ in range(20):
        with pgpool() as conn:
            pids.add(conn.execute("SELECT pg_backend_pid()").fetchone()[0])
    assert len(pids) <= NUM_INIT_CHILDREN * 2 < 20


def test_client_beyond_the_limit_is_refused(pgpool):
    conns = []
    try:
        for _ in range(NUM_INIT_CHILDREN - RESERVED):
            conns.append(pgpool())
        # Without SSL negotiation: libpq hides an error sent in reply to its SSL request.
        with pytest.raises(psycopg.OperationalError, match="too many clients"):
            conns.append(pgpool(sslmode="disable"))
    finally:
        for conn in conns:
            conn.close()


def test_backends_never_see_more_than_children_x_max_pool(pgpool, backend):
    """Each child caches connections for up to max_pool user/database pairs. Three pairs
    (three users of `app`: Pgpool-II caches no connection to postgres or template1), each
    through as many children at once as clients may hold: every child that served them
    keeps two pairs at most (the oldest evicted), so the primary sees more cached
    connections than children (max_pool is used) and never more than children x max_pool.
    (5 sessions per pair on 6 children: at least 10 cached, whatever child took which.)"""
    users = ("app", "pgpool_check", "pgpool_monitor")

    def connect(user):
        # A child that just ended a session is busy resetting it for a moment, and with
        # reserved_connections Pgpool-II refuses ("too many clients") rather than queue.
        deadline = time.monotonic() + 10
        while True:
            try:
                return pgpool(user=user)
            except psycopg.OperationalError as error:
                if time.monotonic() > deadline:
                    raise
                if "too many clients" not in str(error) and "SSL exchange" not in str(error):
                    raise
                time.sleep(0.2)

    for user in users:
        conns = [connect(user) for _ in range(NUM_INIT_CHILDREN - RESERVED)]
        try:
            for conn in conns:
                conn.execute("SELECT 1")
        finally:
            for conn in conns:
                conn.close()
    # Only Pgpool-II logs in as these users (its own checks use the postgres database), and
    # `app` sees other users' sessions without their address: count by user, not address.
    count = (
        backend("primary")
        .execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = 'app'"
            " AND usename = ANY(%s) AND pid <> pg_backend_pid()",
            (list(users),),
        )
        .fetchone()[0]
    )
    print(f"\n{count} connections of 3 users cached by {NUM_INIT_CHILDREN} children, primary")
    assert NUM_INIT_CHILDREN < count <= NUM_INIT_CHILDREN * MAX_POOL


def test_pool_passwd_entry_is_what_pg_enc_writes(host):
    # Pgpool-II's own tool, with the deployed key, encrypts the password to the same line.
    out = host.run(
        "su postgres -s /bin/sh -c "
        f"'pg_enc -k /var/lib/postgresql/.pgpoolkey -u app {PASSWORDS['app']}'"
    ).stdout
    expected = next(line.split(": ", 1)[1] for line in out.splitlines() if "string:" in line)
    assert f"app:{expected}\n" in host.file("/etc/pgpool2/pool_passwd").content_string


def test_pcp_conf_entry_is_what_pg_md5_writes(host):
    digest = host.run(f"pg_md5 {PASSWORDS['pcpadmin']}").stdout.strip()
    assert f"pcpadmin:{digest}" in host.file("/etc/pgpool2/pcp.conf").content_string


def test_oversize_num_init_children_fails_before_any_change(host, converge):
    def state():
        pid = host.run("systemctl show -p MainPID --value pgpool2.service").stdout.strip()
        return host.run("sha256sum /etc/pgpool2/pgpool.conf").stdout.split()[0], pid

    before = state()
    run = converge(json.dumps({"pgpool_num_init_children": 500}))
    output = run.stdout + run.stderr
    assert run.returncode != 0
    assert "num_init_children 500" in output, output[-3000:]
    assert "the largest pgpool_num_init_children that fits" in output
    assert state() == before


def test_reloadable_change_keeps_the_pid(host, converge, pgpool):
    def main_pid():
        return host.run("systemctl show -p MainPID --value pgpool2.service").stdout.strip()

    before = main_pid()
    # test_verbose_run_prints_no_password_or_key converges back to converge.yml's setting.
    run = converge(json.dumps({"pgpool_health_check_period": 3}))
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    assert main_pid() == before
    with pgpool() as conn:
        # PGPOOL SHOW answers (item, value, description) for parameters with indexes.
        assert "3" in conn.execute("PGPOOL SHOW health_check_period").fetchone()


def test_logs_go_to_the_rotated_file(host):
    log = host.file("/var/log/pgpool2/pgpool.log")
    assert log.exists
    assert "LOG:" in log.content_string
    rotate = host.run("logrotate --debug /etc/logrotate.d/pgpool-poolkit")
    assert rotate.rc == 0, rotate.stderr


@dataclass
class VerboseRun:
    run: subprocess.CompletedProcess
    exporter_started: int


@pytest.fixture(scope="module")
def verbose_run(host):
    """One `ansible-playbook -vvv` converge for two tests: first the exporter's stored
    credential is made undecryptable, as after a re-installed host (a new host key), so the
    verbose run also re-encrypts a password, the path most likely to print one. It also
    converges back from test_reloadable_change_keeps_the_pid. One converge instead of two."""
    metrics(host)
    started = exporter_started(host)
    assert host.run(f"echo not-a-credential > {CREDENTIAL}").rc == 0
    return VerboseRun(run_converge(host.backend.host, None, 3), started)


def test_verbose_run_prints_no_password_or_key(verbose_run):
    """ansible-playbook -vvv of the role: no password and no pool key in its output."""
    assert not secrets_in_output(verbose_run.run, PASSWORDS)


def test_a_credential_that_no_longer_decrypts_is_replaced(host, verbose_run):
    """plugins/modules/poolkit_credential.py finds the stored file does not decrypt, encrypts
    the password again and the handler restarts the exporter, which then logs in with it."""
    run = verbose_run.run
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    task = run.stdout.split("Store the exporter's password encrypted", 1)[1].split("TASK", 1)[0]
    assert "changed: [" in task, task[-3000:]
    assert host.run(f"systemd-creds decrypt --name=password {CREDENTIAL} - >/dev/null").rc == 0
    assert_stored_encrypted(host, PASSWORDS["pgpool_monitor"], CREDENTIAL)
    assert exporter_started(host) > verbose_run.exporter_started
    assert "pgpool2_up 1.0" in metrics(host)


def test_show_all_lists_exactly_the_settings_table(pgpool, host):
    """Pgpool-II's own PGPOOL SHOW ALL against poolkit's table (src/poolkit/pgpool.py
    SETTINGS, with its version ranges and renames): every key the table says this version
    reads, and no other, apart from indexed keys and the keys poolkit refuses."""
    version = host.run("dpkg-query -W -f='${Version}' pgpool2").stdout
    with pgpool() as conn:
        shown = {row[0] for row in conn.execute("PGPOOL SHOW ALL").fetchall()}
    plain = {key for key in shown if not pgpool_settings.is_indexed(key)}
    listed = plain - set(pgpool_settings.REFUSED)
    expected = pgpool_settings.keys_read_by(version)
    assert (sorted(listed - expected), sorted(expected - listed)) == ([], [])


def test_a_restart_does_not_wait_for_connected_clients(host, pgpool):
    """The role's drop-in stops Pgpool-II with SIGINT (fast shutdown): a restart with a client
    connected and idle ends in seconds, the client's session is closed and new clients get
    in. With the packaged SIGTERM (smart shutdown) the same restart waited for the client
    until systemd's 90 s stop timeout."""
    shown = host.run("systemctl show -p KillSignal -p TimeoutStopUSec pgpool2.service").stdout
    assert "KillSignal=2\n" in shown, shown
    idle = pgpool()
    try:
        idle.execute("SELECT 1")
        started = time.monotonic()
        restart = host.run("systemctl restart pgpool2.service")
        took = time.monotonic() - started
        assert restart.rc == 0, restart.stderr
        with pytest.raises(psycopg.OperationalError):
            idle.execute("SELECT 1")
    finally:
        idle.close()
    print(f"\nrestart with one idle client connected: {took:.1f} s")
    assert took < 20
    assert wait_for(lambda: host.socket("tcp://0.0.0.0:9999").is_listening, timeout=30)

    def serves():
        try:
            with pgpool() as conn:
                return conn.execute("SELECT 1").fetchone() == (1,)
        except psycopg.OperationalError:
            return False

    assert wait_for(serves, timeout=30)
