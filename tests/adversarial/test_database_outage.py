"""PostgreSQL goes away in the middle of a run (a proxy in front of it drops every connection
and refuses new ones), then comes back: SMTP answers 451 4.3.0, POP3 -ERR [SYS/TEMP], the
portal a friendly 503 page and the API a JSON 503; sessions go on, everything recovers, nothing is lost."""

from __future__ import annotations

import dataclasses
from base64 import b64encode
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from flask import Flask
from integration.admin.support import PortalClient, text_of
from integration.pop3.support import (
    ALICE,
    ALICE_PW,
    BOB,
    RawClient,
    RunningServer,
    login_when_free,
)
from integration.pop3.support import client_context as pop3_client_context
from integration.smtp.support import RawSmtp, RunningSmtp
from integration.smtp.support import client_context as smtp_client_context
from sqlalchemy.engine import make_url

from services.admin import create_app
from shared.accounts.tokens import create_token
from shared.accounts.views import CONSOLE
from shared.storage.db import Database

from .conftest import Hosted
from .support import DatabaseProxy, visible_files

pytestmark = pytest.mark.postgres
LEASE_SECONDS = 2
S451 = b"451 4.3.0 Local error in processing, try again later\r\n"
SYS_TEMP = b"-ERR [SYS/TEMP] temporary server problem, try again later\r\n"
MESSAGE = b"Subject: outage\r\n\r\nbody\r\n."


@pytest.fixture
def database_url(postgres_url: str) -> str:
    """PostgreSQL only: the outage is a network one."""
    return postgres_url


@dataclass
class Services:
    proxy: DatabaseProxy
    smtp: RunningSmtp
    pop3: RunningServer
    portal: Flask


@pytest.fixture
def behind_proxy(db: Database, hosted: Hosted) -> Iterator[Services]:
    """SMTP, POP3 and the portal, all reaching the database through the proxy."""
    url = make_url(db.settings.database_url)
    proxy = DatabaseProxy((url.host or "127.0.0.1", url.port or 5432))
    settings = dataclasses.replace(
        db.settings, database_url=proxy.url_for(db.settings.database_url), maildrop_lease_seconds=LEASE_SECONDS
    )
    smtp = RunningSmtp(Database(settings))
    pop3 = RunningServer(settings)
    portal = create_app(settings)
    yield Services(proxy, smtp, pop3, portal)
    proxy.restore()
    smtp.stop()
    smtp.db.dispose()
    pop3.stop()
    portal.extensions["beaconmail"].db.dispose()
    proxy.close()


def mx_transaction(smtp: RunningSmtp) -> RawSmtp:
    client = RawSmtp(smtp.mx)
    assert client.command(b"EHLO outage.test").startswith(b"250")
    assert client.command(b"MAIL FROM:<sender@remote.example>").startswith(b"250")
    return client


def pop3_session(pop3: RunningServer) -> RawClient:
    return RawClient(pop3.tls_port, pop3_client_context(pop3.settings))


def check_smtp_during_outage(smtp: RunningSmtp, waiting: RawSmtp) -> RawSmtp:
    client = mx_transaction(smtp)
    assert client.command(f"RCPT TO:<{ALICE}>".encode()) == S451
    assert client.command(b"NOOP").startswith(b"250 2.0.0")
    assert client.command(f"RCPT TO:<{BOB}>".encode()) == S451  # still in the transaction: not 503
    assert waiting.command(b"DATA").startswith(b"354")
    assert waiting.command(MESSAGE) == S451  # accepted at RCPT, refused when it must be stored
    submission = RawSmtp(smtp.submission)
    submission.command(b"EHLO outage.test")
    submission.starttls(smtp_client_context(smtp.settings))
    submission.command(b"EHLO outage.test")
    assert submission.command(b"AUTH PLAIN " + b64encode(f"\0{ALICE}\0{ALICE_PW}".encode())).startswith(b"454 4.7.0")
    submission.close()
    return client


def check_pop3_during_outage(pop3: RunningServer, holder: RawClient) -> None:
    client = pop3_session(pop3)
    assert client.command(f"USER {ALICE}".encode()).startswith(b"+OK")
    assert client.command(f"PASS {ALICE_PW}".encode()) == SYS_TEMP
    assert client.command(b"CAPA").startswith(b"+OK")
    client.close()
    assert holder.retrieve(b"RETR 1").endswith(b"body\r\n")  # already open: served from the store
    assert holder.command(b"DELE 1").startswith(b"+OK")
    assert holder.command(b"QUIT") == SYS_TEMP  # the delete cannot be committed, so none happens


def test_services_ride_out_a_database_outage(behind_proxy: Services) -> None:
    services = behind_proxy
    waiting = mx_transaction(services.smtp)
    assert waiting.command(f"RCPT TO:<{ALICE}>".encode()).startswith(b"250")
    before = mx_transaction(services.smtp)
    before.command(f"RCPT TO:<{ALICE}>".encode())
    before.command(b"DATA")
    assert before.command(MESSAGE).startswith(b"250 2.0.0")
    holder = pop3_session(services.pop3)
    holder.command(f"USER {ALICE}".encode())
    assert holder.command(f"PASS {ALICE_PW}".encode()).startswith(b"+OK maildrop has 1 messages")
    portal = PortalClient(services.portal.test_client())
    assert portal.login(ALICE, ALICE_PW).status_code == 302

    services.proxy.cut()
    during = check_smtp_during_outage(services.smtp, waiting)
    check_pop3_during_outage(services.pop3, holder)
    assert portal.client.get("/healthz").status_code == 503

    services.proxy.restore()
    # A 451 at RCPT refused only that recipient: MAIL FROM still holds.
    assert during.command(f"RCPT TO:<{ALICE}>".encode()).startswith(b"250")
    assert during.command(b"DATA").startswith(b"354")
    assert during.command(MESSAGE).startswith(b"250 2.0.0")
    assert portal.get("/").status_code == 200
    client = login_when_free(services.pop3, within=LEASE_SECONDS + 5)  # the lease could not be released
    assert client.stat()[0] == 2  # nothing deleted, nothing lost
    client.quit()
    assert len(visible_files(services.smtp.settings, ALICE)) == 2


def test_portal_and_api_answer_503_while_the_database_is_away(behind_proxy: Services, db: Database) -> None:
    signed_in = PortalClient(behind_proxy.portal.test_client())
    assert signed_in.login(ALICE, ALICE_PW).status_code == 302
    anonymous = PortalClient(behind_proxy.portal.test_client())
    api = {"Authorization": f"Bearer {create_token(db, ALICE, name='outage', actor=CONSOLE).secret}"}
    behind_proxy.proxy.cut()
    pages = [signed_in.get(path) for path in ("/", "/domains/", "/tokens/", "/no-such-page")]
    pages.append(signed_in.client.post("/logout"))  # no CSRF token: the error page itself needs the account
    pages.append(anonymous.login(ALICE, ALICE_PW))
    for response in pages:
        assert response.status_code == 503 and response.headers["Retry-After"], response.status_code
        page = text_of(response)
        assert "The service is temporarily unavailable" in page, page[:500]
        assert "Traceback" not in page and "psycopg" not in page and "OperationalError" not in page
        assert ALICE not in page  # rendered without asking the database who is signed in
    chinese = text_of(signed_in.get("/domains/", headers={"Accept-Language": "zh-CN"}))
    assert '<html lang="zh-Hans">' in chinese and "服务暂时不可用" in chinese
    refused = behind_proxy.portal.test_client().get("/api/v1/domains", headers=api)
    assert refused.status_code == 503 and refused.get_json()["error"]["code"] == "temporarily_unavailable"

    behind_proxy.proxy.restore()
    assert signed_in.get("/domains/").status_code == 200
    assert anonymous.login(ALICE, ALICE_PW).status_code == 302
    assert behind_proxy.portal.test_client().get("/api/v1/domains", headers=api).status_code == 200
