"""Interface language: English or Simplified Chinese, from the browser or the visitor's choice."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, redirect, request, session, url_for
from flask_babel import Babel
from werkzeug.wrappers import Response

babel = Babel()
bp = Blueprint("language", __name__)

# Babel locale -> the name shown in the switcher (each in its own language).
LANGUAGES = {"en": "English", "zh_Hans": "简体中文"}
# Primary language tags a browser may send -> our locale.
BROWSER_TAGS = {"en": "en", "zh": "zh_Hans"}
DEFAULT_LOCALE = "en"


def select_locale() -> str:
    chosen = session.get("lang")
    if chosen in LANGUAGES:
        return str(chosen)
    tag = request.accept_languages.best_match(list(BROWSER_TAGS), DEFAULT_LOCALE)
    return BROWSER_TAGS.get(tag, DEFAULT_LOCALE)


def html_lang(locale: str) -> str:
    """The BCP 47 tag for <html lang>: zh_Hans -> zh-Hans."""
    return locale.replace("_", "-")


def safe_next(target: str | None) -> str:
    """Only same-site paths are followed after a switch (no open redirect)."""
    if target:
        parts = urlsplit(target)
        same_site = not parts.scheme and not parts.netloc and "\\" not in target
        if same_site and target.startswith("/") and not target.startswith("//"):
            return target
    return url_for("dashboard.index")


@bp.post("/language")
def switch() -> Response:
    chosen = request.form.get("lang", "")
    if chosen in LANGUAGES:
        session["lang"] = chosen
    return redirect(safe_next(request.form.get("next")))


@bp.app_context_processor
def language_context() -> dict[str, object]:
    locale = select_locale()
    return {"languages": LANGUAGES, "current_locale": locale, "html_lang": html_lang(locale)}
