"""Admin portal at scale: the mailbox list (first page, a random page) and search (by address,
by name) as a global admin sees them, p50/p95 at 100,000 and 500,000 mailboxes, through the
Flask test client of services.admin.create_app (pages and the JSON API; read-only).

    python -m bench.admin_scale [--sizes 100000 500000] [--backends sqlite postgresql]
"""
from __future__ import annotations

import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from flask.testing import FlaskClient

from bench import beacon, bulk_mailboxes, common, machine, report
from services.admin import create_app
from shared.accounts import create_mailbox, grant_role
from shared.accounts.tokens import create_token
from shared.accounts.views import CONSOLE

ADMIN = f"admin@{beacon.DOMAIN}"
REQUESTS_PER_KIND = 8
PAGE_SIZE = 50
_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


@dataclass(frozen=True)
class Request:
    kind: str
    path: Callable[[random.Random], str]
    api: bool = False


def requests_for(size: int) -> list[Request]:
    # A page deep in the list is reached by its cursor, the address before it: the Next links
    # and the API's `next` carry one (?page=N of older links pays OFFSET and is not measured).
    return [
        Request("page list first", lambda r: "/mailboxes/"),
        Request("page list random page", lambda r: f"/mailboxes/?after={random_address(r, size)}"),
        Request("page search address", lambda r: f"/mailboxes/?q=user{r.randrange(size)}%40"),
        Request("page search name", lambda r: f"/mailboxes/?q={r.choice(bulk_mailboxes.LAST_NAMES).lower()}"),
        Request("api list first", lambda r: "/api/v1/mailboxes?limit=50", api=True),
        Request("api list random page", lambda r: f"/api/v1/mailboxes?after={random_address(r, size)}&limit=50", api=True),
        Request("api search address", lambda r: f"/api/v1/mailboxes?search=user{r.randrange(size)}%40&limit=50", api=True),
        Request("api search name", lambda r: f"/api/v1/mailboxes?search={r.choice(bulk_mailboxes.LAST_NAMES).lower()}&limit=50", api=True),
    ]


def random_address(chooser: random.Random, size: int) -> str:
    return f"user{chooser.randrange(size)}%40{beacon.DOMAIN}"


def _logged_in_client(app: object) -> FlaskClient:
    client = app.test_client()  # type: ignore[attr-defined]
    page = client.get("/login").get_data(as_text=True)
    token = _CSRF.search(page)
    form = {"address": ADMIN, "password": beacon.PASSWORD, "csrf_token": token.group(1) if token else ""}
    answer = client.post("/login", data=form)
    if answer.status_code != 302:
        raise RuntimeError(f"admin login failed: HTTP {answer.status_code}")
    return client


def measure_size(instance: beacon.BeaconInstance, size: int, runs: int, per_kind: int) -> list[report.Series]:
    app = create_app(instance.settings, database=instance.db)
    client = _logged_in_client(app)
    bearer = {"Authorization": f"Bearer {create_token(instance.db, ADMIN, name='bench', actor=CONSOLE).secret}"}
    samples: dict[str, list[list[float]]] = {}
    requests = requests_for(size)
    for request in requests:  # warm-up: templates, statement caches, database pages
        client.get(request.path(random.Random(0)), headers=bearer if request.api else None)
    for seed in range(runs):
        chooser = random.Random(seed)
        for request in requests:
            latencies = []
            for _ in range(per_kind):
                path = request.path(chooser)
                began = time.perf_counter()
                answer = client.get(path, headers=bearer if request.api else None)
                latencies.append(time.perf_counter() - began)
                if answer.status_code != 200:
                    raise RuntimeError(f"GET {path}: HTTP {answer.status_code}")
            samples.setdefault(request.kind, []).append(latencies)
    name = f"beacon-{instance.backend} {size}"
    found = []
    for kind, runs_of_kind in samples.items():
        found.append(report.Series(f"{name} {kind} p50", "ms", tuple(1000 * report.percentile(r, 0.5) for r in runs_of_kind)))
        found.append(report.Series(f"{name} {kind} p95", "ms", tuple(1000 * report.percentile(r, 0.95) for r in runs_of_kind)))
    return found


def main() -> None:
    args = common.parser(__doc__.splitlines()[0])
    args.add_argument("--sizes", type=int, nargs="+", default=[100_000, 500_000])
    args.add_argument("--backends", nargs="+", default=list(beacon.BACKENDS), choices=beacon.BACKENDS)
    options = args.parse_args()
    sizes = [200, 1000] if options.quick else sorted(options.sizes)
    per_kind = 3 if options.quick else REQUESTS_PER_KIND
    machine.print_machine(options.work_dir)
    report.print_workload("admin list and search", sizes=sizes, requests_per_kind_per_run=per_kind, page_size=PAGE_SIZE)
    series: list[report.Series] = []
    for backend in options.backends:
        with beacon.beacon_instance(options.work_dir, backend) as instance:
            create_mailbox(instance.db, ADMIN, beacon.password_hash(), password_is_hash=True, actor=CONSOLE)
            grant_role(instance.db, ADMIN, global_admin=True, actor=CONSOLE)
            made = 0
            for size in sizes:
                took = bulk_mailboxes.create_mailboxes(instance.db, made, size - made)
                print(f"  beacon-{backend}: {size} mailboxes ({size - made} inserted in {took:.1f} s)", flush=True)
                made = size
                found = measure_size(instance, size, options.runs, per_kind)
                for item in found:
                    print(item.line(), flush=True)
                series += found
    report.record(options.results, "admin_scale", series, echo=False)


if __name__ == "__main__":
    main()
