"""What every request of the portal shares: the settings and the database."""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import current_app, request

from shared.accounts.passkeys import RelyingParty
from shared.accounts.permissions import Scope
from shared.accounts.views import Actor, TokenRef
from shared.config import Settings
from shared.storage.db import Database


@dataclass(frozen=True)
class Portal:
    settings: Settings
    db: Database


def portal() -> Portal:
    found: Portal = current_app.extensions["beaconmail"]
    return found


def db() -> Database:
    return portal().db


def client_ip() -> str:
    return request.remote_addr or ""


def relying_party() -> RelyingParty:
    """WebAuthn's relying party: the host name and origin the browser shows the portal under
    (a proxy's, through ProxyFix). A browser signs only for the origin it really shows."""
    origin = request.host_url.rstrip("/")
    return RelyingParty(id=urlsplit(origin).hostname or "", origin=origin)


def acting_as(scope: Scope, token: TokenRef | None = None) -> Actor:
    """Who acts in this request: those rights, from this request's client (through `token`)."""
    return Actor(scope, ip=client_ip(), token=token)
