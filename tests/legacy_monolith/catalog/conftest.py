"""A small storefront catalog the listing tests filter, search and sort."""

from decimal import Decimal

import pytest

from tests.factories import CategoryFactory, ProductFactory


@pytest.fixture
def storefront(db):
    """Four active products in three categories (laptops is a child of computers) and an inactive one."""
    computers = CategoryFactory(slug="computers", name="Computers")
    laptops = CategoryFactory(slug="laptops", name="Laptops", parent=computers)
    phones = CategoryFactory(slug="phones", name="Phones")
    specs = [
        (
            "LAP-1",
            "Ultrabook 13",
            laptops,
            "999.00",
            5,
            {"brand": "Acme", "color": "silver", "ram_gb": 16, "touch": True},
        ),
        (
            "LAP-2",
            "Gaming Beast",
            laptops,
            "1999.99",
            0,
            {"brand": "Zeta", "color": "black", "ram_gb": 32, "touch": False},
        ),
        (
            "PC-1",
            "Tower Desktop",
            computers,
            "750.00",
            2,
            {"brand": "Acme", "color": "black", "ram_gb": "16"},
        ),
        ("PH-1", "Phone X", phones, "499.50", 10, {"brand": "Zeta", "color": "black", "screen": 6.1}),
    ]
    products = {
        sku: ProductFactory(
            sku=sku, name=name, category=category, price=Decimal(price), stock=stock, attributes=attributes
        )
        for sku, name, category, price, stock, attributes in specs
    }
    products["PH-1"].description = "Comes with a silver case"
    products["PH-1"].save(update_fields=["description"])
    products["PH-2"] = ProductFactory(
        sku="PH-2",
        name="Old Phone",
        category=phones,
        price=Decimal("99.00"),
        stock=3,
        attributes={"color": "silver"},
        is_active=False,
    )
    return products
