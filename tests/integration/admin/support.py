"""Helpers of the admin tests: a form-aware client, the cast of people, API headers."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from shared.accounts import tokens
from shared.accounts.views import CONSOLE
from shared.storage.db import Database

PASSWORD = "s3cret-password"
CSRF_FIELD = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


class PortalClient:
    """A test client that signs in and sends forms with their CSRF token, as a browser would."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def get(self, url: str, **kwargs: Any) -> TestResponse:
        return self.client.get(url, **kwargs)

    def csrf_token(self, page: str = "/login") -> str:
        found = CSRF_FIELD.search(self.client.get(page, follow_redirects=True).get_data(as_text=True))
        assert found, f"no CSRF token on {page}"
        return found.group(1)

    def post(self, url: str, data: dict[str, Any] | None = None, *, token_page: str | None = None, **kwargs: Any) -> TestResponse:
        form = {"csrf_token": self.csrf_token(token_page or "/login"), **(data or {})}
        return self.client.post(url, data=form, **kwargs)

    def login(self, address: str, password: str = PASSWORD) -> TestResponse:
        return self.post("/login", {"address": address, "password": password})

    def logout(self) -> TestResponse:
        return self.post("/logout", token_page="/account/")


@dataclass(frozen=True)
class World:
    """Who is who in every admin test: see the `world` fixture."""

    admin: str = "root@alpha.example"
    manager: str = "boss@alpha.example"
    staff: str = "staff@alpha.example"
    other: str = "someone@beta.example"
    alpha: str = "alpha.example"
    beta: str = "beta.example"


def bearer(db: Database, owner: str, **options: Any) -> dict[str, str]:
    """Authorization headers for a new API token of `owner`."""
    issued = tokens.create_token(db, owner, name="test", **options, actor=CONSOLE)
    return {"Authorization": f"Bearer {issued.secret}"}


def text_of(response: TestResponse) -> str:
    return response.get_data(as_text=True)
