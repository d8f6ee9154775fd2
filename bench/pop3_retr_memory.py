"""How much memory RETR of a big message costs the POP3 server (issue 4: it must not grow with the size).

Delivers one message of each size to a fresh embedded setup (SQLite, temporary folder),
then RETRs it over implicit TLS with a client that reads slowly, so the server has to
wait for the client (backpressure) instead of buffering. For each size it prints the
time, the Python peak allocation during the RETR (tracemalloc, server and client
together) and how much the process's peak RSS grew during the RETR.

Usage:  .venv/bin/python bench/pop3_retr_memory.py [MEGABYTES ...]     (default: 1 20 50)
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.pop3 import Pop3Server  # noqa: E402
from shared.accounts import create_domain, create_mailbox  # noqa: E402
from shared.accounts.views import CONSOLE
from shared.config import load_settings  # noqa: E402
from shared.mail.delivery import deliver  # noqa: E402
from shared.runtime.tls import ensure_tls_pair  # noqa: E402
from shared.storage.db import Database  # noqa: E402
from shared.storage.migrations import upgrade_to_head  # noqa: E402

USER, PASSWORD = "bench@bench.example", "bench-password"


def peak_rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def reset_peak_rss() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # Linux: VmHWM := current RSS


def retr(port: int, context: ssl.SSLContext) -> int:
    """RETR 1 with a slow reader; returns the octets received."""
    sock = context.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="127.0.0.1")
    sock.sendall(f"USER {USER}\r\nPASS {PASSWORD}\r\nRETR 1\r\nQUIT\r\n".encode())
    received, tail = 0, b""
    while not tail.endswith(b"signing off (1 messages left)\r\n"):
        data = sock.recv(65536)
        if not data:
            break
        received += len(data)
        tail = (tail + data)[-64:]
        time.sleep(0.0005)  # slower than the server can send
    sock.close()
    return received


def main(sizes_mb: list[int]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        settings = load_settings({"BEACONMAIL_DATA_DIR": folder, "BEACONMAIL_HOSTNAME": "bench.example",
                                  "BEACONMAIL_POP3_PORT": "0", "BEACONMAIL_POP3S_PORT": "0"})
        upgrade_to_head(settings)
        db = Database(settings)
        create_domain(db, "bench.example", actor=CONSOLE)
        mailbox = create_mailbox(db, USER, PASSWORD, actor=CONSOLE)
        context = ssl.create_default_context(cafile=str(ensure_tls_pair(settings)[0]))
        print(f"{'size':>7} {'seconds':>8} {'MB/s':>7} {'py peak':>9} {'RSS growth':>11}")
        for size_mb in sizes_mb:
            line = b".bench line that starts with a dot" * 3 + b"\r\n"
            message = b"Subject: bench\r\n\r\n" + line * (size_mb * 1024 * 1024 // len(line))
            deliver(db, message, [mailbox.id], return_path=None)
            del message
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, daemon=True).start()
            server = Pop3Server(settings)
            asyncio.run_coroutine_threadsafe(server.start(), loop).result()
            reset_peak_rss()
            before = peak_rss_kib()
            tracemalloc.start()
            started = time.perf_counter()
            octets = retr(server.ports[1], context)
            elapsed = time.perf_counter() - started
            _, python_peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            growth = peak_rss_kib() - before
            print(f"{size_mb:>5}MB {elapsed:>8.2f} {octets / elapsed / 1e6:>7.1f} "
                  f"{python_peak / 1024:>7.0f}KB {growth:>9}KB")
            asyncio.run_coroutine_threadsafe(server.stop(), loop).result()
            loop.call_soon_threadsafe(loop.stop)
            for path in settings.mail_root.rglob("new/*"):
                path.unlink()
        db.dispose()


if __name__ == "__main__":
    main([int(arg) for arg in sys.argv[1:]] or [1, 20, 50])
