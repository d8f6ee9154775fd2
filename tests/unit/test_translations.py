"""The portal speaks Chinese everywhere: every message it can show, its own and the errors of
`shared` (marked with `N_`), has a zh_Hans translation, and no error of `shared` is English only."""
from __future__ import annotations

import ast
import io
from collections.abc import Iterator
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from shared import errors

ROOT = Path(__file__).resolve().parents[2]
PORTAL = ROOT / "services" / "admin"
SHARED = ROOT / "shared"
CATALOG = PORTAL / "translations" / "zh_Hans" / "LC_MESSAGES"
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None, "N_": None}
PORTAL_METHODS = [("**.py", "python"), ("templates/**.html", "jinja2")]
SHARED_METHODS = [("**.py", "python")]
ERROR_TYPES = {kind.__name__ for kind in vars(errors).values() if isinstance(kind, type) and issubclass(kind, errors.BeaconError)}


def extracted() -> dict[str, str]:
    """msgid -> where it was found, from the portal and from shared."""
    found: dict[str, str] = {}
    for folder, methods in ((PORTAL, PORTAL_METHODS), (SHARED, SHARED_METHODS)):
        for filename, line, message, _comments, _context in extract_from_dir(folder, methods, keywords=KEYWORDS):
            msgid = message[0] if isinstance(message, tuple) else message
            found.setdefault(msgid, f"{folder.name}/{filename}:{line}")
    return found


def catalog() -> Catalog:
    return read_po(io.BytesIO((CATALOG / "messages.po").read_bytes()))


def test_every_message_has_a_chinese_translation() -> None:
    done = {
        (m.id[0] if isinstance(m.id, tuple) else m.id)
        for m in catalog()
        if m.id and not m.fuzzy and all(m.string if isinstance(m.string, tuple) else [m.string])
    }
    missing = [f"{where}: {msgid!r}" for msgid, where in sorted(extracted().items(), key=lambda item: item[1]) if msgid not in done]
    assert not missing, (
        "no zh_Hans translation (or a fuzzy one) in services/admin/translations/zh_Hans/LC_MESSAGES/messages.po for:\n"
        + "\n".join(missing)
        + "\nadd each msgid with its msgstr, then run: pybabel compile -d services/admin/translations -l zh_Hans"
    )


def test_the_catalogue_has_no_obsolete_messages() -> None:
    in_source = set(extracted())
    obsolete = sorted(str(m.id) for m in catalog() if m.id and (m.id[0] if isinstance(m.id, tuple) else m.id) not in in_source)
    assert not obsolete, "messages.po holds messages no source file uses any more:\n" + "\n".join(obsolete)


def test_compiled_catalog_matches_the_source() -> None:
    source = catalog()
    compiled = read_mo(io.BytesIO((CATALOG / "messages.mo").read_bytes()))
    assert entries(source) == entries(compiled), "messages.mo is stale: run pybabel compile -d services/admin/translations -l zh_Hans"


def entries(catalog: Catalog) -> dict[object, object]:
    """id -> translation, with plural forms as tuples whichever reader made them."""

    def frozen(value: object) -> object:
        return tuple(value) if isinstance(value, list | tuple) else value

    return {frozen(m.id): frozen(m.string) for m in catalog if m.id}


def is_marked(node: ast.expr | None) -> bool:
    """`N_("literal")`, the only maker of a MessageId that pybabel can extract."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "N_"
        and len(node.args) == 1
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    )


def unmarked_errors() -> Iterator[str]:
    """Every BeaconError made in shared/ whose message is neither `N_("...")` nor a name (a
    parameter or variable typed MessageId, which mypy allows only from N_), and every N_ whose
    argument is not a literal the extraction can read."""
    for path in sorted(SHARED.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
                continue
            if node.func.id in ERROR_TYPES:
                first = node.args[0] if node.args else None
                if not (is_marked(first) or isinstance(first, ast.Name)):
                    yield f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)}"
            elif node.func.id == "N_" and not is_marked(node):
                yield f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)} (N_ takes one string literal)"


def test_every_error_of_shared_is_marked_for_translation() -> None:
    unmarked = list(unmarked_errors())
    assert not unmarked, (
        'errors without a message id: write them as Kind(N_("English %(name)s template"), name=value)\n' + "\n".join(unmarked)
    )
