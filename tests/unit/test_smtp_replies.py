"""Every reply aiosmtpd 1.4.6 can still push gets an RFC 3463 code, and none echoes input."""

from __future__ import annotations

import ast
import inspect
import re

import aiosmtpd.smtp
import pytest

from services.smtp import replies
from services.smtp.protocol import BeaconSMTP
from services.smtp.replies import STOCK_REPLIES, Reply, translate_stock_reply

ENHANCED = re.compile(rb"^[245][0-9][0-9] [245]\.[0-9]{1,3}\.[0-9]{1,3} [^\r\n]+\r\n$")
# Stock methods whose replies can no longer be reached: BeaconSMTP replaces the first five
# without calling them, the AUTH helpers are only used by the stock smtp_AUTH, and the stock
# handle_exception text is only used when the handler has no handle_exception.
REPLACED = {"smtp_HELO", "smtp_EHLO", "smtp_AUTH", "smtp_VRFY", "smtp_HELP"}
OVERRIDDEN = REPLACED | {"auth_PLAIN", "auth_LOGIN", "challenge_auth", "handle_exception"}


def stock_reply_literals() -> set[str]:
    """Plain string literals aiosmtpd pushes as replies from the methods we do not override
    (f-strings echo input and are matched by shape, see test_replies_that_echo_input...)."""
    tree = ast.parse(inspect.getsource(aiosmtpd.smtp))
    found: set[str] = set()
    for cls in (n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "SMTP"):
        for method in (n for n in cls.body if isinstance(n, ast.AsyncFunctionDef | ast.FunctionDef)):
            if method.name in OVERRIDDEN:
                continue
            in_fstrings = {
                id(part) for node in ast.walk(method) if isinstance(node, ast.JoinedStr) for part in node.values
            }
            for node in ast.walk(method):
                if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in in_fstrings:
                    if re.match(r"[245]\d\d ", node.value):
                        found.add(node.value)
    return found


def test_every_reachable_stock_literal_is_translated_explicitly() -> None:
    assert REPLACED <= set(vars(BeaconSMTP))  # a subset test, not a yoda comparison  # noqa: SIM300
    literals = {text for text in stock_reply_literals() if "{" not in text}
    assert "503 Error: nested MAIL command" in literals  # the scan finds what it should
    missing = {text for text in literals if text not in STOCK_REPLIES and not re.match(r"[245]\d\d [245]\.\d", text)}
    assert missing == set()


@pytest.mark.parametrize("status", sorted(STOCK_REPLIES))
def test_translations_carry_enhanced_codes(status: str) -> None:
    wire = translate_stock_reply(status)
    assert ENHANCED.match(wire), wire
    assert wire[:1] == status.encode()[:1] or wire.startswith(b"451 4.3.0")  # a local fault may become 451


def test_replies_that_echo_input_are_answered_with_fixed_text() -> None:
    assert (
        translate_stock_reply('500 Error: command "X\x00\rY" not recognized') == b"500 5.5.2 Command unrecognized\r\n"
    )
    assert translate_stock_reply("421 4.7.0 AUTH sent too many times") == replies.S421_TOO_MANY_COMMANDS.to_bytes()
    leak = "500 Error: (OperationalError) connection to server at 10.0.0.5 failed"
    assert translate_stock_reply(leak) == replies.S451_LOCAL_ERROR.to_bytes()


def test_unknown_replies_get_a_generic_code_and_no_text_of_theirs() -> None:
    assert translate_stock_reply("503 Something new with secret detail") == b"503 5.0.0 Command rejected\r\n"
    assert translate_stock_reply("250 Something new") == b"250 2.0.0 OK\r\n"
    assert translate_stock_reply("354 Go ahead") == b"354 Go ahead\r\n"
    assert translate_stock_reply("530 5.7.0 Authentication required") == b"530 5.7.0 Authentication required\r\n"


def test_every_reply_constant_is_well_formed_and_short() -> None:
    constants = [value for value in vars(replies).values() if isinstance(value, Reply)]
    assert len(constants) > 40
    for reply in constants:
        wire = reply.to_bytes()
        assert ENHANCED.match(wire) and len(wire) <= 512, wire
        assert reply.enhanced[0] == str(reply.code)[0]
