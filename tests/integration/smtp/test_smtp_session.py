"""Session, command order and reply format on the MX listener (RFC 5321 §4.1, RFC 2034, RFC 3463)."""

from __future__ import annotations

import pytest

from .support import ALICE, RawSmtp, RunningSmtp, client_context, maildir_messages

pytestmark = pytest.mark.integration


def ehlo(server: RunningSmtp, port: int | None = None) -> RawSmtp:
    client = RawSmtp(port or server.mx)
    assert client.command(b"EHLO client.example").startswith(b"250")
    return client


def keywords(ehlo_reply: bytes) -> list[bytes]:
    return [line[4:] for line in ehlo_reply.splitlines()[1:]]


def test_greeting_names_the_host_and_no_software_version(shared_smtp: RunningSmtp) -> None:
    client = RawSmtp(shared_smtp.mx)
    assert client.greeting == b"220 mx.hosted.example ESMTP Beacon Mail\r\n"
    client.close()


def test_mx_ehlo_advertises_the_extensions_we_implement_and_no_auth(shared_smtp: RunningSmtp) -> None:
    client = RawSmtp(shared_smtp.mx)
    reply = client.command(b"EHLO client.example")
    lines = reply.splitlines()
    assert lines[0] == b"250-mx.hosted.example"
    assert all(line.startswith(b"250-") for line in lines[:-1]) and lines[-1].startswith(b"250 ")
    assert keywords(reply) == [
        b"SIZE 100000",
        b"8BITMIME",
        b"SMTPUTF8",
        b"PIPELINING",
        b"ENHANCEDSTATUSCODES",
        b"STARTTLS",
    ]
    client.starttls(client_context(shared_smtp.settings))
    after_tls = keywords(client.command(b"EHLO client.example"))
    assert b"STARTTLS" not in after_tls and not any(k.startswith(b"AUTH") for k in after_tls)
    client.close()


def test_submission_offers_auth_only_under_tls(shared_smtp: RunningSmtp) -> None:
    client = RawSmtp(shared_smtp.submission)
    plain = keywords(client.command(b"EHLO client.example"))
    assert b"STARTTLS" in plain and not any(k.startswith(b"AUTH") for k in plain)
    assert client.command(b"AUTH PLAIN AGFsaWNlQGhvc3RlZC5leGFtcGxlAGFsaWNlLXB3").startswith(b"530 5.7.0")
    assert client.command(b"MAIL FROM:<alice@hosted.example>").startswith(b"530 5.7.0")
    client.starttls(client_context(shared_smtp.settings))
    assert b"AUTH PLAIN LOGIN" in keywords(client.command(b"EHLO client.example"))
    client.close()
    implicit = RawSmtp(shared_smtp.submissions, client_context(shared_smtp.settings))
    tls_keywords = keywords(implicit.command(b"EHLO client.example"))
    assert b"AUTH PLAIN LOGIN" in tls_keywords and b"STARTTLS" not in tls_keywords
    assert implicit.command(b"STARTTLS").startswith(b"503 5.5.1")
    implicit.close()


def test_commands_out_of_order_get_503_and_the_session_goes_on(shared_smtp: RunningSmtp) -> None:
    client = RawSmtp(shared_smtp.mx)
    assert client.command(b"MAIL FROM:<someone@remote.example>").startswith(b"503 5.5.1")
    for command, expected in (
        (b"NOOP", b"250 2.0.0"),
        (b"RSET", b"250 2.0.0"),
        (b"VRFY x", b"252 2.5.2"),
        (b"HELP", b"214 2.0.0"),
    ):
        assert client.command(command).startswith(expected), command
    assert client.command(b"EHLO").startswith(b"501 5.5.4")
    assert client.command(b"HELO").startswith(b"501 5.5.4")
    assert client.command(b"EHLO client.example").startswith(b"250")
    assert client.command(b"RCPT TO:<alice@hosted.example>").startswith(b"503 5.5.1")
    assert client.command(b"DATA").startswith(b"503 5.5.1")
    assert client.command(b"MAIL FROM:<someone@remote.example>").startswith(b"250 2.1.0")
    assert client.command(b"MAIL FROM:<other@remote.example>").startswith(b"503 5.5.1")
    assert client.command(b"DATA").startswith(b"503 5.5.1")
    assert client.command(b"RCPT TO:<alice@hosted.example>").startswith(b"250 2.1.5")
    assert client.command(b"DATA x").startswith(b"501 5.5.4")
    assert client.command(b"EHLO again.example").startswith(b"250")  # a second EHLO resets the transaction
    assert client.command(b"DATA").startswith(b"503 5.5.1")
    assert client.command(b"MAIL FROM:<someone@remote.example>").startswith(b"250")
    assert client.command(b"RSET x").startswith(b"501 5.5.4")
    assert client.command(b"RSET").startswith(b"250 2.0.0")
    assert client.command(b"MAIL FROM:<someone@remote.example>").startswith(b"250")
    assert client.command(b"QUIT").startswith(b"221 2.0.0")
    assert client.line() == b""
    client.close()


def test_address_literals_in_ehlo_are_accepted_and_junk_is_not(shared_smtp: RunningSmtp) -> None:
    client = RawSmtp(shared_smtp.mx)
    assert client.command(b"EHLO [127.0.0.1]").startswith(b"250")
    assert client.command(b"EHLO [IPv6:::1]").startswith(b"250")
    assert client.command(b"EHLO a\x01b").startswith(b"501 5.5.4")
    assert client.command(b"EHLO a\x00X-Injected: 1").startswith(b"501 5.5.4")
    assert client.command(b"HELO client.example") == b"250 mx.hosted.example\r\n"
    assert client.command(b"MAIL FROM:<someone@remote.example> BODY=8BITMIME").startswith(b"501 5.5.4")
    client.close()


def test_unknown_unimplemented_and_vrfy_never_echo_or_enumerate(shared_smtp: RunningSmtp) -> None:
    client = ehlo(shared_smtp)
    assert client.command(b"FOO\x00bar") == b"500 5.5.2 Command unrecognized\r\n"
    assert client.command(b"EXPN staff").startswith(b"502 5.5.1")
    assert client.command(b"VRFY alice") == client.command(b"VRFY nobody") == client.command(b"VRFY <x@remote.example>")
    assert client.command(b"VRFY alice").startswith(b"252 2.5.2")
    assert client.command(b"VRFY").startswith(b"501 5.5.4")
    assert client.command(b"TURN").startswith(b"500 5.5.2")
    assert client.command(b"ETRN x").startswith(b"500 5.5.2")
    assert client.command(b"\x80\x81").startswith(b"500 5.5.2")
    assert client.command(b"").startswith(b"500 5.5.2")
    client.close()


def test_too_many_unrecognised_commands_close_the_session(shared_smtp: RunningSmtp) -> None:
    client = ehlo(shared_smtp)
    replies = [client.command(f"BOGUS{n}".encode()) for n in range(5)]
    assert all(reply.startswith(b"500 5.5.2") for reply in replies[:4])
    assert replies[4].startswith(b"502 5.5.1")
    assert client.line() == b""
    client.close()


def test_unknown_parameters_get_555_and_auth_parameter_only_where_auth_is_offered(shared_smtp: RunningSmtp) -> None:
    client = ehlo(shared_smtp)
    assert client.command(b"MAIL FROM:<someone@remote.example> FOO=BAR").startswith(b"555 5.5.4")
    assert client.command(b"MAIL FROM:<someone@remote.example> AUTH=<>").startswith(b"555 5.5.4")
    assert client.command(b"MAIL FROM:<someone@remote.example> BODY=BINARYMIME").startswith(b"501 5.5.4")
    assert client.command(b"MAIL FROM:<someone@remote.example> SMTPUTF8=yes").startswith(b"501 5.5.4")
    assert client.command(b"MAIL FROM:<someone@remote.example> BODY=7BIT").startswith(b"250 2.1.0")
    assert client.command(b"RCPT TO:<alice@hosted.example> NOTIFY=NEVER").startswith(b"555 5.5.4")
    client.close()


def test_null_sender_is_accepted_and_null_recipient_is_not(shared_smtp: RunningSmtp) -> None:
    client = ehlo(shared_smtp)
    assert client.command(b"RSET").startswith(b"250")
    assert client.command(b"MAIL FROM:<>").startswith(b"250 2.1.0")
    assert client.command(b"RCPT TO:<>").startswith(b"553 5.1.3")
    assert client.command(b"RCPT TO:<alice@hosted.example>").startswith(b"250 2.1.5")
    client.close()


def test_an_address_cut_short_is_malformed_and_the_transaction_goes_on(shared_smtp: RunningSmtp) -> None:
    # The email package's parser runs off the end of "<a@" with an IndexError (it was a 451).
    client = ehlo(shared_smtp)
    assert client.command(b"MAIL FROM:<a@").startswith(b"553 5.1.3")
    assert client.command(b"MAIL FROM:<someone@remote.example>").startswith(b"250 2.1.0")
    assert client.command(b"RCPT TO:a@").startswith(b"553 5.1.3")
    assert client.command(b"RCPT TO:<alice@hosted.example>").startswith(b"250 2.1.5")
    client.close()


def test_pipelined_commands_are_answered_in_order(shared_smtp: RunningSmtp) -> None:
    client = ehlo(shared_smtp)
    client.send(
        b"MAIL FROM:<someone@remote.example>\r\nRCPT TO:<alice@hosted.example>\r\n"
        b"RCPT TO:<nobody@hosted.example>\r\nDATA\r\n"
    )
    replies = [client.reply() for _ in range(4)]
    assert [r[:9] for r in replies] == [b"250 2.1.0", b"250 2.1.5", b"550 5.1.1", b"354 End d"]
    assert client.command(b"Subject: pipelined\r\n\r\nbody\r\n.").startswith(b"250 2.0.0")
    client.close()


def test_second_starttls_is_refused_and_the_session_stays_usable(shared_smtp: RunningSmtp) -> None:
    client = ehlo(shared_smtp)
    client.starttls(client_context(shared_smtp.settings))
    assert client.command(b"STARTTLS").startswith(b"503 5.5.1")
    assert client.command(b"NOOP").startswith(b"250 2.0.0")
    assert client.command(b"STARTTLS x").startswith(b"503 5.5.1")
    client.close()


def test_auth_is_not_offered_on_the_mx(shared_smtp: RunningSmtp) -> None:
    client = ehlo(shared_smtp)
    client.starttls(client_context(shared_smtp.settings))
    client.command(b"EHLO client.example")
    assert client.command(b"AUTH PLAIN AGFsaWNlQGhvc3RlZC5leGFtcGxlAGFsaWNlLXB3").startswith(b"502 5.5.1")
    client.close()


def test_smtputf8_addresses_need_the_parameter(shared_smtp: RunningSmtp) -> None:
    client = ehlo(shared_smtp)
    assert client.command("MAIL FROM:<ü@remote.example>".encode()).startswith(b"550 5.6.7")
    assert client.command("MAIL FROM:<ü@remote.example> SMTPUTF8".encode()).startswith(b"250 2.1.0")
    client.command(b"RSET")
    assert client.command(b"MAIL FROM:<someone@remote.example>").startswith(b"250")
    assert client.command("RCPT TO:<ålice@hosted.example>".encode()).startswith(b"553 5.6.7")
    assert client.command(b"RCPT TO:<alice@hosted.example\xff>").startswith(b"553 5.1.3")
    client.close()


def test_received_mail_is_byte_exact_8bit(shared_smtp: RunningSmtp) -> None:
    body = "Subject: 8bit\r\nContent-Type: text/plain; charset=latin-1\r\n\r\ncaf\xe9 na\xefve\r\n".encode("latin-1")
    client = ehlo(shared_smtp)
    assert client.command(b"MAIL FROM:<someone@remote.example> BODY=8BITMIME").startswith(b"250")
    assert client.command(f"RCPT TO:<{ALICE}>".encode()).startswith(b"250")
    assert client.command(b"DATA").startswith(b"354")
    assert client.command(body + b".").startswith(b"250 2.0.0")
    client.close()
    assert any(message.endswith(body) for message in maildir_messages(shared_smtp.settings, ALICE))


def test_aiosmtpd_is_the_pinned_release() -> None:
    import aiosmtpd

    assert aiosmtpd.__version__ == "1.4.6"


def test_a_failed_tls_handshake_ends_only_that_session(shared_smtp: RunningSmtp) -> None:
    client = ehlo(shared_smtp)
    assert client.command(b"STARTTLS").startswith(b"220 2.0.0")
    client.send(b"this is not a TLS ClientHello\r\n" * 20)
    assert client.line() == b""
    client.close()
    other = ehlo(shared_smtp)
    assert other.command(b"NOOP").startswith(b"250 2.0.0")
    other.close()
