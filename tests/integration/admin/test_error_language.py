"""Errors of shared reach people in their language and in their units: the portal and the API
translate each error's message id at the edge, a refused domain names its fault, quotas read
as GiB, role badges are words, and a CSV file over a domain's limit is told so once."""
from __future__ import annotations

import io
import re

from flask import Flask

from shared import accounts
from shared.accounts.views import CONSOLE
from shared.storage.db import Database

from .support import PortalClient, World, bearer, text_of

CHINESE = {"Accept-Language": "zh-CN,zh;q=0.9"}
LIMITS = {"max_mailboxes": "0", "max_aliases": "0", "quota": "0", "default_mailbox_quota": "0"}


def form_errors(page: str) -> list[str]:
    return re.findall(r'<p class="error form-error" role="alert">(.*?)</p>', page)


def test_a_refused_domain_is_explained_in_the_visitors_language(as_admin: PortalClient) -> None:
    english = text_of(as_admin.post("/domains/new", {**LIMITS, "name": "-x.com"}, token_page="/"))
    assert form_errors(english) == ["Invalid address: invalid domain: &#39;-x.com&#39;: a label may not start with a hyphen (&#39;-x&#39;)"]
    chinese = text_of(as_admin.post("/domains/new", {**LIMITS, "name": "exa mple"}, token_page="/", headers=CHINESE))
    assert form_errors(chinese) == ["地址无效: 域名无效：&#39;exa mple&#39;：包含空格"]


def test_the_api_answers_in_english_unless_asked_otherwise(app: Flask, db: Database, world: World) -> None:
    api, auth = app.test_client(), bearer(db, world.admin, read_only=False)
    english = api.post("/api/v1/domains", json={"name": "exa mple"}, headers=auth)
    assert english.status_code == 422
    assert english.get_json() == {"error": {"code": "invalid_address", "message": "invalid domain: 'exa mple': it contains a space"}}
    chinese = api.post("/api/v1/domains", json={"name": "example.123"}, headers=auth | CHINESE).get_json()["error"]
    assert chinese == {"code": "invalid_address", "message": "域名无效：'example.123'：最后一个标签 '123' 全是数字；顶级域不能是数字"}


def test_quota_errors_and_pages_give_binary_units(as_admin: PortalClient, app: Flask, db: Database, world: World) -> None:
    data = {"local": "big", "domain": world.alpha, "name": "", "quota": "11G", "password": "long-enough-1"}
    page = text_of(as_admin.post("/mailboxes/new", data, token_page="/", headers=CHINESE))
    assert form_errors(page) == ["已达上限: 配额不能超过该域的总配额 10 GiB"]
    refused = app.test_client().post(
        "/api/v1/mailboxes", json={"address": f"big@{world.alpha}", "quota_bytes": 11 * 1024**3}, headers=bearer(db, world.admin, read_only=False)
    )
    assert refused.get_json()["error"]["message"] == "the quota must not exceed the domain's total of 10 GiB"
    assert str(10 * 1024**3) not in page


def test_role_badges_are_words_in_chinese(as_admin: PortalClient, world: World) -> None:
    listing = text_of(as_admin.get("/mailboxes/", headers=CHINESE))
    assert "全局管理员" in listing and f"{world.alpha} 的管理员" in listing
    assert "global-admin" not in listing and "manager:" not in listing


def upload(client: PortalClient, text: str, **kwargs: object) -> str:
    data = {"csrf_token": client.csrf_token("/import/"), "csv_file": (io.BytesIO(text.encode()), "people.csv")}
    return text_of(client.client.post("/import/preview", data=data, content_type="multipart/form-data", **kwargs))


def test_an_import_over_the_mailbox_limit_says_so_once_on_top(as_manager: PortalClient, db: Database, world: World) -> None:
    accounts.update_domain(db, world.alpha, max_mailboxes=6, actor=CONSOLE)  # it holds 3: room for 3
    rows = "".join(f"new{n}@{world.alpha},New {n},password-{n}-long,\n" for n in range(5))
    preview = upload(as_manager, "address,name,password,quota\n" + rows)
    summary = f"this file adds 5 mailboxes; {world.alpha} has room for 3 of its 6"
    assert preview.count(summary) == 1
    assert preview.index(summary) < preview.index("<table>")
    assert "0 rows can be created, 5 rows are wrong." in preview and 'id="apply-import"' not in preview
    chinese = upload(as_manager, "address,name,password,quota\n" + rows, headers=CHINESE)
    assert chinese.count(f"此文件将添加 5 个邮箱；{world.alpha} 的上限为 6 个，还能再添加 3 个") == 1
    assert "over the domain" not in chinese and "超出该域的邮箱上限" in chinese
    assert accounts.count_mailboxes(db, actor=CONSOLE) == 4


def test_the_audit_log_gives_changed_sizes_in_binary_units(as_admin: PortalClient, db: Database, world: World) -> None:
    accounts.update_domain(db, world.alpha, quota_bytes=20 * 1024**3, default_mailbox_quota=512 * 1024**2, actor=CONSOLE)
    page = text_of(as_admin.get("/audit/?action=domain.update"))
    assert "quota_bytes=20 GiB" in page and "default_mailbox_quota=512 MiB" in page
    assert str(20 * 1024**3) not in page
