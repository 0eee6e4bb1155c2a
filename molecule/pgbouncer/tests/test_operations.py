"""Re-running the role: a reloadable change reloads (same PID, clients stay connected), and
a bad variable fails in preflight before anything on the host changes."""

import json


def sha256(host, path):
    return host.run(f"sha256sum {path}").stdout.split()[0]


def show_config(console, key):
    cur = console.execute("SHOW CONFIG")
    cols = [c.name for c in cur.description]
    for row in cur.fetchall():
        entry = dict(zip(cols, row, strict=True))
        if entry["key"] == key:
            return entry["value"]
    raise AssertionError(f"{key} not in SHOW CONFIG")


def test_reloadable_change_keeps_pid_and_clients(host, bouncer, converge, main_pid, own_config):
    before = main_pid()
    with bouncer() as client:
        client.execute("SELECT 1")
        run = converge(json.dumps({"pgbouncer_query_wait_timeout": 7}))
        assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
        assert main_pid() == before
        assert client.execute("SELECT 2").fetchone()[0] == 2  # the client survived
        with bouncer(dbname="pgbouncer", user="pgb_admin") as console:
            assert show_config(console, "query_wait_timeout") == "7"


def test_bad_variable_fails_before_any_change(host, converge, main_pid):
    ini = "/etc/pgbouncer/pgbouncer-1.ini"
    before = (sha256(host, ini), sha256(host, "/etc/pgbouncer/userlist.txt"), main_pid())
    run = converge(json.dumps({"pgbouncer_min_pool_size": 50}))
    output = run.stdout + run.stderr  # molecule's ansible.cfg sends failures to stderr
    assert run.returncode != 0
    assert "pgbouncer_min_pool_size: 50 is above pgbouncer_default_pool_size" in output, output[
        -3000:
    ]
    after = (sha256(host, ini), sha256(host, "/etc/pgbouncer/userlist.txt"), main_pid())
    assert after == before
