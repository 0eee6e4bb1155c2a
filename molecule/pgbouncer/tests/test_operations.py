"""Re-running the role with a bad variable fails in preflight before anything on the host
changes. (A reloadable change reloads, same PID, clients connected, the new values in SHOW
CONFIG: test_load.py's reload under load.)"""

import json


def sha256(host, path):
    return host.run(f"sha256sum {path}").stdout.split()[0]


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
