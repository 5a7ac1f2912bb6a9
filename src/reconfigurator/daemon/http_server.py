"""The daemon's HTTP server: ``/status``, ``/metrics``, ``/healthz`` and ``/readyz``.

A :class:`~http.server.ThreadingHTTPServer` on a thread of its own; each request is answered
on its own thread, so a slow readiness probe (the database not answering) never holds up
``/metrics``. The server only reads: nothing it serves changes the loops or the database.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from reconfigurator.daemon.metrics import METRICS_CONTENT_TYPE
from reconfigurator.daemon.probes import ProbeResult
from reconfigurator.errors import ConfigurationError

_log = logging.getLogger("reconfigurator.daemon.http")


@dataclass(frozen=True, slots=True)
class Endpoints:
    """What the server serves: each a function called per request."""

    status: Callable[[], dict[str, Any]]
    metrics: Callable[[], bytes]
    liveness: Callable[[], ProbeResult]
    readiness: Callable[[], ProbeResult]


def parse_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:PORT`` for IPv6) as a host and a port (0: any free port)."""
    host, sep, port = text.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigurationError(f"--http wants HOST:PORT (e.g. 127.0.0.1:9090), got {text!r}")
    return host, int(port)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        endpoints = self.server.endpoints
        path = self.path.split("?", 1)[0]
        try:
            if path == "/status":
                self._json(HTTPStatus.OK, endpoints.status())
            elif path == "/metrics":
                self._send(HTTPStatus.OK, METRICS_CONTENT_TYPE, endpoints.metrics())
            elif path in {"/healthz", "/readyz"}:
                probe = endpoints.liveness if path == "/healthz" else endpoints.readiness
                result = probe()
                status = HTTPStatus.OK if result.ok else HTTPStatus.SERVICE_UNAVAILABLE
                self._json(status, result.to_json())
            else:
                self._json(HTTPStatus.NOT_FOUND, {"error": f"no such endpoint: {path}"})
        except Exception as exc:  # an endpoint's failure is the client's answer, not a crash
            _log.exception("HTTP endpoint failed", extra={"path": path})
            self._json(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": type(exc).__name__})

    def _json(self, status: HTTPStatus, body: dict[str, Any]) -> None:
        self._send(status, "application/json", json.dumps(body, default=str).encode())

    def _send(self, status: HTTPStatus, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        _log.debug(
            "HTTP request", extra={"client": self.address_string(), "request": format % args}
        )


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], endpoints: Endpoints) -> None:
        self.endpoints = endpoints
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        super().__init__(address, _Handler)


class StatusServer:
    """Serves :class:`Endpoints` on ``host:port`` from a background thread."""

    def __init__(self, host: str, port: int, endpoints: Endpoints) -> None:
        try:
            self._server = _Server((host, port), endpoints)
        except OSError as exc:
            raise ConfigurationError(f"cannot listen on {host}:{port}: {exc}") from None
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="recon-http", daemon=True
        )

    @property
    def address(self) -> tuple[str, int]:
        """The bound host and port (the real port when 0 was asked for)."""
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def start(self) -> None:
        self._thread.start()
        host, port = self.address
        url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
        _log.info("serving status and metrics on %s", url, extra={"url": url, "port": port})

    def close(self) -> None:
        """Stop accepting requests and close the socket (requests in flight may finish)."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()
        _log.info("HTTP server closed")
