"""Mail client set-up: Thunderbird autoconfig, Outlook autodiscover, Apple configuration profile."""
from __future__ import annotations

import plistlib
import uuid
from xml.etree import ElementTree

from flask import Blueprint, Response, abort, make_response, render_template, request
from flask_login import login_required

from services.admin.access import signed_in
from services.admin.portal import db, portal
from services.admin.security import csrf
from shared.errors import InvalidAddress
from shared.mail import dnsrecords, routing
from shared.mail.addresses import Address, normalise_domain, parse_address

bp = Blueprint("clientconfig", __name__)

AUTODISCOVER_MAX_BYTES = 16 * 1024
AUTODISCOVER_REQUEST_NS = "{http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006}"


def hosted_domain_or_404(text: str) -> str:
    try:
        domain = normalise_domain(text)
    except InvalidAddress:
        abort(404)
    if not routing.is_hosted_domain(db(), domain):
        abort(404)
    return domain


def xml_response(body: str, mimetype: str = "application/xml") -> Response:
    response = make_response(body)
    response.mimetype = mimetype
    return response


@bp.get("/mail/config-v1.1.xml")
@bp.get("/.well-known/autoconfig/mail/config-v1.1.xml")
def thunderbird() -> Response:
    """Thunderbird asks with ?emailaddress=, or only by host name (autoconfig.<domain>)."""
    address = request.args.get("emailaddress", "")
    domain_text = address.rpartition("@")[2] if "@" in address else request.host.split(":")[0].removeprefix("autoconfig.")
    domain = hosted_domain_or_404(domain_text)
    settings = portal().settings
    body = render_template(
        "clientconfig/thunderbird.xml",
        domain=domain,
        hostname=settings.hostname,
        endpoints=dnsrecords.client_endpoints(settings),
    )
    return xml_response(body)


def autodiscover_address() -> Address:
    if (request.content_length or 0) > AUTODISCOVER_MAX_BYTES:
        abort(413)
    try:
        root = ElementTree.fromstring(request.get_data(cache=False) or b"<none/>")
        found = root.find(f"{AUTODISCOVER_REQUEST_NS}Request/{AUTODISCOVER_REQUEST_NS}EMailAddress")
        text = found.text if found is not None else None
        return parse_address(text or "")
    except (ElementTree.ParseError, InvalidAddress):
        abort(400)


@bp.route("/autodiscover/autodiscover.xml", methods=["POST"])
@bp.route("/Autodiscover/Autodiscover.xml", methods=["POST"])
@csrf.exempt
def outlook() -> Response:
    """Outlook POSTs its request schema with the address; we answer the POX response schema."""
    address = autodiscover_address()
    hosted_domain_or_404(address.domain)
    settings = portal().settings
    body = render_template(
        "clientconfig/autodiscover.xml",
        address=str(address),
        hostname=settings.hostname,
        endpoints=[e for e in dnsrecords.client_endpoints(settings) if e.socket == "SSL"],
    )
    return xml_response(body)


# A profile holds one mail account, so IMAP and POP3 are two downloads (IMAP is the default);
# both carry the same identifier, so installing one replaces the other on the device.
APPLE_ACCOUNT_TYPES = {"imap": "EmailTypeIMAP", "pop3": "EmailTypePOP"}


@bp.get("/account/mail.mobileconfig")
@login_required
def mobileconfig() -> Response:
    """An unsigned Apple profile that sets up Mail for the signed-in user (password asked on install)."""
    protocol = request.args.get("protocol", "imap")
    if protocol not in APPLE_ACCOUNT_TYPES:
        abort(404)
    mailbox = signed_in().mailbox
    settings = portal().settings
    endpoints = {(e.protocol, e.socket): e.port for e in dnsrecords.client_endpoints(settings)}
    identity = f"{settings.hostname}.{mailbox.address}"
    account = {
        "PayloadType": "com.apple.mail.managed",
        "PayloadVersion": 1,
        "PayloadIdentifier": f"{identity}.mail",
        "PayloadUUID": str(uuid.uuid5(uuid.NAMESPACE_DNS, f"mail.{identity}")).upper(),
        "PayloadDisplayName": mailbox.address,
        "EmailAccountType": APPLE_ACCOUNT_TYPES[protocol],
        "EmailAccountDescription": mailbox.address,
        "EmailAccountName": mailbox.name or mailbox.address,
        "EmailAddress": mailbox.address,
        "IncomingMailServerHostName": settings.hostname,
        "IncomingMailServerPortNumber": endpoints[(protocol, "SSL")],
        "IncomingMailServerUseSSL": True,
        "IncomingMailServerAuthentication": "EmailAuthPassword",
        "IncomingMailServerUsername": mailbox.address,
        "OutgoingMailServerHostName": settings.hostname,
        "OutgoingMailServerPortNumber": endpoints[("smtp", "SSL")],
        "OutgoingMailServerUseSSL": True,
        "OutgoingMailServerAuthentication": "EmailAuthPassword",
        "OutgoingMailServerUsername": mailbox.address,
        "OutgoingPasswordSameAsIncomingPassword": True,
    }
    profile = {
        "PayloadType": "Configuration",
        "PayloadVersion": 1,
        "PayloadIdentifier": identity,
        "PayloadUUID": str(uuid.uuid5(uuid.NAMESPACE_DNS, identity)).upper(),
        "PayloadDisplayName": f"Beacon Mail: {mailbox.address}",
        "PayloadContent": [account],
    }
    response = make_response(plistlib.dumps(profile))
    response.mimetype = "application/x-apple-aspen-config"
    response.headers["Content-Disposition"] = 'attachment; filename="beaconmail.mobileconfig"'
    return response
