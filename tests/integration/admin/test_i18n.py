"""English and Simplified Chinese: chosen from the browser, switchable, and complete."""
from __future__ import annotations

import io
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from services import admin

from .support import PortalClient, World, text_of

PORTAL = Path(admin.__file__).parent
CATALOG = PORTAL / "translations" / "zh_Hans" / "LC_MESSAGES"
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None}
METHODS = [("**.py", "python"), ("templates/**.html", "jinja2")]


def test_browser_language_is_followed(client: PortalClient) -> None:
    chinese = text_of(client.get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}))
    assert '<html lang="zh-Hans">' in chinese and "请使用完整的邮箱地址及其密码。" in chinese
    english = text_of(client.get("/login", headers={"Accept-Language": "en-GB,en;q=0.8"}))
    assert '<html lang="en">' in english and "Use your full mail address" in english
    assert "Use your full mail address" in text_of(client.get("/login", headers={"Accept-Language": "fr"}))
    page = text_of(client.post("/login", {"address": "", "password": ""}, headers={"Accept-Language": "zh-CN"}))
    assert "This field is required." not in page and "该字段是必填字段" in page


def test_switching_language_sticks_across_sign_in(client: PortalClient, world: World) -> None:
    switched = client.post("/language", {"lang": "zh_Hans", "next": "/login"})
    assert switched.headers["Location"] == "/login"
    assert "登录" in text_of(client.get("/login", headers={"Accept-Language": "en"}))
    client.login(world.manager)
    dashboard = text_of(client.get("/", headers={"Accept-Language": "en"}))
    assert "概览" in dashboard and "接近配额的邮箱" in dashboard
    client.post("/language", {"lang": "en", "next": "//evil.example/"}, token_page="/")
    assert "Mailboxes near their quota" in text_of(client.get("/"))
    client.post("/language", {"lang": "klingon"}, token_page="/")
    assert "Mailboxes near their quota" in text_of(client.get("/"))


def test_every_message_has_a_chinese_translation() -> None:
    in_source = {message for _file, _line, message, _comments, _context in extract_from_dir(PORTAL, METHODS, keywords=KEYWORDS)}
    catalog = read_po(io.BytesIO((CATALOG / "messages.po").read_bytes()))
    translated = {m.id for m in catalog if m.id and all(m.string if isinstance(m.string, tuple) else [m.string])}
    assert in_source - translated == set(), "untranslated"
    assert {m.id for m in catalog if m.id} - in_source == set(), "obsolete"


def test_compiled_catalog_matches_the_source() -> None:
    source = read_po(io.BytesIO((CATALOG / "messages.po").read_bytes()))
    compiled = read_mo(io.BytesIO((CATALOG / "messages.mo").read_bytes()))
    assert entries(source) == entries(compiled)


def entries(catalog: Catalog) -> dict[object, object]:
    """id -> translation, with plural forms as tuples whichever reader made them."""
    def frozen(value: object) -> object:
        return tuple(value) if isinstance(value, list | tuple) else value

    return {frozen(m.id): frozen(m.string) for m in catalog if m.id}
