"""README's settings table against the code: every BEACONMAIL_* variable `load_settings` reads is
listed, nothing else is, and each listed default is the one the code uses, so the two cannot drift."""
from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from shared.config import PREFIX, load_settings, parse_size

REPO = Path(__file__).resolve().parents[2]
# Defaults that depend on the machine or on other settings: README says how they are found.
COMPUTED = {
    f"{PREFIX}HOSTNAME": "the host's FQDN",
    f"{PREFIX}SECRET_KEY": "generated once into `DATA_DIR/secret_key`",
    f"{PREFIX}TLS_CERT": "self-signed pair made once in `DATA_DIR/tls`",
    f"{PREFIX}TLS_KEY": "self-signed pair made once in `DATA_DIR/tls`",
    f"{PREFIX}SMTP_PROCESSES": "two per CPU core",
    f"{PREFIX}POP3_PROCESSES": "one per CPU core",
    f"{PREFIX}ALLOW_PLAINTEXT_AUTH": "true when bound to loopback, else false",
}


class RecordingEnviron(Mapping[str, str]):
    """An empty environment that remembers every variable asked for."""

    def __init__(self) -> None:
        self.asked: set[str] = set()

    def __getitem__(self, key: str) -> str:
        self.asked.add(key)
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        self.asked.add(str(key))
        return False

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def readme_table() -> dict[str, str]:
    """Variable -> its README default cell (a row naming two variables gives both that cell)."""
    text = (REPO / "README.md").read_text()
    section = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    table: dict[str, str] = {}
    for row in re.findall(r"^\| (`BEACONMAIL_.+?) \| (.+?) \| .+ \|$", section, re.MULTILINE):
        for name in re.findall(r"`(BEACONMAIL_[A-Z0-9_]+)`", row[0]):
            table[name] = row[1]
    return table


@pytest.fixture
def defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[set[str], dict[str, Any]]:
    """The variables the code reads and the settings it makes when none is set (in a fresh folder)."""
    monkeypatch.chdir(tmp_path)
    environ = RecordingEnviron()
    settings = load_settings(environ)
    read = {name for name in environ.asked if not name.endswith("_FILE")}
    values = {name: getattr(settings, name.removeprefix(PREFIX).lower()) for name in read}
    return read, {name: spelled(value, tmp_path) for name, value in values.items()}


def spelled(value: Any, folder: Path) -> Any:
    """A default as README writes it: paths relative to the working folder, whole seconds without .0."""
    if isinstance(value, Path):
        return f"./{value.relative_to(folder)}"
    if isinstance(value, str):
        return value.replace(str(folder), ".")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if value is None or value == ():
        return "unset"
    return value


def test_readme_lists_every_variable_the_code_reads(defaults: tuple[set[str], dict[str, Any]]) -> None:
    read, _ = defaults
    listed = set(readme_table())
    assert read - listed == set(), "read by shared/config.py but missing from README"
    assert listed - read == set(), "in README but never read by shared/config.py"


def test_readme_defaults_are_the_code_defaults(defaults: tuple[set[str], dict[str, Any]]) -> None:
    _, values = defaults
    for name, cell in readme_table().items():
        if name in COMPUTED:
            assert cell == COMPUTED[name], name
            continue
        shown = re.sub(r"`", "", cell).split(" ", 1)[0]
        expected = values[name]
        if isinstance(expected, bool):
            assert shown == str(expected).lower(), name
        elif isinstance(expected, int) and not shown.isdigit():
            assert parse_size(shown) == expected, name  # a size with its unit, e.g. 25M
        else:
            assert shown == str(expected), name


def test_login_delay_is_documented_as_pop3_login_spacing() -> None:
    """RFC 2449's LOGIN-DELAY: the least time between two logins, not a pause before a failure reply."""
    example = (REPO / ".env.example").read_text()
    comment = example.split(f"#{PREFIX}LOGIN_DELAY=", 1)[0].rsplit("\n#BEACONMAIL_", 1)[1]
    assert "RFC 2449" in comment and "between two logins" in comment
    assert "between two logins" in readme_table_meaning(f"{PREFIX}LOGIN_DELAY")


def readme_table_meaning(name: str) -> str:
    row = next(line for line in (REPO / "README.md").read_text().splitlines() if line.startswith(f"| `{name}` |"))
    return row.rsplit(" | ", 1)[1]
