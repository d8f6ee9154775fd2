"""docker-compose.yml, .env.example and the Dockerfile: validated with Debian's
docker-compose and checked against what issue 6 asks (no Docker engine needed)."""
from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from shared.config import PREFIX, Settings, load_settings

from .compose import COMPOSE_FILE, DOCKERFILE, REPO, filled_env_example, published_ports, resolved_config

LONG_RUNNING = {"smtp": {25, 587, 465}, "pop3": {110, 995}, "imap": {143, 993}, "admin": {8080}, "web": {80, 443}}
# Values .env.example shows as examples rather than as the defaults.
EXAMPLE_VALUES = {
    "hostname", "secret_key", "relay_host", "relay_user", "relay_password", "tls_cert", "tls_key", "dns_resolver", "rspamd_url",
    "acme_directory", "acme_email",
}
RUNTIME_FOLDERS = {"templates", "static", "translations"}


@pytest.fixture
def compose_config(docker_compose: str, tmp_path: Path) -> dict[str, Any]:
    env = filled_env_example(BEACONMAIL_SECRET_KEY="key-for-tests", BEACONMAIL_RELAY_HOST="relay.test:2525")
    return resolved_config(tmp_path / "project", env)["services"]


def test_docker_compose_refuses_to_start_without_the_secrets(docker_compose: str, tmp_path: Path) -> None:
    shutil.copy(COMPOSE_FILE, tmp_path / "docker-compose.yml")
    shutil.copy(REPO / ".env.example", tmp_path / ".env")
    command = [docker_compose, "config", "--quiet"]
    result = subprocess.run(command, cwd=tmp_path, check=False, capture_output=True, timeout=60)
    assert result.returncode != 0
    assert b"set BEACONMAIL_SECRET_KEY in .env" in result.stderr


def test_compose_file_has_the_topology_of_issue_6(compose_config: dict[str, Any]) -> None:
    assert set(compose_config) == {"db", "migrate", "rspamd", "resolver", *LONG_RUNNING}
    db = compose_config["db"]
    assert db["image"].startswith("postgres:") and db["healthcheck"]["test"]
    assert any(v.split(":")[:2] == ["pgdata", "/var/lib/postgresql/data"] for v in db["volumes"])
    migrate = compose_config["migrate"]
    assert migrate["command"] == ["beaconmail", "init"] and migrate["restart"] == "no"
    assert migrate["depends_on"]["db"]["condition"] == "service_healthy"
    for name, ports in LONG_RUNNING.items():
        service = compose_config[name]
        assert service["command"] == ["beaconmail", name]
        assert service["build"] == migrate["build"] and service["image"] == migrate["image"]
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert service["restart"] == db["restart"] == "unless-stopped"
        assert service["healthcheck"]["test"] == ["CMD", "python", "-m", "services.probe", name]
        assert {(p.published, p.target) for p in published_ports(service)} == {(p, p) for p in ports}
        assert service["environment"]["BEACONMAIL_RELAY_HOST"] == "relay.test:2525"  # from .env
    mounts = {name: {v.split(":")[0] for v in compose_config[name]["volumes"]} for name in LONG_RUNNING}
    assert {"mail"} <= mounts["smtp"] & mounts["pop3"] & mounts["imap"] & mounts["admin"]
    assert all("tls" in mounted for mounted in mounts.values())  # one certificate, served by all
    imap = compose_config["imap"]
    assert imap["user"] == "root"  # Dovecot drops to dovenull and the mail volume's owner itself
    assert {"dkim"} <= mounts["smtp"] & mounts["admin"]  # the portal shows the key smtp signs with


def test_compose_front_door_and_secrets(compose_config: dict[str, Any]) -> None:
    web, admin, db = compose_config["web"], compose_config["admin"], compose_config["db"]
    assert (web["environment"]["BEACONMAIL_HTTP_PORT"], web["environment"]["BEACONMAIL_HTTPS_PORT"]) == ("80", "443")
    assert [port.host_ip for port in published_ports(admin)] == ["127.0.0.1"]  # plain HTTP: this host's proxy only
    # The database password: a file for PostgreSQL, the URL as a file for ours, in no environment.
    assert db["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/postgres_password"
    assert [secret["source"] for secret in db["secrets"]] == ["postgres_password"]
    for name in ("migrate", *LONG_RUNNING):
        service = compose_config[name]
        assert service["environment"]["BEACONMAIL_DATABASE_URL_FILE"] == "/run/secrets/database_url", name
        assert [secret["source"] for secret in service["secrets"]] == ["database_url"], name
        assert not any("POSTGRES_PASSWORD" in key or key.endswith("_DATABASE_URL") for key in service["environment"]), name


def test_compose_wires_rspamd_and_the_resolver_to_smtp(compose_config: dict[str, Any]) -> None:
    smtp, resolver = compose_config["smtp"], compose_config["resolver"]
    assert smtp["environment"]["BEACONMAIL_RSPAMD_URL"] == "http://rspamd:11333"
    resolver_ip = resolver["networks"]["default"]["ipv4_address"]
    assert smtp["environment"]["BEACONMAIL_DNS_RESOLVER"] == f"{resolver_ip}:53"
    assert smtp["environment"]["BEACONMAIL_DATABASE_URL_FILE"] == compose_config["pop3"]["environment"]["BEACONMAIL_DATABASE_URL_FILE"]
    for name, port in (("rspamd", "11333"), ("resolver", "53")):
        assert "ports" not in compose_config[name]  # reachable on the compose network only
        assert port in (REPO / "deploy" / name / "Dockerfile").read_text()
    assert "apt-get install" in (REPO / "deploy" / "rspamd" / "Dockerfile").read_text()


def documented_variables() -> dict[str, str]:
    text = (REPO / ".env.example").read_text()
    return dict(re.findall(rf"^#?({PREFIX}[A-Z0-9_]+)=(.*)$", text, re.MULTILINE))


def test_env_example_documents_real_settings_with_their_defaults(tmp_path: Path) -> None:
    documented = documented_variables()
    fields = {field.name for field in dataclasses.fields(Settings)}
    assert {name.removeprefix(PREFIX).lower() for name in documented} <= fields
    base = {f"{PREFIX}DATA_DIR": str(tmp_path), f"{PREFIX}SECRET_KEY": "x", f"{PREFIX}BIND": "0.0.0.0"}
    defaults = load_settings(base)
    # ACME and a certificate of one's own are alternatives: both are shown, one at a time is set.
    alternatives = {f"{PREFIX}ACME_DIRECTORY"}
    shown = load_settings(base | {name: value for name, value in documented.items() if value and name not in alternatives})
    load_settings(base | {name: documented[name] for name in alternatives})
    for name in documented:
        field = name.removeprefix(PREFIX).lower()
        if field not in EXAMPLE_VALUES:
            assert getattr(shown, field) == getattr(defaults, field), name
    required = dict(re.findall(r"^([A-Z_]+)=(.*)$", (REPO / ".env.example").read_text(), re.MULTILINE))
    assert required[f"{PREFIX}SECRET_KEY"] == ""  # no secret ships
    assert "POSTGRES_PASSWORD" not in required  # a secret file, or every container would get it


def dockerfile_stages() -> list[str]:
    return re.split(r"^(?=FROM )", DOCKERFILE.read_text(), flags=re.MULTILINE)[1:]


def test_dockerfile_builds_a_slim_non_root_image_without_build_tools_or_secrets() -> None:
    stages = dockerfile_stages()
    assert len(stages) >= 2, "multi-stage: build tools stay in the build stage"
    final = stages[-1]
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)", DOCKERFILE.read_text(), re.MULTILINE)
    assert base and "slim" in base.group(1) and final.startswith("FROM ${PYTHON_IMAGE}")
    user = re.findall(r"^USER (\S+)", final, re.MULTILINE)
    assert user and user[-1].split(":")[0] not in ("root", "0")
    assert "COPY --from=build" in final
    assert not re.search(r"gcc|build-essential|pip install", final)
    installed = [line.split("apt-get install", 1)[1].split() for line in final.splitlines() if "apt-get install" in line]
    packages = [{word for word in words if word[0].isalpha()} for words in installed]
    assert packages == [{"dovecot-imapd", "dovecot-pgsql"}]  # Debian's, for imap: nothing to build with
    assert not re.search(r"^(ENV|ARG)\b.*(SECRET|PASSWORD)", DOCKERFILE.read_text(), re.MULTILINE)
    ignored = [line for line in (REPO / ".dockerignore").read_text().splitlines() if line and not line.startswith("#")]
    assert ignored[0] == "*" and not any(".env" in line for line in ignored if line.startswith("!"))


def test_the_image_gets_every_file_the_services_need(tmp_path: Path) -> None:
    """Build the package from exactly what the Dockerfile copies, the way `pip install /src` does."""
    pytest.importorskip("setuptools", reason="building the package needs setuptools in this venv")
    source = tmp_path / "src"
    for copied in re.findall(r"^COPY (?!--)(.+) /src/\S*$", dockerfile_stages()[0], re.MULTILINE):
        for name in copied.split():
            path = REPO / name
            target = source / name
            if path.is_dir():
                shutil.copytree(path, target, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(path, target)
    built = tmp_path / "lib"
    result = subprocess.run(
        [sys.executable, "-c", "from setuptools import setup; setup()", "-q", "build_py", "--build-lib", str(built)],
        cwd=source, check=False, capture_output=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr.decode()
    needed = {
        path.relative_to(REPO)
        for package in ("shared", "services")
        for path in (REPO / package).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
        and (path.suffix in (".py", ".mako", ".ini") or RUNTIME_FOLDERS & set(path.parts))
    }
    packaged = {path.relative_to(built) for path in built.rglob("*") if path.is_file()}
    assert sorted(needed - packaged) == []
