"""Fixtures shared by the unit tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _render_role(playbook: str, out: Path, variables: dict) -> Path:
    """Run tests/unit/playbooks/`playbook` (a role's preflight and templates, on this
    machine) with `variables` as extra vars, its files written into `out`; fails the test
    with the play's output when the play fails."""
    out.mkdir(parents=True, exist_ok=True)
    extra = out / "vars.json"
    extra.write_text(json.dumps({**variables, "render_out": str(out)}))
    command = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,"]
    run = subprocess.run(
        [*command, str(ROOT / "tests/unit/playbooks" / playbook), "-e", f"@{extra}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "ANSIBLE_NOCOLOR": "1", "PYTHONPATH": str(ROOT / "src")},
        check=False,
    )
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    return out


@pytest.fixture
def render_role():
    """render_role(playbook, out, variables) -> out: a role rendered on this machine."""
    return _render_role


@pytest.fixture
def patroni_server():
    """A real HTTP server answering GET /cluster like Patroni's REST API, with the dict it is
    given (read at each request, so a test may change it): patroni_server(cluster) -> URL.
    Other paths answer from the dict's "_status" {path: (HTTP status, JSON body)}, as a
    member's GET /patroni does; 404 for the rest."""
    servers = []

    def start(cluster: dict) -> str:
        class Patroni(BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path == "/cluster":
                    code, answer = 200, {k: v for k, v in cluster.items() if k != "_status"}
                else:
                    code, answer = cluster.get("_status", {}).get(self.path, (404, {}))
                body = json.dumps(answer).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Patroni)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}"

    yield start
    for server in servers:
        server.shutdown()
