"""The import rules of docs/architecture.md, checked on the source: shared never imports a
service or a web framework; inside shared, imports run one way between its packages
(accounts -> mail -> storage; runtime on its own); no service imports another; only shared
touches sessions, engines and Maildir files."""
from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# The edge's frameworks: shared stays importable without any of them.
EDGE_PACKAGES = {"services", "flask", "flask_login", "flask_wtf", "flask_babel", "werkzeug", "aiosmtpd", "click", "gunicorn"}
# Services may catch the database's exceptions, nothing more of SQLAlchemy.
ALLOWED_SQLALCHEMY = {"sqlalchemy.exc"}
# The session, engine and Maildir machinery of shared.
SHARED_INTERNALS = {
    "shared.storage.db.make_engine",
    "shared.storage.maildirs",
    "shared.storage.models",
    "shared.storage.lookups",
    "shared.storage.migrations.env",
}
# What each part of shared may import of shared, besides itself.
LEAVES = {"shared.config", "shared.errors"}
SHARED_LAYERS = {
    "shared.config": set(),
    "shared.errors": set(),
    "shared.runtime": LEAVES,
    "shared.storage": LEAVES,
    "shared.mail": LEAVES | {"shared.storage"},
    "shared.accounts": LEAVES | {"shared.mail", "shared.storage"},
}
FORBIDDEN_ATTRIBUTES = {"engine", "mail_root", "maildir"}
# The launcher checks the schema before starting (shared.storage.schema_version.ensure_at_head takes the
# engine) and makes the mail folder at first run; it reads and writes no mail.
LAUNCHER_ALLOWANCES = {"engine", "mail_root"}
# The `beaconmail` command starts every service, so it is a launcher like the files directly in services/.
LAUNCHER_PACKAGES = {"services.cli"}
MAILDIR_SUBFOLDERS = ('"new"', '"cur"', "'new'", "'cur'")


def python_files(folder: str) -> list[Path]:
    return sorted(path for path in (ROOT / folder).rglob("*.py") if "__pycache__" not in path.parts)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> Iterator[str]:
    """Every module named by an import in `path`, relative imports resolved; `from a import b` gives a.b too."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def service_of(path: Path) -> str | None:
    """`services.smtp` for a file of that service; None for a launcher (a file directly in services/,
    or one of LAUNCHER_PACKAGES)."""
    parts = path.relative_to(ROOT).parts
    if len(parts) == 2 or any(within(module_name(path), package) for package in LAUNCHER_PACKAGES):
        return None
    return f"services.{parts[1]}"


def edge_imports(path: Path) -> list[str]:
    return [m for m in imported_modules(path) if any(within(m, edge) for edge in EDGE_PACKAGES)]


def layer_of(module: str) -> str | None:
    return next((layer for layer in SHARED_LAYERS if within(module, layer)), None)


def upward_imports(path: Path) -> list[str]:
    """Modules of shared that `path` (a file of shared) imports against SHARED_LAYERS."""
    if module_name(path) == "shared":
        return list(imported_modules(path))  # the package's docstring only: it imports nothing
    own = layer_of(module_name(path))
    if own is None:
        return [f"{module_name(path)} belongs to no part of shared"]
    allowed = SHARED_LAYERS[own] | {own}
    return [
        m for m in imported_modules(path)
        if within(m, "shared") and m != "shared" and not any(within(m, ok) for ok in allowed)
    ]


def other_service_imports(path: Path) -> list[str]:
    own = service_of(path)
    if own is None:
        return []
    return [m for m in imported_modules(path) if within(m, "services") and m != "services" and not within(m, own)]


def storage_access(path: Path) -> list[str]:
    """What in a service file reaches past shared's use cases into sessions, engines or Maildirs."""
    modules = set(imported_modules(path))
    found = [m for m in modules if within(m, "sqlalchemy") and not any(within(m, ok) for ok in ALLOWED_SQLALCHEMY)]
    found += [m for m in modules if any(within(m, internal) for internal in SHARED_INTERNALS)]
    tree = ast.parse(path.read_text())
    attributes = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)} & FORBIDDEN_ATTRIBUTES
    if service_of(path) is None:
        attributes -= LAUNCHER_ALLOWANCES
    found += [f".{name}" for name in sorted(attributes)]
    found += [
        f"session.begin (line {node.lineno})"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr == "begin"
        and isinstance(node.value, ast.Attribute) and node.value.attr == "session"
    ]
    text = path.read_text()
    found += [f"Maildir folder {name}" for name in MAILDIR_SUBFOLDERS if name in text]
    return found


def offenders(folder: str, check: object) -> dict[str, list[str]]:
    found = {str(path.relative_to(ROOT)): check(path) for path in python_files(folder)}  # type: ignore[operator]
    return {name: problems for name, problems in found.items() if problems}


def test_the_checks_catch_violations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The rules must be able to fail: run them on made-up offending files."""
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    (tmp_path / "services" / "smtp").mkdir(parents=True)
    (tmp_path / "shared").mkdir()
    service = tmp_path / "services" / "smtp" / "probe.py"
    service.write_text(
        "from services.pop3 import protocol\nfrom ..admin import forms\nfrom sqlalchemy.orm import Session\n"
        "from shared.storage.maildirs import list_messages\n"
        "def f(db, settings):\n    with db.session.begin():\n        return settings.mail_root / 'x' / 'new'\n"
    )
    (tmp_path / "services" / "cli").mkdir()
    launcher = tmp_path / "services" / "cli" / "probe.py"
    launcher.write_text(
        "from services.smtp import server\nfrom sqlalchemy.orm import Session\n"
        "def f(db, settings):\n    db.engine.dispose()\n    return settings.mail_root, db.maildir\n"
    )
    (tmp_path / "shared" / "probe.py").write_text("import flask\nfrom services.smtp import handler\n")
    (tmp_path / "shared" / "storage").mkdir()
    (tmp_path / "shared" / "storage" / "probe.py").write_text(
        "from shared.config import Settings\nfrom shared.storage import db\nfrom shared.mail import routing\n"
    )
    (tmp_path / "shared" / "runtime").mkdir()
    (tmp_path / "shared" / "runtime" / "probe.py").write_text("from ..accounts import views\n")
    assert offenders("services", other_service_imports) == {
        "services/smtp/probe.py": ["services.pop3", "services.pop3.protocol", "services.admin", "services.admin.forms"]
    }
    # The command may import every service and use LAUNCHER_ALLOWANCES, nothing more.
    assert set(offenders("services", storage_access)["services/cli/probe.py"]) == {
        "sqlalchemy.orm", "sqlalchemy.orm.Session", ".maildir"
    }
    problems = offenders("services", storage_access)["services/smtp/probe.py"]
    assert {"sqlalchemy.orm.Session", "shared.storage.maildirs.list_messages", ".mail_root", "session.begin (line 6)"} <= set(problems)
    assert "Maildir folder 'new'" in problems
    assert offenders("shared", edge_imports) == {"shared/probe.py": ["flask", "services.smtp", "services.smtp.handler"]}
    assert offenders("shared", upward_imports) == {
        "shared/probe.py": ["shared.probe belongs to no part of shared"],
        "shared/runtime/probe.py": ["shared.accounts", "shared.accounts.views"],
        "shared/storage/probe.py": ["shared.mail", "shared.mail.routing"],
    }


def test_the_rules_see_the_code() -> None:
    assert len(python_files("shared")) > 10 and len(python_files("services")) > 5


def test_shared_never_imports_services_or_web_frameworks() -> None:
    assert offenders("shared", edge_imports) == {}


def test_no_service_imports_another_service() -> None:
    assert offenders("services", other_service_imports) == {}


def test_services_leave_sessions_engines_and_mail_files_to_shared() -> None:
    assert offenders("services", storage_access) == {}


def test_shared_imports_run_one_way_between_its_parts() -> None:
    assert offenders("shared", upward_imports) == {}


def imported_module_edges(path: Path, known: set[str]) -> set[str]:
    """The modules of `known` that `path` imports, at any depth of the file (functions and
    `if TYPE_CHECKING:` too). `from package import name` is an edge to the submodule when `name`
    is one, else to the package; the parent packages Python imports on the way are not edges."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    edges: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            edges.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            submodules = {f"{base}.{alias.name}" for alias in node.names} & known
            edges.update(submodules or {base})
    return edges & known


def import_cycles(folders: tuple[str, ...]) -> list[list[str]]:
    """The groups of modules in `folders` that import each other in a circle (Tarjan's strongly
    connected components of the import graph), each sorted; a module importing itself is one too."""
    paths = {module_name(path): path for folder in folders for path in python_files(folder)}
    graph = {module: imported_module_edges(path, set(paths)) for module, path in paths.items()}
    index: dict[str, int] = {}
    lowlink: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = lowlink[module] = len(index)
        stack.append(module)
        for target in sorted(graph[module]):
            if target not in index:
                visit(target)
                lowlink[module] = min(lowlink[module], lowlink[target])
            elif target in stack:
                lowlink[module] = min(lowlink[module], index[target])
        if lowlink[module] == index[module]:
            component = []
            while not component or component[-1] != module:
                component.append(stack.pop())
            if len(component) > 1 or module in graph[module]:
                cycles.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return sorted(cycles)


def test_the_cycle_check_finds_a_made_up_cycle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    (tmp_path / "services" / "probe").mkdir(parents=True)
    (tmp_path / "shared" / "storage").mkdir(parents=True)
    (tmp_path / "services" / "probe" / "__init__.py").write_text("from services.probe.first import run\n")
    (tmp_path / "services" / "probe" / "first.py").write_text(
        "from shared.storage import db\n\ndef run() -> None:\n    from . import second\n"
    )
    (tmp_path / "services" / "probe" / "second.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from services.probe.first import run\n"
    )
    (tmp_path / "shared" / "storage" / "db.py").write_text("import os\n")
    (tmp_path / "shared" / "storage" / "migrations.py").write_text("from shared.storage.db import open_database\n")
    assert import_cycles(("services", "shared")) == [["services.probe.first", "services.probe.second"]]
    (tmp_path / "shared" / "storage" / "db.py").write_text(
        "def open_database() -> None:\n    from shared.storage.migrations import upgrade\n"
    )
    assert import_cycles(("services", "shared")) == [
        ["services.probe.first", "services.probe.second"],
        ["shared.storage.db", "shared.storage.migrations"],
    ]


def test_no_import_cycles_in_shared_or_services() -> None:
    assert import_cycles(("shared", "services")) == []
