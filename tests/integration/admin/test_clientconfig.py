"""Client autoconfiguration (Thunderbird, Outlook, Apple)."""
from __future__ import annotations

import dataclasses
import plistlib
from xml.etree import ElementTree

from services.admin import create_app
from shared.config import Settings
from shared.storage.db import Database

from .support import PortalClient, World, text_of

AUTODISCOVER_REQUEST = """<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">
  <Request>
    <EMailAddress>{address}</EMailAddress>
    <AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema>
  </Request>
</Autodiscover>"""
OUTLOOK = "{http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a}"


def test_mail_clients_configure_themselves(client: PortalClient, world: World) -> None:
    thunderbird_autoconfig(client)
    outlook_autodiscover(client, world)


def thunderbird_autoconfig(client: PortalClient) -> None:
    for url in ("/mail/config-v1.1.xml?emailaddress=staff@alpha.example", "/.well-known/autoconfig/mail/config-v1.1.xml"):
        response = client.get(url, headers={"Host": "autoconfig.alpha.example"})
        assert response.status_code == 200 and response.mimetype == "application/xml"
        provider = ElementTree.fromstring(response.data).find("emailProvider")
        assert provider is not None and provider.get("id") == "alpha.example"
        incoming = [(s.get("type"), s.findtext("port"), s.findtext("socketType")) for s in provider.findall("incomingServer")]
        # IMAP first, then POP3; the test settings use ephemeral ports (0).
        assert incoming == [("imap", "0", "SSL"), ("imap", "0", "STARTTLS"), ("pop3", "0", "SSL"), ("pop3", "0", "STARTTLS")]
        assert [s.find("pop3") is not None for s in provider.findall("incomingServer")] == [False, False, True, True]
        assert provider.findtext("outgoingServer/hostname") == "mx.test.example"
        assert provider.findtext("outgoingServer/username") == "%EMAILADDRESS%"
    assert client.get("/mail/config-v1.1.xml?emailaddress=x@not-hosted.example").status_code == 404


def outlook_autodiscover(client: PortalClient, world: World) -> None:
    body = AUTODISCOVER_REQUEST.format(address=world.staff)
    response = client.client.post("/autodiscover/autodiscover.xml", data=body, content_type="text/xml")
    assert response.status_code == 200
    protocols = ElementTree.fromstring(response.data).findall(f"{OUTLOOK}Response/{OUTLOOK}Account/{OUTLOOK}Protocol")
    assert [p.findtext(f"{OUTLOOK}Type") for p in protocols] == ["IMAP", "POP3", "SMTP"]
    assert {p.findtext(f"{OUTLOOK}LoginName") for p in protocols} == {world.staff}
    assert client.client.post("/autodiscover/autodiscover.xml", data="<broken", content_type="text/xml").status_code == 400
    unknown = AUTODISCOVER_REQUEST.format(address="x@not-hosted.example")
    assert client.client.post("/autodiscover/autodiscover.xml", data=unknown, content_type="text/xml").status_code == 404


def test_apple_profile_for_the_signed_in_user(client: PortalClient, world: World) -> None:
    assert client.get("/account/mail.mobileconfig").status_code == 302
    client.login(world.staff)
    response = client.get("/account/mail.mobileconfig")
    assert response.mimetype == "application/x-apple-aspen-config"
    assert "attachment" in response.headers["Content-Disposition"]
    account = plistlib.loads(response.data)["PayloadContent"][0]
    assert account["EmailAddress"] == world.staff and account["IncomingMailServerUsername"] == world.staff
    assert account["EmailAccountType"] == "EmailTypeIMAP" and account["IncomingMailServerUseSSL"] is True
    page = text_of(client.get("/account/"))
    assert page.index('id="apple-profile"') < page.index('id="apple-profile-pop3"')
    pop3 = plistlib.loads(client.get("/account/mail.mobileconfig?protocol=pop3").data)["PayloadContent"][0]
    assert pop3["EmailAccountType"] == "EmailTypePOP" and pop3["PayloadIdentifier"] == account["PayloadIdentifier"]
    assert client.get("/account/mail.mobileconfig?protocol=smtp").status_code == 404


def test_clients_are_given_the_configured_imap_ports(settings: Settings, db: Database, world: World) -> None:
    client = PortalClient(create_app(dataclasses.replace(settings, imap_port=143, imaps_port=993), database=db).test_client())
    autoconfig = ElementTree.fromstring(client.get("/mail/config-v1.1.xml?emailaddress=staff@alpha.example").data)
    assert [s.findtext("port") for s in autoconfig.iterfind("emailProvider/incomingServer[@type='imap']")] == ["993", "143"]
    body = AUTODISCOVER_REQUEST.format(address=world.staff)
    outlook = ElementTree.fromstring(client.client.post("/autodiscover/autodiscover.xml", data=body, content_type="text/xml").data)
    imap = outlook.find(f"{OUTLOOK}Response/{OUTLOOK}Account/{OUTLOOK}Protocol")
    assert imap is not None and (imap.findtext(f"{OUTLOOK}Type"), imap.findtext(f"{OUTLOOK}Port")) == ("IMAP", "993")
    client.login(world.staff)
    account = plistlib.loads(client.get("/account/mail.mobileconfig").data)["PayloadContent"][0]
    assert account["IncomingMailServerPortNumber"] == 993
    assert "993" in text_of(client.get("/account/"))
