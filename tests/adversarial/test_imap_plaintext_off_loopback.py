"""A password before TLS from a client that is not on loopback: Dovecot offers LOGINDISABLED and
refuses LOGIN until STARTTLS (loopback may log in before TLS, test_imap_accounts shows).

The client needs an address of its own off loopback: a network namespace joined to this one by
a veth pair, Dovecot listening on this side's end and imaplib run inside the namespace. Needs
root (or CAP_NET_ADMIN) and iproute2; skipped without them, except under CI=true, whose
runner is root on this kind of machine."""
from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from shared.runtime.tls import ensure_tls_pair
from tests.conftest import require_programs
from tests.integration.imap.conftest import ImapWorld, running_world
from tests.integration.imap.support import CLIENT_TIMEOUT, PASSWORD

from .support import skip_unless_in_ci

pytestmark = pytest.mark.integration
# A /30 of 10.231.0.0/16 per test process: parallel runs on one machine take different ones.
LINK_NETWORKS = list(ipaddress.ip_network("10.231.0.0/16").subnets(new_prefix=30))

# Runs inside the namespace: the answers imaplib got, as JSON on stdout.
CLIENT = """
import imaplib, json, ssl, sys
host, port, user, password, cafile, timeout = sys.argv[1:]
client = imaplib.IMAP4(host, int(port), timeout=float(timeout))
seen = {"capabilities": sorted(client.capabilities)}
try:
    seen["plaintext_login"] = client.login(user, password)[0]
    print(json.dumps(seen))  # logged in without TLS: nothing more to try
    sys.exit()
except imaplib.IMAP4.error as exc:
    seen["plaintext_login"] = "refused: " + str(exc)
context = ssl.create_default_context(cafile=cafile)
context.check_hostname = False  # the test certificate names the host, not this link's address
client.starttls(context)
seen["tls_capabilities"] = sorted(client.capabilities)
seen["tls_login"] = client.login(user, password)[0]
client.logout()
print(json.dumps(seen))
"""


@dataclass(frozen=True)
class Link:
    namespace: str
    host_address: str  # this side's end, where Dovecot listens


def ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)


@pytest.fixture(scope="module")
def link() -> Iterator[Link]:
    require_programs("ip", install_hint="apt install iproute2")
    tag = uuid.uuid4().hex[:8]
    namespace, outside, inside = f"bm-{tag}", f"bmo{tag}", f"bmi{tag}"
    network = LINK_NETWORKS[os.getpid() % len(LINK_NETWORKS)]
    host_address, client_address = (str(address) for address in network.hosts())
    made = ip("netns", "add", namespace)
    if made.returncode != 0:
        skip_unless_in_ci(f"cannot make a network namespace (needs root or CAP_NET_ADMIN): {made.stderr.strip()}")
    try:
        for step in (
            ("link", "add", outside, "type", "veth", "peer", "name", inside),
            ("link", "set", inside, "netns", namespace),
            ("addr", "add", f"{host_address}/30", "dev", outside),
            ("link", "set", outside, "up"),
            ("-n", namespace, "addr", "add", f"{client_address}/30", "dev", inside),
            ("-n", namespace, "link", "set", inside, "up"),
        ):
            done = ip(*step)
            assert done.returncode == 0, f"ip {' '.join(step)}: {done.stderr}"
        yield Link(namespace, host_address)
    finally:
        ip("link", "del", outside)  # takes its peer in the namespace with it
        ip("netns", "del", namespace)


@pytest.fixture(scope="module")
def remote_world(request: pytest.FixtureRequest, link: Link) -> Iterator[ImapWorld]:
    """Dovecot on the link's address (the database does not matter here: SQLite)."""
    with running_world(request, "sqlite", bind=link.host_address) as world:
        yield world


def test_a_client_off_loopback_sees_logindisabled_and_logs_in_only_after_starttls(
    remote_world: ImapWorld, link: Link
) -> None:
    address, _id = remote_world.new_mailbox()
    cert, _key = ensure_tls_pair(remote_world.settings)
    arguments = [link.host_address, str(remote_world.settings.imap_port), address, PASSWORD, str(cert), str(CLIENT_TIMEOUT)]
    done = subprocess.run(
        ["ip", "netns", "exec", link.namespace, sys.executable, "-c", CLIENT, *arguments],
        capture_output=True, text=True, timeout=2 * CLIENT_TIMEOUT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert "LOGINDISABLED" in seen["capabilities"] and "STARTTLS" in seen["capabilities"]
    assert seen["plaintext_login"].startswith("refused: "), seen
    assert "LOGINDISABLED" not in seen["tls_capabilities"]
    assert seen["tls_login"] == "OK"  # the account was fine: only the missing TLS was refused
