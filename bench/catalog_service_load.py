"""Load the monolith's catalogue (DATABASE_URL) into a Product service through its import endpoint, with
the ACL's translators (acl_adapters.catalog.translate): categories first, then products in id order.

Used by the catalog contract test and by `make bench-catalog` to give the service exactly the monolith's
data. Runs as its own process: `python -m bench.catalog_service_load --service-url URL --token TOKEN`;
the last stdout line is a JSON summary.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence

import orjson
import requests

from contracts.cli import positive_int as positive

IMPORT_PRODUCTS = "/internal/v1/import/products"
IMPORT_CATEGORIES = "/internal/v1/import/categories"


class LoadError(Exception):
    """The service refused a batch; the message carries its answer."""


def _post(session: requests.Session, url: str, token: str, body: dict) -> dict:
    answer = session.post(
        url,
        data=orjson.dumps(body),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        timeout=120,
    )
    if answer.status_code != 200:
        raise LoadError(f"POST {url} answered {answer.status_code}: {answer.text[:300]}")
    return answer.json()


def load_catalog(
    *, service_url: str, token: str, batch_size: int = 1000, on_batch: Callable[[int], None] | None = None
) -> dict:
    """Every category and product of the monolith's database, imported; returns the counts applied."""
    from acl_adapters.catalog.translate import (
        CATEGORY_ROW_FIELDS,
        PRODUCT_ROW_FIELDS,
        category_row_to_document,
        product_row_to_document,
    )
    from legacy_monolith.catalog.models import Category, Product

    started = time.perf_counter()
    session = requests.Session()
    categories = [
        category_row_to_document(row) for row in Category.objects.order_by("id").values(*CATEGORY_ROW_FIELDS)
    ]
    applied_categories = _post(session, service_url + IMPORT_CATEGORIES, token, {"categories": categories})[
        "applied"
    ]
    rows = Product.objects.order_by("id").values(*PRODUCT_ROW_FIELDS)
    last_id, applied, stale = 0, 0, 0
    while True:
        batch = list(rows.filter(id__gt=last_id)[:batch_size])
        if not batch:
            break
        docs = [product_row_to_document(row) for row in batch]
        answer = _post(session, service_url + IMPORT_PRODUCTS, token, {"products": docs, "deleted": []})
        applied += answer["applied"]
        stale += answer["stale"]
        last_id = batch[-1]["id"]
        if on_batch:
            on_batch(len(batch))
    return {
        "categories": applied_categories,
        "products": applied,
        "stale": stale,
        "seconds": round(time.perf_counter() - started, 2),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.catalog_service_load", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--service-url", required=True)
    parser.add_argument("--token", default=os.environ.get("INTERNAL_API_TOKEN", ""))
    parser.add_argument("--batch-size", type=positive, default=1000)
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "legacy_monolith.settings")
    import django

    django.setup()
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from legacy_monolith.catalog.models import Product

    with Progress(
        TextColumn("[bold]loading the service"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        disable=args.no_progress,
        transient=True,
    ) as progress:
        task = progress.add_task("load", total=Product.objects.count())
        try:
            summary = load_catalog(
                service_url=args.service_url.rstrip("/"),
                token=args.token,
                batch_size=args.batch_size,
                on_batch=lambda n: progress.advance(task, n),
            )
        except (LoadError, requests.RequestException) as exc:
            print(f"load failed: {exc}", file=sys.stderr)
            return 2
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
