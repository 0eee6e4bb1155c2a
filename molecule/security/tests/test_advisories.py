"""Known advisories against the deployed PgBouncer (README "Security", src/poolkit/advisories.py):
the one-packet attack of CVE-2026-107349 leaves the process serving everyone else, a client
that sends extra_float_digits in its StartupMessage (as JDBC drivers do) still connects, an
oversized packet is refused at its header (CVE-2026-6668's limit), and the forky host runs
the fixed release that converge upgraded it to."""

from __future__ import annotations

import asyncio
import socket
import ssl
import struct
import time

import asyncpg
import psycopg
import pytest
from conftest import APP_PASSWORD

# What the attacker sends: an `options` startup parameter with an empty option name.
ATTACK_OPTIONS = "-c="
# 1.25 GiB: above the role's max_packet_size below 1.26.0 (1073741823), below PgBouncer's
# default (2147483647), so only the role's limit refuses it.
OVERSIZED = 1_342_177_280


def version(host) -> tuple[int, ...]:
    out = host.run("pgbouncer --version").stdout.split()[1]
    return tuple(int(part) for part in out.split("."))


def cpu_ticks(host, seconds=2.0) -> int:
    """CPU ticks (user + system) pgbouncer@1 used over `seconds`: ~100 a second when it spins."""

    def ticks():
        pid = host.run("systemctl show -p MainPID --value pgbouncer@1.service").stdout.strip()
        fields = host.run(f"cat /proc/{pid}/stat").stdout.rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])

    before = ticks()
    time.sleep(seconds)
    return ticks() - before


# CPU ticks (1/100 s) in 2 s above which PgBouncer spins: a tenth of a core. An idle process
# uses 0-1; a spinning one most of a core, or a share of it when the machine is busy.
SPINNING = 20


def attack(connect):
    """One unauthenticated connection with the spinning parameter; PgBouncer must refuse it."""
    started = time.monotonic()
    with pytest.raises(psycopg.OperationalError) as refused:
        connect("pgbouncer", user="nobody", password="x", options=ATTACK_OPTIONS,
                connect_timeout=5).close()  # fmt: skip
    return str(refused.value), time.monotonic() - started


def test_the_one_packet_attack_leaves_the_process_serving_everyone(host, connect):
    with connect("pgbouncer") as before:
        before.execute("SELECT 1")
    error, took = attack(connect)
    print(f"\nattack refused after {took:.2f}s: {error.strip().splitlines()[-1]}")
    assert took < 5, "the attacker's connection hung: the process may be spinning"
    for _ in range(3):
        with connect("pgbouncer", connect_timeout=5) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    ticks = cpu_ticks(host)
    print(f"pgbouncer@1 used {ticks} ticks in 2 s after the attack")
    assert ticks < SPINNING, f"{ticks} ticks in 2 s: the process spins"


def test_the_attack_would_stop_debian_13s_pgbouncer_with_the_old_ignore_list(host, connect):
    """The control, by hand: the same attack against 1.24.1 with ignore_startup_parameters set
    as the role set it before (reloaded into the deployed file) spins the process."""
    if "forky" in host.backend.host or version(host) < (1, 20):
        pytest.skip("CVE-2026-107349 needs PgBouncer 1.20.0 to 1.26.0 (the Debian 13 host)")
    ini = "/etc/pgbouncer/pgbouncer-1.ini"
    original = host.file(ini).content_string
    with host.sudo():
        edit = host.run(
            f"cp -p {ini} /root/pgbouncer-1.ini.orig && sed -i 's/^\\[pgbouncer\\]$/&\\n"
            f"ignore_startup_parameters = extra_float_digits/' {ini}"
            " && systemctl reload pgbouncer@1.service"
        )
    assert edit.rc == 0, edit.stderr
    try:
        time.sleep(1)
        attack(connect)
        ticks = cpu_ticks(host)
        print(f"\nold ignore list: pgbouncer@1 used {ticks} ticks in 2 s after the attack")
        # SPINNING: an idle PgBouncer used 0-1 ticks in 2 s in every run; the spinning one
        # 126-130 alone and 46 while two scenarios' converges shared the 2 cores with it.
        assert ticks > SPINNING, f"{ticks} ticks: the old configuration did not spin"
        with pytest.raises(psycopg.OperationalError):
            connect("pgbouncer", connect_timeout=3).close()
    finally:
        # A spinning process handles no signal: kill it, put the role's file back, start it.
        with host.sudo():
            host.run("systemctl kill --signal=SIGKILL pgbouncer@1.service")
            host.run(f"cp -p /root/pgbouncer-1.ini.orig {ini}")
            host.run("systemctl restart pgbouncer@1.service")
    assert host.file(ini).content_string == original
    for _ in range(20):
        try:
            with connect("pgbouncer", connect_timeout=3) as conn:
                assert conn.execute("SELECT 1").fetchone() == (1,)
            break
        except psycopg.OperationalError:
            time.sleep(0.5)
    else:
        pytest.fail("PgBouncer did not come back after the control")


def test_a_client_sending_extra_float_digits_connects(host, ca_file):
    """asyncpg puts server_settings in its StartupMessage, as JDBC drivers do with
    extra_float_digits=3: tracked (1.20 to 1.26.0) or ignored (1.18, 1.26.1), never refused."""
    hostvars = host.ansible.get_variables()
    context = ssl.create_default_context(cafile=ca_file)
    context.check_hostname = False  # 127.0.0.1; test_tls.py checks the names

    async def query():
        conn = await asyncpg.connect(
            host="127.0.0.1",
            port=hostvars["test_bouncer_port"],
            user="app",
            password=APP_PASSWORD,
            database="app",
            ssl=context,
            statement_cache_size=0,
            server_settings={"extra_float_digits": "3"},
            timeout=10,
        )
        try:
            return await conn.fetchval("SELECT 0.1::float8 + 0.2::float8")
        finally:
            await conn.close()

    assert asyncio.run(query()) == pytest.approx(0.3)


def _startup_over_tls(port: int) -> ssl.SSLSocket:
    """A TLS connection to PgBouncer that has sent its StartupMessage as app."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    raw.sendall(struct.pack("!II", 8, 80877103))  # SSLRequest
    assert raw.recv(1) == b"S"
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    conn = context.wrap_socket(raw)
    body = struct.pack("!I", 196608) + b"user\0app\0database\0app\0\0"
    conn.sendall(struct.pack("!I", len(body) + 4) + body)
    return conn


def test_an_oversized_packet_is_refused_at_its_header(host, connect):
    """Below 1.26.0 the role sets max_packet_size to 1073741823: a password message declaring
    1.25 GiB is refused before PgBouncer buffers any of it (CVE-2026-6668's growth)."""
    if version(host) >= (1, 26):
        pytest.skip("PgBouncer 1.26.0 fixed CVE-2026-6668; the role leaves its default")
    hostvars = host.ansible.get_variables()
    conn = _startup_over_tls(hostvars["test_bouncer_port"])
    kind = conn.recv(1)
    assert kind == b"R", kind  # the authentication request
    conn.recv(65536)
    started = time.monotonic()
    conn.sendall(b"p" + struct.pack("!I", OVERSIZED) + b"SCRAM-SHA-256\0" + b"x" * 65536)
    answer = b""
    try:
        while b"\0\0" not in answer[5:]:
            chunk = conn.recv(4096)
            if not chunk:
                break
            answer += chunk
    except (ConnectionError, ssl.SSLError, TimeoutError):
        pass
    took = time.monotonic() - started
    print(f"\nanswer after {took:.2f}s: {answer[:120]!r}")
    assert answer[:1] == b"E" and b"bad packet header" in answer, answer
    assert took < 2
    with connect("pgbouncer") as ok:
        assert ok.execute("SELECT 1").fetchone() == (1,)


def test_the_fixed_release_came_from_forky_and_nothing_else_did(host):
    if "forky" not in host.backend.host:
        pytest.skip("the host with pgbouncer_package_source")
    installed = host.run("dpkg-query -W -f='${Version}' pgbouncer").stdout
    assert installed.startswith("1.26.1"), installed
    # The pin takes nothing else from forky: libc6 stays Debian 13's although forky's is newer.
    libc = host.run("dpkg-query -W -f='${Version}' libc6").stdout
    trixie = host.run("apt-cache madison libc6 | awk -F'|' '/trixie/ {print $2}'").stdout.split()
    print(f"\npgbouncer {installed}, libc6 {libc} (Debian 13: {trixie})")
    assert libc in trixie
    with host.sudo():
        running = host.run(
            "runuser -u postgres -- psql -X -At -h /run/pgbouncer/1 -p 6432 -U pgbouncer"
            " -d pgbouncer -c 'SHOW VERSION'"
        )
    assert running.rc == 0, running.stderr
    assert "1.26.1" in running.stdout
