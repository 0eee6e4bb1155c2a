#!/usr/bin/env python3
"""Why roles/pgbouncer sets net.ipv4.tcp_migrate_req with pgbouncer_processes > 1.

Two listeners share a port with SO_REUSEPORT, as PgBouncer processes do. The kernel spreads
400 connections over both; one listener never accepts (its connections wait in its queue)
and then closes, as a process does at SHUTDOWN WAIT_FOR_CLIENTS in a rolling restart. The
script prints how many clients the other listener served and how many were reset, with
tcp_migrate_req 0 and 1, each in a network namespace of its own (the host's setting is not
touched). Run as root: `python3 scripts/reuseport-migrate.py`.

Measured here (kernel 6.18): 0 -> about half reset (every connection queued on the closing
listener); 1 -> all 400 served.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time

PORT = 26999
CLIENTS = 400


def listener() -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", PORT))
    sock.listen(CLIENTS + 100)
    return sock


def serve(sock: socket.socket, stop: threading.Event) -> None:
    sock.settimeout(0.2)
    while not stop.is_set():
        try:
            conn, _ = sock.accept()
        except TimeoutError:
            continue
        conn.sendall(b"ok")
        conn.close()


def measure() -> str:
    closing, staying = listener(), listener()
    stop = threading.Event()
    threading.Thread(target=serve, args=(staying, stop), daemon=True).start()
    clients = [socket.create_connection(("127.0.0.1", PORT), timeout=3) for _ in range(CLIENTS)]
    time.sleep(0.2)
    closing.close()
    served = reset = 0
    for client in clients:
        try:
            served += client.recv(2) == b"ok"
        except ConnectionResetError:
            reset += 1
    stop.set()
    with open("/proc/sys/net/ipv4/tcp_migrate_req") as setting:
        value = setting.read().strip()
    return f"tcp_migrate_req={value}: {served} served by the other listener, {reset} reset"


def main() -> int:
    if sys.argv[1:2] == ["--inside"]:
        print(measure())
        return 0
    for value in ("0", "1"):
        inner = (
            f"ip link set lo up && sysctl -qw net.ipv4.tcp_migrate_req={value} "
            f"&& exec {sys.executable} {__file__} --inside"
        )
        run = subprocess.run(["unshare", "--net", "sh", "-c", inner], check=False)
        if run.returncode != 0:
            print("needs root, unshare and Linux 5.14+ (net.ipv4.tcp_migrate_req)")
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
