"""English and Simplified Chinese: chosen from the browser, switchable, and errors of shared
translated at the edge (the catalogue's completeness is tests/unit/test_translations.py)."""
from __future__ import annotations

from .support import PortalClient, World, text_of


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


