"""The front door's plain HTTP port: ACME HTTP-01 answers, and a 308 to HTTPS for everything else.

Nothing here reads a session or the database: it answers from the challenge files and from
the host names the certificate covers (kept up to date by `beaconmail web`'s certificate
thread), so a redirect can only lead to one of our own names, whatever Host a client sends.
"""
from __future__ import annotations

import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from shared.config import Settings
from shared.runtime.acme import challenge_answer

log = logging.getLogger(__name__)

CHALLENGE_PREFIX = "/.well-known/acme-challenge/"
# A client that sends nothing is dropped after this long (the port faces the internet).
READ_TIMEOUT = 10.0


class KnownNames:
    """The host names a redirect may lead to: the host name and the certificate's other names."""

    def __init__(self, hostname: str) -> None:
        self.hostname = hostname.lower().rstrip(".")
        self._names = frozenset({self.hostname})
        self._lock = threading.Lock()

    def replace(self, names: list[str]) -> None:
        with self._lock:
            self._names = frozenset({self.hostname, *names})

    def current(self) -> list[str]:
        """The host name first, as `certificate_names` orders them (it becomes the subject)."""
        with self._lock:
            return [self.hostname, *sorted(self._names - {self.hostname})]

    def pick(self, host_header: str | None) -> str:
        """The Host header's name when it is one of ours, else the host name."""
        name = urlsplit(f"//{host_header or ''}").hostname or ""
        with self._lock:
            return name if name in self._names else self.hostname


def redirect_target(names: KnownNames, https_port: int, host_header: str | None, path: str) -> str:
    host = names.pick(host_header)
    authority = host if https_port == 443 else f"{host}:{https_port}"
    # An absolute-form target ("GET http://evil/ HTTP/1.1") keeps only its path and query.
    parts = urlsplit(path)
    local = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if not local.startswith("/") or local.startswith("//"):
        local = "/"
    return f"https://{authority}{local}"


def handler_for(settings: Settings, names: KnownNames) -> type[BaseHTTPRequestHandler]:
    class FrontHandler(BaseHTTPRequestHandler):
        server_version = "beaconmail"
        sys_version = ""
        timeout = READ_TIMEOUT
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            if self.path.startswith(CHALLENGE_PREFIX):
                self._answer_challenge(self.path.removeprefix(CHALLENGE_PREFIX))
            else:
                self._redirect()

        do_HEAD = do_GET

        def do_POST(self) -> None:  # noqa: N802
            self._redirect()

        do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_POST

        def _answer_challenge(self, token: str) -> None:
            answer = challenge_answer(settings, token)
            if answer is None:
                self._send(404, b"no such challenge\n")
            else:
                self._send(200, answer)

        def _redirect(self) -> None:
            self.send_response(308)
            self.send_header("Location", redirect_target(names, settings.https_port, self.headers["Host"], self.path))
            self.send_header("Content-Length", "0")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True

        def _send(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the base class's name)
            log.info("http %s %s", self.address_string(), format % args)

    return FrontHandler


class FrontServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, bind: str, port: int, handler: type[BaseHTTPRequestHandler]) -> None:
        self.address_family = socket.AF_INET6 if ":" in bind else socket.AF_INET
        super().__init__((bind, port), handler)


def bind_front(settings: Settings, names: KnownNames) -> FrontServer:
    """Listen on BEACONMAIL_HTTP_PORT (an OSError if it cannot); nothing is served yet."""
    return FrontServer(settings.bind, settings.http_port, handler_for(settings, names))


def serve_in_thread(server: FrontServer) -> None:
    threading.Thread(target=server.serve_forever, name="http-front", daemon=True).start()
    log.info("front door: plain HTTP on %s:%d", server.server_address[0], server.server_address[1])


def start_front(settings: Settings, names: KnownNames) -> FrontServer:
    """Listen and serve in a thread; `shutdown()` stops it."""
    server = bind_front(settings, names)
    serve_in_thread(server)
    return server
