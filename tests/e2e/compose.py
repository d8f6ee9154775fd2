"""docker-compose.yml without Docker: each service's command runs as a local process with
that service's environment, as `docker-compose config` resolves it from the file and .env.

What a container would provide is mapped onto this machine: the `db` service is the
PostgreSQL server on 127.0.0.1:5432 (a fresh database per test), each published port
becomes a free loopback port, each container gets a root folder of its own in which the
named volumes are shared folders, and the healthchecks are run to know when a service is up.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.engine import make_url

from tests.ports import reserve_ports

from .processes import VENV_BIN, ProcessTracker, Started

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
DB_SERVICE = "db"
# Components not of our image that the topology does not start: the test database stands in for
# `db`; rspamd and the resolver have tests of their own (tests/rspamd/, tests/dnsserver.py), and
# the services' variables that point at them are left out here (no scanning, the system's DNS).
EXTERNAL_SERVICES = {DB_SERVICE, "rspamd", "resolver"}
EXTERNAL_VARIABLES = {"BEACONMAIL_RSPAMD_URL", "BEACONMAIL_DNS_RESOLVER"}
POSTGRES_PORT = 5432
HEALTH_TIMEOUT = 60.0
ONE_SHOT_TIMEOUT = 120.0


def resolved_config(project: Path, env_text: str) -> dict[str, Any]:
    """`docker-compose config` of a copy of the repository's compose file with `env_text` as .env."""
    project.mkdir(parents=True, exist_ok=True)
    shutil.copy(COMPOSE_FILE, project / "docker-compose.yml")
    shutil.copytree(REPO / "deploy", project / "deploy", dirs_exist_ok=True)
    (project / ".env").write_text(env_text)
    result = subprocess.run(
        ["docker-compose", "--project-directory", str(project), "-f", str(project / "docker-compose.yml"), "config"],
        check=False, capture_output=True, timeout=60, cwd=project,
    )
    assert result.returncode == 0, result.stderr.decode()
    config: dict[str, Any] = yaml.safe_load(result.stdout)
    return config


def filled_env_example(**values: str) -> str:
    """.env.example with `values` set: the documented file is what the deployment reads."""
    text = (REPO / ".env.example").read_text()
    for name, value in values.items():
        pattern = rf"^#?{name}=.*$"
        if re.search(pattern, text, re.MULTILINE):
            text = re.sub(pattern, f"{name}={value}", text, count=1, flags=re.MULTILINE)
        else:
            text += f"{name}={value}\n"
    return text


def image_workdir() -> str:
    """The final stage's WORKDIR: where a container's command starts."""
    return re.findall(r"^WORKDIR\s+(\S+)", DOCKERFILE.read_text(), re.MULTILINE)[-1]


@dataclass(frozen=True)
class PublishedPort:
    host_ip: str | None
    published: int
    target: int


def published_ports(entry: dict[str, Any]) -> list[PublishedPort]:
    """A service's `ports`, which `docker-compose config` gives in long form, except those bound
    to one host address (`IP:PUBLISHED:TARGET`), which it leaves as written."""
    ports = []
    for port in entry.get("ports", []):
        if isinstance(port, dict):
            ports.append(PublishedPort(port.get("host_ip"), int(port["published"]), int(port["target"])))
        else:
            host_ip, published, target = str(port).rsplit(":", 2)
            ports.append(PublishedPort(host_ip, int(published), int(target.removesuffix("/tcp"))))
    return ports


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    command: list[str]
    environment: dict[str, str]
    healthcheck: list[str] | None
    published: list[int]  # container ports
    volumes: list[tuple[str, str]]  # (named volume, mount point)
    depends_on: dict[str, str]  # service -> condition
    secrets: list[str]  # mounted at /run/secrets/NAME

    @classmethod
    def of(cls, name: str, entry: dict[str, Any]) -> ServiceSpec:
        """From `docker-compose config` output, where ports and dependencies are in long form."""
        volumes = [
            (volume["source"], volume["target"]) if isinstance(volume, dict) else tuple(volume.split(":")[:2])
            for volume in entry.get("volumes", [])
        ]
        return cls(
            name=name,
            command=list(entry.get("command", [])),
            environment={key: str(value) for key, value in entry.get("environment", {}).items()},
            healthcheck=entry.get("healthcheck", {}).get("test"),
            published=[port.target for port in published_ports(entry)],
            volumes=volumes,
            depends_on={dep: spec["condition"] for dep, spec in entry.get("depends_on", {}).items()},
            secrets=[secret["source"] if isinstance(secret, dict) else secret for secret in entry.get("secrets", [])],
        )

    def check_ports_are_configured(self) -> None:
        """A published port must be one the service is told to listen on, or nothing answers there."""
        configured = {int(value) for key, value in self.environment.items() if key.endswith("_PORT")}
        assert set(self.published) <= configured, f"{self.name} publishes {self.published}, listens on {configured}"


def health_argv(test: list[str]) -> list[str]:
    kind, *rest = test
    if kind == "CMD":
        return rest
    assert kind == "CMD-SHELL", test
    return ["/bin/sh", "-c", rest[0]]


class ComposeTopology:
    def __init__(self, config: dict[str, Any], root: Path, database_url: str, processes: ProcessTracker) -> None:
        self.specs = {name: ServiceSpec.of(name, entry) for name, entry in config["services"].items()}
        for spec in self.specs.values():
            spec.check_ports_are_configured()
        self.root, self.database_url, self.processes = root, database_url, processes
        published = sorted({port for spec in self.specs.values() for port in spec.published})
        self.port_map = dict(zip(published, reserve_ports(len(published)), strict=True))
        self.started: dict[str, Started] = {}
        # Made once, before any service starts: a secret file rewritten (truncated, then written)
        # at each environment() call was read empty by a service starting meanwhile.
        for name, spec in self.specs.items():
            if name not in EXTERNAL_SERVICES:
                self.furnish_container(spec)

    def container_root(self, spec: ServiceSpec) -> Path:
        """The service's own filesystem (see furnish_container)."""
        return self.root / "containers" / spec.name

    def furnish_container(self, spec: ServiceSpec) -> None:
        """The service's filesystem: its named volumes as links to shared folders, its secrets."""
        root = self.container_root(spec)
        for volume, target in spec.volumes:
            shared = self.root / "volumes" / volume
            shared.mkdir(parents=True, exist_ok=True)
            link = root / target.lstrip("/")
            link.parent.mkdir(parents=True, exist_ok=True)
            if not link.is_symlink():
                link.symlink_to(shared, target_is_directory=True)
        (root / image_workdir().lstrip("/")).mkdir(parents=True, exist_ok=True)
        for secret in spec.secrets:
            self.write_secret(root / "run" / "secrets" / secret, secret)

    def write_secret(self, path: Path, secret: str) -> None:
        """What the admin puts in ./secrets: here the database URL is the test database's."""
        assert secret == "database_url", f"no test value for the secret {secret}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.database_url + "\n")
        path.chmod(0o600)

    def environment(self, spec: ServiceSpec) -> dict[str, str]:
        root = self.container_root(spec)
        local = {
            "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
            "HOME": str(root / image_workdir().lstrip("/")),
            "LANG": "C.UTF-8",
        }
        for name, value in spec.environment.items():
            if name not in EXTERNAL_VARIABLES:
                local[name] = self.local_value(name, value, root)
        return local

    def local_value(self, name: str, value: str, root: Path) -> str:
        if name == "BEACONMAIL_DATABASE_URL":
            url = make_url(value)
            assert (url.host, url.port or POSTGRES_PORT) == (DB_SERVICE, POSTGRES_PORT), value
            return self.database_url
        if name == "BEACONMAIL_BIND":
            return "127.0.0.1"
        if name.startswith("BEACONMAIL_") and name.endswith("_PORT") and int(value) in self.port_map:
            return str(self.port_map[int(value)])
        if value.startswith("/"):
            return str(root / value.lstrip("/"))
        return value

    def cwd(self, spec: ServiceSpec) -> Path:
        return self.container_root(spec) / image_workdir().lstrip("/")

    def run_to_completion(self, service: str) -> None:
        """A one-shot service (`migrate`): its command must succeed before its dependents start."""
        spec = self.specs[service]
        result = subprocess.run(
            spec.command, env=self.environment(spec), cwd=self.cwd(spec),
            check=False, capture_output=True, timeout=ONE_SHOT_TIMEOUT,
        )
        assert result.returncode == 0, f"{service}: {result.stderr.decode()[-3000:]}"

    def start(self, service: str) -> Started:
        spec = self.specs[service]
        started = self.processes.start(service, spec.command, env=self.environment(spec), cwd=self.cwd(spec))
        self.started[service] = started
        return started

    def wait_healthy(self, services: list[str]) -> None:
        """Run each service's healthcheck until it passes, as Docker would (only more often)."""
        waiting = list(services)
        deadline = time.monotonic() + HEALTH_TIMEOUT
        while waiting:
            for service in list(waiting):
                spec, started = self.specs[service], self.started[service]
                assert spec.healthcheck, f"{service} has no healthcheck"
                assert started.process.poll() is None, started.describe()
                check = subprocess.run(health_argv(spec.healthcheck), env=self.environment(spec), cwd=self.cwd(spec),
                                       check=False, capture_output=True, timeout=30)
                if check.returncode == 0:
                    waiting.remove(service)
                elif time.monotonic() > deadline:
                    raise AssertionError(f"{service} unhealthy: {check.stderr.decode()}\n{started.describe()}")
            time.sleep(0.1 if waiting else 0)

    def up(self) -> None:
        """Start in dependency order: one-shots run to completion, the others until healthy."""
        done, pending = set(EXTERNAL_SERVICES), [name for name in self.specs if name not in EXTERNAL_SERVICES]
        one_shots = {dep for spec in self.specs.values() for dep, cond in spec.depends_on.items()
                     if cond == "service_completed_successfully"}
        while pending:
            level = [name for name in pending if set(self.specs[name].depends_on) <= done]
            assert level, f"dependency cycle among {pending}"
            for name in level:
                if name in one_shots:
                    self.run_to_completion(name)
                else:
                    self.start(name)
            self.wait_healthy([name for name in level if name not in one_shots])
            done |= set(level)
            pending = [name for name in pending if name not in done]

    def published_port(self, container_port: int) -> int:
        return self.port_map[container_port]

    def data_dir(self, service: str) -> Path:
        return Path(self.environment(self.specs[service])["BEACONMAIL_DATA_DIR"])
