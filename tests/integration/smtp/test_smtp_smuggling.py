"""SMTP smuggling (CVE-2023-51764 class, CVE-2024-27305), STARTTLS injection (CVE-2024-34083,
CVE-2011-0411 class) and bare line ends in commands: what aiosmtpd 1.4.6 does plus our layer.

End of data is only CRLF . CRLF. Any bare CR or LF in a message is refused with 550 5.6.0;
NUL and whitespace twists of the terminator are plain content. Either way, one DATA
never yields a second message, and nothing after a fake terminator runs as a command.
"""

from __future__ import annotations

import pytest

from .support import (
    ALICE,
    BOB,
    RawSmtp,
    RunningSmtp,
    client_context,
    message_count,
    newest_message,
)

pytestmark = pytest.mark.integration

SMUGGLED = (
    b"MAIL FROM:<evil@remote.example>\r\nRCPT TO:<bob@hosted.example>\r\nDATA\r\nSubject: smuggled\r\n\r\nsmuggled body"
)
BARE_VARIANTS = [
    b"\n.\n",
    b"\n.\r\n",
    b"\r.\r",
    b"\r\n.\r",
    b"\r\n.\n",
    b"\n.\r",
    b"\r.\r\n",
    b"\r\n.\r\r\n",
    b"\r\n\x00.\n",
    b"\n\x00.\r\n",
    b"\r\n.\x00\n",
    b"\r\n .\n",
]
CONTENT_TWISTS = [b"\r\n\x00.\r\n", b"\r\n.\x00\r\n", b"\r\n .\r\n", b"\r\n. \r\n", b"\r\n.\t\r\n"]


def open_data(server: RunningSmtp) -> RawSmtp:
    client = RawSmtp(server.mx)
    client.send(
        b"EHLO client.example\r\nMAIL FROM:<someone@remote.example>\r\nRCPT TO:<alice@hosted.example>\r\nDATA\r\n"
    )
    replies = b"".join(client.reply() for _ in range(4))
    assert replies.endswith(b"354 End data with <CR><LF>.<CR><LF>\r\n"), replies
    return client


def counts(server: RunningSmtp) -> tuple[int, int]:
    return message_count(server.settings, ALICE), message_count(server.settings, BOB)


def send_with_terminator_variant(server: RunningSmtp, variant: bytes) -> tuple[bytes, bytes]:
    """One segment: a body with `variant`, a smuggled transaction, the real end of data, NOOP.
    Returns (the reply to DATA, the next reply): a smuggled command would answer before NOOP."""
    client = open_data(server)
    client.send(b"Subject: carrier\r\n\r\nfirst part" + variant + SMUGGLED + b"\r\n.\r\nNOOP\r\n")
    data_reply = client.reply()
    after = client.reply()
    client.close()
    return data_reply, after


@pytest.mark.parametrize("variant", BARE_VARIANTS, ids=repr)
def test_bare_line_ends_never_end_data_and_the_message_is_refused(shared_smtp: RunningSmtp, variant: bytes) -> None:
    before = counts(shared_smtp)
    data_reply, after = send_with_terminator_variant(shared_smtp, variant)
    assert data_reply == b"550 5.6.0 Message contains bare CR or LF; lines must end with CRLF\r\n"
    assert after == b"250 2.0.0 OK\r\n"  # only the NOOP: nothing smuggled ran as a command
    assert counts(shared_smtp) == before


@pytest.mark.parametrize("variant", CONTENT_TWISTS, ids=repr)
def test_nul_and_whitespace_twists_are_content_of_one_message(shared_smtp: RunningSmtp, variant: bytes) -> None:
    alice_before, bob_before = counts(shared_smtp)
    data_reply, after = send_with_terminator_variant(shared_smtp, variant)
    assert data_reply.startswith(b"250 2.0.0")
    assert after == b"250 2.0.0 OK\r\n"
    assert counts(shared_smtp) == (alice_before + 1, bob_before)
    newest = newest_message(shared_smtp.settings, ALICE)
    assert b"MAIL FROM:<evil@remote.example>\r\n" in newest  # stored as body text


def test_terminator_split_across_segments_ends_data_once(shared_smtp: RunningSmtp) -> None:
    alice_before, _bob = counts(shared_smtp)
    client = open_data(shared_smtp)
    for byte in b"Subject: slow\r\n\r\nbody\r\n.\r\n":
        client.send(bytes([byte]))
    assert client.reply().startswith(b"250 2.0.0")
    assert client.command(b"NOOP").startswith(b"250")
    client.close()
    assert counts(shared_smtp)[0] == alice_before + 1


def test_bare_lf_and_bare_cr_in_commands_are_refused_and_the_session_goes_on(shared_smtp: RunningSmtp) -> None:
    client = RawSmtp(shared_smtp.mx)
    assert client.command(b"EHLO client.example").startswith(b"250")
    client.send(b"NOOP\n")
    assert client.reply() == b"500 5.5.2 Command lines must end with CRLF\r\n"
    assert client.command(b"NOOP\r").startswith(b"500 5.5.2")
    client.send(b"MAIL FROM:<someone@remote.example>\nRCPT TO:<bob@hosted.example>\r\n")
    assert client.reply().startswith(b"500 5.5.2")
    assert client.reply().startswith(b"503 5.5.1")  # the MAIL never happened
    assert client.command(b'MAIL FROM:<"x\rX-Injected: 1"@remote.example>').startswith(b"500 5.5.2")
    assert client.command(b"NOOP").startswith(b"250 2.0.0")
    client.close()


@pytest.mark.parametrize("port_name", ["mx", "submission"])
def test_commands_pipelined_after_starttls_are_discarded(shared_smtp: RunningSmtp, port_name: str) -> None:
    client = RawSmtp(getattr(shared_smtp, port_name))
    assert client.command(b"EHLO client.example").startswith(b"250")
    client.send(b"STARTTLS\r\nMAIL FROM:<injected@evil.example>\r\n")
    assert client.reply().startswith(b"220 2.0.0")
    client.sock = client_context(shared_smtp.settings).wrap_socket(client.sock)
    assert client.pending(0.5) == b""
    assert client.command(b"MAIL FROM:<someone@remote.example>").startswith((b"503 5.5.1", b"530 5.7.0"))
    client.close()
