"""`manage.py sync`: the dispatcher's entities and actions, status through it, and bad options as one
line with exit code 2 (the REAL Product service of the module answers)."""

import json

import pytest
from django.core.management import ManagementUtility, call_command

from migrations_data.management.commands.sync import ENTITIES
from migrations_data.products.backfill import backfill_products
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


def test_products_have_the_five_actions():
    assert set(ENTITIES["products"]) == {"backfill", "follow", "status", "verify", "receive"}


@pytest.mark.parametrize(
    "args",
    [
        ("backfill", "--batch-size", "0"),
        ("backfill", "--in-flight", "0"),
        ("verify", "--range-size", "0"),
        ("verify", "--jobs", "0"),
    ],
)
def test_a_bad_option_is_one_line_and_exit_code_2(args, sync_client, capsys):
    with pytest.raises(SystemExit) as exited:  # the command line's path, in process
        ManagementUtility(["manage.py", "sync", "products", *args]).execute()

    assert exited.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith(
        f"sync products {args[0]}: invalid_usage: argument {args[1]}: must be at least 1"
    )


def test_status_is_in_sync_right_after_a_clean_backfill_and_counts_only_later_writes(sync_client, capsys):
    products = [ProductFactory() for _ in range(6)]  # like seed_techstore: outbox rows nobody relayed
    backfill_products(client=sync_client, batch_size=4)

    call_command("sync", "products", "status", "--check", "--json", "--queue", "h8.no-consumer-yet")
    status = json.loads(capsys.readouterr().out)
    assert (status["source_products"], status["target_products"]) == (6, 6)
    assert status["outbox_pending"] >= len(products)  # the triggers wrote them; no relay runs here
    assert status["outbox_covered_by_backfill"] == status["outbox_pending"]
    assert (status["outbox_to_relay"], status["in_sync"]) == (0, True)

    ProductFactory()  # a write after the backfill: the relay's to send
    with pytest.raises(SystemExit) as exited:
        call_command("sync", "products", "status", "--check", "--json")
    assert exited.value.code == 1
    status = json.loads(capsys.readouterr().out)
    assert status["outbox_to_relay"] >= 1
    assert status["in_sync"] is False
