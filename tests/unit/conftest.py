"""Fixtures shared by the unit tests."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


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
