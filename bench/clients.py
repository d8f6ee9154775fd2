"""Lean asyncio SMTP, POP3 and IMAP clients that drive Beacon and the peers identically.

They keep Python work per message small (pipelined MAIL/RCPT/DATA as RFC 2920 allows, one
`readuntil` per POP3 message, one `readexactly` per IMAP literal) so that the servers, not the
client, set the pace.
"""
from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass

READ_LIMIT = 4 * 1024 * 1024
END_OF_MULTILINE = b"\r\n.\r\n"


class ProtocolError(Exception):
    """The server answered something the benchmark did not expect."""


async def _smtp_reply(reader: asyncio.StreamReader, expected: bytes) -> None:
    while True:
        line = await reader.readline()
        if not line.startswith(expected):
            raise ProtocolError(f"expected {expected!r}, got {line!r}")
        if line[3:4] != b"-":
            return


async def open_smtp(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A session that has been greeted and said EHLO."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=READ_LIMIT)
    await _smtp_reply(reader, b"220")
    writer.write(b"EHLO client.bench.test\r\n")
    await _smtp_reply(reader, b"250")
    return reader, writer


async def send_messages(port: int, sender: str, recipient: str, message: bytes, count: int) -> int:
    """One SMTP session sending `count` copies of `message` (CRLF, not dot-stuffed: no line
    starts with '.'); returns how many were accepted with 250."""
    reader, writer = await open_smtp(port)
    envelope = f"MAIL FROM:<{sender}>\r\nRCPT TO:<{recipient}>\r\nDATA\r\n".encode()
    body = message + b".\r\n"
    accepted = 0
    for _ in range(count):
        writer.write(envelope)
        await _smtp_reply(reader, b"250")
        await _smtp_reply(reader, b"250")
        await _smtp_reply(reader, b"354")
        writer.write(body)
        await _smtp_reply(reader, b"250")
        accepted += 1
    writer.write(b"QUIT\r\n")
    await _smtp_reply(reader, b"221")
    writer.close()
    await writer.wait_closed()
    return accepted


@dataclass(frozen=True)
class Download:
    messages: int
    octets: int


async def _pop3_ok(reader: asyncio.StreamReader) -> bytes:
    line = await reader.readline()
    if not line.startswith(b"+OK"):
        raise ProtocolError(f"expected +OK, got {line!r}")
    return line


async def pop3_login(port: int, user: str, password: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A session in the TRANSACTION state (USER/PASS)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=READ_LIMIT)
    await _pop3_ok(reader)
    writer.write(f"USER {user}\r\n".encode())
    await _pop3_ok(reader)
    writer.write(f"PASS {password}\r\n".encode())
    await _pop3_ok(reader)
    return reader, writer


async def pop3_quit(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"QUIT\r\n")
    await _pop3_ok(reader)
    writer.close()
    await writer.wait_closed()


async def pop3_download(port: int, user: str, password: str) -> Download:
    """Log in, STAT, UIDL, RETR every message one after the other, QUIT (nothing deleted)."""
    reader, writer = await pop3_login(port, user, password)
    writer.write(b"STAT\r\n")
    count = int((await _pop3_ok(reader)).split()[1])
    writer.write(b"UIDL\r\n")
    await reader.readuntil(END_OF_MULTILINE)
    octets = 0
    for number in range(1, count + 1):
        writer.write(b"RETR %d\r\n" % number)
        response = await reader.readuntil(END_OF_MULTILINE)
        if not response.startswith(b"+OK"):
            raise ProtocolError(f"RETR {number}: {response[:80]!r}")
        octets += len(response)
    await pop3_quit(reader, writer)
    return Download(count, octets)


async def _imap_tagged(reader: asyncio.StreamReader, tag: bytes) -> None:
    """Read (and drop) untagged lines up to the tagged reply, which must be OK."""
    while True:
        line = await reader.readline()
        if line.startswith(tag + b" "):
            if not line.startswith(tag + b" OK"):
                raise ProtocolError(f"expected {tag.decode()} OK, got {line!r}")
            return
        if not line:
            raise ProtocolError("the IMAP server closed the connection")


async def imap_login(
    port: int, context: ssl.SSLContext, server_name: str, user: str, password: str
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """An IMAP session over implicit TLS, greeted and logged in (LOGIN)."""
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", port, ssl=context, server_hostname=server_name, limit=READ_LIMIT
    )
    greeting = await reader.readline()
    if not greeting.startswith(b"* OK"):
        raise ProtocolError(f"expected an IMAP greeting, got {greeting!r}")
    writer.write(f'a LOGIN "{user}" "{password}"\r\n'.encode())
    await _imap_tagged(reader, b"a")
    return reader, writer


async def imap_logout(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"z LOGOUT\r\n")
    await _imap_tagged(reader, b"z")
    writer.close()
    await writer.wait_closed()


async def imap_fetch_inbox(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> Download:
    """SELECT INBOX and UID FETCH 1:* BODY.PEEK[] (nothing marked seen), reading each literal whole."""
    writer.write(b"s SELECT INBOX\r\n")
    await _imap_tagged(reader, b"s")
    writer.write(b"f UID FETCH 1:* BODY.PEEK[]\r\n")
    messages = octets = 0
    while True:
        line = await reader.readline()
        if line.endswith(b"}\r\n") and line.startswith(b"* "):
            size = int(line[line.rindex(b"{") + 1 : -3])
            await reader.readexactly(size)
            messages, octets = messages + 1, octets + size
        elif line.startswith(b"f "):
            if not line.startswith(b"f OK"):
                raise ProtocolError(f"UID FETCH: {line!r}")
            return Download(messages, octets)
        elif not line:
            raise ProtocolError("the IMAP server closed the connection during FETCH")
