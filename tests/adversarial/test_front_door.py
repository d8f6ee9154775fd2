"""The front door's plain HTTP port, attacked over raw sockets: a challenge path that climbs out
of the challenge folder or names no challenge of ours gets 404 (never a file), and no Host
header or request target can make the redirect lead anywhere but to one of our names."""
from __future__ import annotations

import dataclasses
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.admin.front import FrontServer, KnownNames, start_front
from shared.runtime.acme import challenge_folder
from tests.conftest import base_settings

HOSTNAME = "mx.test.example"
SECRET = "the-secret-key-nobody-may-read"


@pytest.fixture
def front(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    (tmp_path / "data").mkdir()
    settings = dataclasses.replace(
        base_settings(tmp_path / "data", secret_key=SECRET), http_port=0, https_port=8443, hostname=HOSTNAME
    )
    (settings.data_dir / "secret_key").write_text(SECRET)
    challenge_folder(settings).mkdir(parents=True)
    names = KnownNames(HOSTNAME)
    names.replace(["autoconfig.corp.example"])
    server: FrontServer = start_front(settings, names)
    try:
        yield server.server_address[1], settings.data_dir
    finally:
        server.shutdown()
        server.server_close()


def exchange(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
            if b"\r\n\r\n" in answer and answer.split(b"\r\n\r\n", 1)[0].startswith(b"HTTP/1.1 308"):
                break
            if b"Content-Length: " in answer and answer.endswith(b"\n") and b"\r\n\r\n" in answer:
                head, body = answer.split(b"\r\n\r\n", 1)
                length = int(head.split(b"Content-Length: ", 1)[1].split(b"\r\n", 1)[0])
                if len(body) >= length:
                    break
        return answer


def get(port: int, target: str, host: str = HOSTNAME) -> bytes:
    return exchange(port, f"GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())


@pytest.mark.parametrize(
    "path",
    [
        "../secret_key", "../../secret_key", "../../../secret_key", "../../../../secret_key",
        "..%2f..%2f..%2fsecret_key", "%2e%2e/%2e%2e/%2e%2e/secret_key", "/etc/passwd", "....//....//secret_key",
    ],
)
def test_a_challenge_path_never_reads_a_file_outside_the_challenges(front: tuple[int, Path], path: str) -> None:
    port, _data = front
    answer = get(port, f"/.well-known/acme-challenge/{path}")
    assert answer.startswith(b"HTTP/1.1 404"), answer[:200]
    assert SECRET.encode() not in answer and b"root:" not in answer


def test_an_unknown_token_is_404_and_a_published_one_is_answered(front: tuple[int, Path]) -> None:
    port, data = front
    token = "k" * 43
    assert get(port, f"/.well-known/acme-challenge/{token}").startswith(b"HTTP/1.1 404")
    (data / "tls" / "acme" / "challenges" / token).write_bytes(b"token.thumbprint")
    answer = get(port, f"/.well-known/acme-challenge/{token}")
    assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"\r\n\r\ntoken.thumbprint")


def location(answer: bytes) -> str:
    assert answer.startswith(b"HTTP/1.1 308"), answer[:200]
    for line in answer.split(b"\r\n"):
        if line.lower().startswith(b"location:"):
            return line.split(b":", 1)[1].strip().decode()
    raise AssertionError(answer)


@pytest.mark.parametrize(
    ("host", "target"),
    [
        ("evil.example", "/login"),
        ("evil.example:443", "/login"),
        (f"{HOSTNAME}.evil.example", "/login"),
        (f"{HOSTNAME}@evil.example", "/login"),
        ("evil.example\\@" + HOSTNAME, "/login"),
        (HOSTNAME, "http://evil.example/login"),
        (HOSTNAME, "//evil.example/login"),
        ("", "/login"),
    ],
)
def test_the_redirect_never_leads_to_a_host_the_client_names(front: tuple[int, Path], host: str, target: str) -> None:
    port, _data = front
    found = location(get(port, target, host))
    assert found.startswith(f"https://{HOSTNAME}:8443/"), found
    assert "evil" not in found.split("/", 3)[2]


def test_our_other_names_are_kept_in_the_redirect(front: tuple[int, Path]) -> None:
    port, _data = front
    assert location(get(port, "/mail/config-v1.1.xml", "autoconfig.corp.example")) == (
        "https://autoconfig.corp.example:8443/mail/config-v1.1.xml"
    )


def test_other_methods_are_redirected_too(front: tuple[int, Path]) -> None:
    port, _data = front
    request = "POST /api/v1/domains HTTP/1.1\r\nHost: evil.example\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
    assert location(exchange(port, request.encode())) == f"https://{HOSTNAME}:8443/api/v1/domains"
