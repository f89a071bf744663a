"""`make demo`: the strangler migration itself, in six phases, each ending in a table.

1. the monolith and the gateway in front of it; 2. the shopping journey through the gateway, every flag
off; 3. the Product service, `sync products backfill` (progress bar) and `verify` (0 differences);
4. `route.catalog.read` raised 0 -> 50 -> 100 %, showing which upstream answered a few users (sticky);
5. a shadow phase: product details mirrored to a candidate with one planted difference, compared, and the
report written to var/demo; 6. the rollback, `flags kill`: every read back on the monolith.

The demo is an HTTP client and a user of the commands: it imports none of the code it shows.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import requests
from rich.console import Console
from rich.table import Table

from .journey import Journey, Step
from .processes import monolith_process, sandbox_process
from .strangler_stack import SHADOW_FLAG, SHADOW_ROUTE_ID, DemoStack

CATALOG_FLAG = "route.catalog.read"
UPSTREAM_HEADER = "X-Strangler-Upstream"
DEMO_STAFF = ("staff1", "techstore-demo")  # seed_techstore's development account (a test pins it)
USERS = 6
SEED = ("--users", "20", "--products", "300", "--orders", "40", "--seed", "42")
CONSUME_ONCE = ("consume", "product_service.catalog", "--once", "--timeout", "60")


class DemoFailed(RuntimeError):
    """A phase did not show what it must (the message says what and where to look)."""


@dataclass
class DemoResult:
    phases: list[tuple[str, str, float]] = field(default_factory=list)  # (phase, outcome, seconds)
    report: Path | None = None


@dataclass
class Demo:
    stack: DemoStack
    console: Console
    result: DemoResult = field(default_factory=DemoResult)
    http: requests.Session = field(default_factory=requests.Session)
    tokens: dict[str, str] = field(default_factory=dict)  # demo user -> legacy API token

    @property
    def gateway(self) -> str:
        return self.stack.urls["gateway"]

    def run(self) -> DemoResult:
        for title, phase in (
            ("1. the monolith and the gateway", self.start_stack),
            ("2. the shopping journey through the gateway, every flag off", self.journey),
            ("3. the Product service: backfill and verify", self.product_service),
            (f"4. {CATALOG_FLAG}: 0 -> 50 -> 100 %", self.rollout),
            (f"5. shadow: {SHADOW_ROUTE_ID} mirrored to a candidate", self.shadow),
            ("6. rollback: flags kill", self.rollback),
        ):
            self.console.rule(f"[bold]{title}")
            started = time.monotonic()
            outcome = phase()
            self.result.phases.append((title, outcome, time.monotonic() - started))
        return self.result

    # --- 1 ----------------------------------------------------------------------------------------------

    def start_stack(self) -> str:
        stack, urls = self.stack, self.stack.urls
        self.say("migrating the monolith's, the shadow comparator's and the control databases (SQLite, WAL);")
        self.say("seeding TechStore; `flags create route.catalog.detail --from-route catalog.detail`")
        in_parallel(
            lambda: (
                stack.manage("migrate", "--noinput", "--database", "default"),
                stack.manage("seed_techstore", "--no-progress", *SEED),
            ),
            lambda: stack.manage("migrate", "--noinput", "--database", "shadow"),
            lambda: stack.manage("migrate", "--noinput", "--database", "control"),
            lambda: stack.manage(
                "flags", "create", SHADOW_FLAG, "--from-route", SHADOW_ROUTE_ID, "--actor", "demo"
            ),
        )
        logs = stack.var_dir / "logs"
        port = {name: int(url.rsplit(":", 1)[1]) for name, url in urls.items()}
        in_parallel(
            lambda: stack.start(sandbox_process(port=port["sandbox"], log_path=logs / "sandbox.log")),
            lambda: stack.start(
                monolith_process(port=port["monolith"], env=stack.env, log_path=logs / "monolith.log")
            ),
            lambda: stack.start(stack.gateway_process()),
        )
        table = Table(title="running")
        for column in ("process", "address", "what"):
            table.add_column(column)
        table.add_row("monolith", urls["monolith"], "gunicorn legacy_monolith.wsgi (SQLite var/demo)")
        table.add_row("sandbox", urls["sandbox"], "simulated card gateways")
        table.add_row(
            "gateway", urls["gateway"], f"python -m strangler_proxy, routes {stack.env['ROUTES_FILE']}"
        )
        self.console.print(table)
        return f"monolith, sandbox and gateway up; clients talk to {urls['gateway']}"

    # --- 2 ----------------------------------------------------------------------------------------------

    def journey(self) -> str:
        flags = json.loads(self.stack.manage("flags", "list", "--json").stdout)["flags"]
        on = [f["name"] for f in flags if f["enabled"]]
        if on:
            raise DemoFailed(f"flags on before the journey: {', '.join(on)}")
        table = Table(title=f"shopping journey through the gateway ({len(flags)} flags, all off)")
        for column in ("step", "what happened", "status", "ms"):
            table.add_column(column)

        def show(step: Step) -> None:
            table.add_row(step.name, step.detail, str(step.status), f"{step.elapsed_ms:.0f}")

        result = Journey(
            base_url=self.gateway,
            sandbox_url=self.stack.urls["sandbox"],
            webhook_secret=self.stack.env["PAYMENT_WEBHOOK_SECRET"],
            staff_username=DEMO_STAFF[0],
            staff_password=DEMO_STAFF[1],
            on_step=show,
        ).run()
        self.console.print(table)
        return f"order {result.order_number} bought for {result.order_total}, refunded {result.refunded}"

    # --- 3 ----------------------------------------------------------------------------------------------

    def product_service(self) -> str:
        self.say(f"starting the Product service on {self.stack.urls['product']} (its own SQLite database)")
        self.stack.start_service("product")
        self.say("`manage.py sync products backfill` (and the service's catalog consumer declares its queue)")
        in_parallel(
            lambda: self.stack.manage("sync", "products", "backfill", visible=True),
            lambda: self.stack.service("product", *CONSUME_ONCE),
        )
        verify = json.loads(self.stack.manage("sync", "products", "verify", "--json", "--jobs", "1").stdout)
        status = json.loads(self.stack.manage("sync", "products", "status", "--json").stdout)
        table = Table(title="sync products")
        for column in ("check", "result"):
            table.add_column(column)
        table.add_row("verify: products compared", f"{verify['source_rows']:,}")
        table.add_row("verify: differences", f"[green]{verify['differences']}[/]")
        table.add_row(
            "status: monolith / service products",
            f"{status['source_products']} / {status['target_products']}",
        )
        table.add_row("status: in sync", "[green]yes[/]" if status["in_sync"] else "[red]no[/]")
        self.console.print(table)
        if verify["differences"] or not status["in_sync"]:
            raise DemoFailed(f"the backfill left differences: {verify['differences']} (status {status})")
        return f"{status['target_products']} products copied, verify: 0 differences"

    # --- 4 ----------------------------------------------------------------------------------------------

    def rollout(self) -> str:
        users = self.demo_users()
        seen: dict[str, list[str]] = {user: [] for user in users}
        for percentage in (0, 50, 100):
            if percentage:
                self.stack.manage("flags", "rollout", CATALOG_FLAG, str(percentage), "--actor", "demo")
                self.wait_for_flag()
            for user in users:
                seen[user].append(self.upstreams_of(user))
        table = Table(title="who answered GET /api/v1/catalog/products (two requests per user)")
        for column in ("user", "0 %", "50 %", "100 %"):
            table.add_column(column)
        for user, answers in seen.items():
            table.add_row(user, *answers)
        self.console.print(table)
        half = [answers[1] for answers in seen.values()]
        if any(" / " in a for answers in seen.values() for a in answers):
            raise DemoFailed("a user was answered by both upstreams at one percentage: not sticky")
        if {answers[0] for answers in seen.values()} != {"legacy"} or {a[2] for a in seen.values()} != {
            "product"
        }:
            raise DemoFailed(f"0 % must be all legacy and 100 % all product: {seen}")
        return f"at 50 %: {half.count('product')} of {len(users)} users on the Product service, each sticky"

    def demo_users(self) -> list[str]:
        suffix = uuid.uuid4().hex[:6]
        for n in range(1, USERS + 1):
            name = f"demo-{suffix}-{n}"
            password = f"Demo-{uuid.uuid4().hex}"
            body = {"username": name, "email": f"{name}@example.com", "password": password}
            self.call("POST", "/api/v1/accounts/register", json=body, expect=201)
            token = self.call(
                "POST", "/api/v1/accounts/tokens", json={"username": name, "password": password}, expect=201
            )
            self.tokens[name] = token.json()["token"]
        return list(self.tokens)

    def upstreams_of(self, user: str, requests_per_user: int = 2) -> str:
        answered = {
            self.call("GET", "/api/v1/catalog/products?page_size=1", user=user).headers[UPSTREAM_HEADER]
            for _ in range(requests_per_user)
        }
        return " / ".join(sorted(answered))

    def wait_for_flag(self) -> None:
        """The gateway re-reads the flags file every 0.25 s (FLAGS_FILE_POLL_INTERVAL)."""
        time.sleep(0.75)

    # --- 5 ----------------------------------------------------------------------------------------------

    def shadow(self) -> str:
        stack = self.stack
        self.say(
            f"starting the candidate (the Product service again, own database) on {stack.urls['candidate']}"
        )
        stack.start_service("candidate")
        stack.manage(
            "sync",
            "products",
            "backfill",
            "--no-progress",
            env={"PRODUCT_SERVICE_URL": stack.urls["candidate"]},
        )
        planted = self.plant_difference()
        self.say(f"`flags on {SHADOW_FLAG}`: product details are mirrored to the candidate")
        stack.manage("flags", "on", SHADOW_FLAG, "--actor", "demo")
        self.wait_for_flag()
        product_ids = [planted, *self.some_products(11)]
        for user in self.tokens:
            for product_id in product_ids:
                self.call("GET", f"/api/v1/catalog/products/{product_id}", user=user)
        time.sleep(1.0)  # the copies are sent in the background, after the client's answer
        stack.manage("shadow", "worker", "--once", "--no-progress")
        report = json.loads(
            stack.manage("shadow", "report", "--route", SHADOW_ROUTE_ID, "--format", "json").stdout
        )
        html = stack.var_dir / "shadow-report.html"
        stack.manage("shadow", "report", "--format", "html", "-o", str(html))
        self.result.report = html
        [route] = report["routes"]
        real = [p for p in route["paths"] if p["real"]]
        table = Table(title=f"shadow comparison of {SHADOW_ROUTE_ID} (legacy answered every client)")
        for column in ("pairs", "match rate", "differing paths", "pairs with the difference"):
            table.add_column(column)
        table.add_row(
            str(route["samples"]),
            f"{route['match_rate']:.2f} %",
            ", ".join(p["path"] for p in real) or "-",
            ", ".join(str(p["raw"]) for p in real) or "-",
        )
        self.console.print(table)
        self.console.print(f"shadow report: [bold]{html}[/] (open it in a browser)")
        if not real or "body.price" not in {p["path"] for p in real}:
            raise DemoFailed(f"the planted price difference was not found: {route['paths']}")
        return (
            f"{route['samples']} pairs, the planted difference found ({', '.join(p['path'] for p in real)})"
        )

    def plant_difference(self) -> int:
        """A staff price change in the monolith after the candidate's backfill: the Product service gets it
        through the outbox relay and its consumer; the candidate, which nothing follows, keeps the old one."""
        staff = self.call(
            "POST",
            "/api/v1/accounts/tokens",
            json={"username": DEMO_STAFF[0], "password": DEMO_STAFF[1]},
            expect=201,
        ).json()["token"]
        product = self.call("GET", "/api/v1/catalog/products?page_size=1&ordering=id").json()["results"][0]
        price = (Decimal(product["price"]) + Decimal("1.00")).quantize(Decimal("0.01"))
        self.call(
            "PATCH",
            f"/api/v1/catalog/products/{product['id']}",
            token=staff,
            json={"price": str(price)},
            expect=200,
        )
        self.say(
            f"planted: product {product['id']} now costs {price} in the monolith (was {product['price']})"
        )
        self.stack.manage("sync", "products", "follow", "--once", "--no-progress")
        self.stack.service("product", *CONSUME_ONCE)
        served = requests.get(
            f"{self.stack.urls['product']}/api/v1/catalog/products/{product['id']}", timeout=10
        )
        if served.json().get("price") != str(price):
            raise DemoFailed(
                f"the relay did not bring the new price to the Product service: {served.text[:200]}"
            )
        self.say("`sync products follow --once` + the service's consumer: the Product service has it too")
        return int(product["id"])

    def some_products(self, count: int) -> list[int]:
        listing = self.call("GET", f"/api/v1/catalog/products?page_size={count}&page=2").json()
        return [int(p["id"]) for p in listing["results"]]

    # --- 6 ----------------------------------------------------------------------------------------------

    def rollback(self) -> str:
        self.stack.manage("flags", "kill", "--actor", "demo")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            answers = {user: self.upstreams_of(user) for user in self.tokens}
            if set(answers.values()) == {"legacy"}:
                break
            time.sleep(0.2)
        table = Table(title="after `flags kill`: who answered GET /api/v1/catalog/products")
        for column in ("user", "upstream"):
            table.add_column(column)
        for user, upstream in answers.items():
            table.add_row(user, upstream)
        self.console.print(table)
        if set(answers.values()) != {"legacy"}:
            raise DemoFailed(f"reads still reach the Product service after flags kill: {answers}")
        return "every route flag off: every read answered by the monolith again"

    # --- plumbing ---------------------------------------------------------------------------------------

    def say(self, text: str) -> None:
        self.console.print(f"[bold]•[/bold] {text}", highlight=False)

    def call(
        self,
        method: str,
        path: str,
        *,
        user: str | None = None,
        token: str | None = None,
        expect: int = 200,
        **kwargs,
    ) -> requests.Response:
        token = token or (self.tokens[user] if user else None)
        headers = {"Authorization": f"Token {token}"} if token else {}
        response = self.http.request(method, f"{self.gateway}{path}", headers=headers, timeout=15, **kwargs)
        if response.status_code != expect or "json" not in response.headers.get("Content-Type", ""):
            raise DemoFailed(
                f"{method} {path} through the gateway answered {response.status_code} "
                f"({response.headers.get('Content-Type')}), expected {expect} JSON: {response.text[:300]}"
            )
        return response


def in_parallel(*work: Callable[[], object]) -> None:
    """Run independent steps at once (processes that mostly wait); the first failure is raised."""
    with ThreadPoolExecutor(max_workers=len(work)) as pool:
        for future in [pool.submit(step) for step in work]:
            future.result()


def run(console: Console, var_dir: Path, on_stack: Callable[[DemoStack], None] | None = None) -> DemoResult:
    stack = DemoStack.prepare(var_dir)
    if on_stack:
        on_stack(stack)
    try:
        return Demo(stack, console).run()
    finally:
        stack.stop()
