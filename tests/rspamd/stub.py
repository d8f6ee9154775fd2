"""A scripted stand-in for rspamd, for what a real one will not say on demand: a deferral, a
malformed, huge or slow reply. It records each request's headers. Loopback, ephemeral port."""
from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType


class RspamdStub:
    def __init__(self, body: bytes, *, drip_seconds: float = 0.0) -> None:
        """Answer every request with `body`; with `drip_seconds`, one byte every that many seconds."""
        self.body = body
        self.drip_seconds = drip_seconds
        self.requests: list[list[tuple[str, str]]] = []
        self.finished_replies = 0
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                stub.requests.append(list(self.headers.items()))
                self.send_response(200)
                self.send_header("Content-Length", str(len(stub.body)))
                self.end_headers()
                try:
                    if stub.drip_seconds:
                        for index in range(len(stub.body)):
                            self.wfile.write(stub.body[index : index + 1])
                            self.wfile.flush()
                            time.sleep(stub.drip_seconds)
                    else:
                        self.wfile.write(stub.body)
                    stub.finished_replies += 1
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> RspamdStub:
        self.thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)
