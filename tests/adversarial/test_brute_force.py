"""Password guessing against SMTP AUTH, POP3 and the portal login: failures are slowed down,
then refused, per client address and per account (so spreading the guesses over many
addresses locks the account for all of them); the owner's right password from an address
that has not failed still works, and nobody else's account is caught in the lock.

The integration tests already show a single address being locked out on each service and,
for SMTP, another address getting in; these add the delays, the guesses spread over several
addresses, the untouched bystander account and, for the portal, forged X-Forwarded-For."""

from __future__ import annotations

import dataclasses
import time
from base64 import b64encode
from collections.abc import Callable
from typing import Generic, NamedTuple, TypeVar

import pytest
from flask import Flask
from integration.admin.support import PortalClient
from integration.pop3.support import (
    ALICE,
    ALICE_PW,
    BOB,
    BOB_PW,
    RawClient,
    RunningServer,
    client_context,
)
from integration.smtp.support import RawSmtp, RunningSmtp
from integration.smtp.support import client_context as smtp_client_context

from services.admin import create_app
from shared.storage.db import Database

from .conftest import Hosted, StartPop3, StartSmtp

T = TypeVar("T")
LIMIT = 4
# Failures before each attempt: 0, 1, 2, 3 -> delays of 0, 0.25, 0.5 and 1 s (shared/runtime/throttle.py).
DELAYS = [0.0, 0.25, 0.5, 1.0]
STRICT = {"auth_fail_limit": LIMIT, "auth_fail_window": 600.0, "auth_lockout": 600.0}
# One guess from each: together they reach the limit of the account, none of the address.
GUESSERS = [f"127.0.0.{n}" for n in range(2, 2 + LIMIT)]
OWNER = "127.0.0.20"


class Attempt(NamedTuple, Generic[T]):
    reply: T
    seconds: float


def timed(attempt: Callable[[], T]) -> Attempt[T]:
    started = time.monotonic()
    reply = attempt()
    return Attempt(reply, time.monotonic() - started)


def assert_slowed(latencies: list[float]) -> None:
    """Each failure delays the next answer. The password check adds its own time (and, on a
    busy machine, noise of a few tenths of a second) on top, hence the margin."""
    assert all(latency >= delay for latency, delay in zip(latencies, DELAYS, strict=True)), latencies
    assert latencies[-1] - latencies[0] >= DELAYS[-1] / 2, latencies


# -- SMTP AUTH ----------------------------------------------------------------------------


@pytest.fixture
def smtp(start_smtp: StartSmtp) -> RunningSmtp:
    return start_smtp(**STRICT)


def smtp_auth(smtp: RunningSmtp, source_ip: str, user: str, password: str) -> Attempt[bytes]:
    """One AUTH PLAIN on a fresh submission session from `source_ip`, timed."""
    client = RawSmtp(smtp.submission, source_ip=source_ip)
    client.command(b"EHLO guess.test")
    client.starttls(smtp_client_context(smtp.settings))
    client.command(b"EHLO guess.test")
    attempt = timed(lambda: client.command(b"AUTH PLAIN " + b64encode(f"\0{user}\0{password}".encode())))
    client.close()
    return attempt


def test_smtp_guessing_is_slowed_then_refused_but_the_owner_gets_in(smtp: RunningSmtp) -> None:
    guesses = [smtp_auth(smtp, guesser, ALICE, "guess") for guesser in GUESSERS]
    assert [guess.reply[:9] for guess in guesses] == [b"535 5.7.8"] * LIMIT
    assert_slowed([guess.seconds for guess in guesses])
    assert smtp_auth(smtp, GUESSERS[0], ALICE, ALICE_PW).reply.startswith(b"421 4.7.0")
    assert smtp_auth(smtp, OWNER, ALICE, ALICE_PW).reply.startswith(b"235 2.7.0")
    assert smtp_auth(smtp, GUESSERS[1], BOB, BOB_PW).reply.startswith(b"235 2.7.0")  # a bystander


# -- POP3 PASS ----------------------------------------------------------------------------


@pytest.fixture
def pop3(start_pop3: StartPop3) -> RunningServer:
    return start_pop3(**STRICT)


def pop3_login(pop3: RunningServer, source_ip: str, user: str, password: str) -> Attempt[bytes]:
    client = RawClient(pop3.tls_port, client_context(pop3.settings), source_ip=source_ip)
    client.command(f"USER {user}".encode())
    attempt = timed(lambda: client.command(f"PASS {password}".encode()))
    client.command(b"QUIT")
    client.close()
    return attempt


def test_pop3_guessing_is_slowed_then_refused_but_the_owner_gets_in(pop3: RunningServer) -> None:
    guesses = [pop3_login(pop3, guesser, ALICE, "guess") for guesser in GUESSERS]
    assert [guess.reply for guess in guesses] == [b"-ERR [AUTH] authentication failed\r\n"] * LIMIT
    assert_slowed([guess.seconds for guess in guesses])
    assert pop3_login(pop3, GUESSERS[0], ALICE, ALICE_PW).reply.startswith(b"-ERR [AUTH]")
    assert pop3_login(pop3, OWNER, ALICE, ALICE_PW).reply.startswith(b"+OK")
    assert pop3_login(pop3, GUESSERS[1], BOB, BOB_PW).reply.startswith(b"+OK")


# -- portal sign-in -----------------------------------------------------------------------


@pytest.fixture
def portal(db: Database, hosted: Hosted) -> Flask:
    return create_app(dataclasses.replace(db.settings, **STRICT), database=db)  # type: ignore[arg-type]


def browser(app: Flask, address: str) -> PortalClient:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return PortalClient(client)


def portal_login(app: Flask, address: str, user: str, password: str, **headers: str) -> Attempt[int]:
    client = browser(app, address)
    form = {"csrf_token": client.csrf_token(), "address": user, "password": password}
    return timed(lambda: client.client.post("/login", data=form, headers=headers).status_code)


def test_portal_guessing_is_slowed_then_refused_but_the_owner_gets_in(portal: Flask) -> None:
    guesses = [portal_login(portal, guesser, ALICE, "guess") for guesser in GUESSERS]
    assert [guess.reply for guess in guesses] == [422] * LIMIT
    assert_slowed([guess.seconds for guess in guesses])
    assert portal_login(portal, GUESSERS[0], ALICE, ALICE_PW).reply == 429
    assert portal_login(portal, OWNER, ALICE, ALICE_PW).reply == 302
    assert portal_login(portal, GUESSERS[1], BOB, BOB_PW).reply == 302


def test_forged_forwarded_for_does_not_reset_the_count(portal: Flask) -> None:
    """Without a configured proxy (BEACONMAIL_PROXY_HOPS=0) X-Forwarded-For is not believed,
    so a guesser cannot pose as a new address for each try."""
    for n in range(LIMIT):
        assert portal_login(portal, GUESSERS[0], BOB, "guess", **{"X-Forwarded-For": f"198.51.100.{n}"}).reply == 422
    assert portal_login(portal, GUESSERS[0], ALICE, ALICE_PW, **{"X-Forwarded-For": "198.51.100.99"}).reply == 429
