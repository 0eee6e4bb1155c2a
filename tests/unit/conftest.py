"""Fixtures shared by the unit tests."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@pytest.fixture
def patroni_server():
    """A real HTTP server answering GET /cluster like Patroni's REST API, with the dict it is
    given (read at each request, so a test may change it): patroni_server(cluster) -> URL."""
    servers = []

    def start(cluster: dict) -> str:
        class Patroni(BaseHTTPRequestHandler):
            def do_GET(self):
                body = json.dumps(cluster).encode()
                self.send_response(200 if self.path == "/cluster" else 404)
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
