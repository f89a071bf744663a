"""Seed the default shipping rate table (FR, DE, BE, US by weight band) so a fresh install can quote.

Bands are half-open: min_weight_grams <= weight < max_weight_grams, NULL max meaning "and above".
A rule with a postal prefix (Corsica, overseas France, Hawaii) beats the country-wide rule.
"""

from decimal import Decimal

from django.db import migrations

# (name, country, postal_prefix, min g, max g or None, price, carrier, delivery days)
DEFAULT_RULES = [
    ("FR standard 0-1 kg", "FR", "", 0, 1000, "4.90", "colissimo", 2),
    ("FR standard 1-5 kg", "FR", "", 1000, 5000, "7.90", "colissimo", 2),
    ("FR standard 5-30 kg", "FR", "", 5000, 30000, "14.90", "colissimo", 3),
    ("FR freight 30 kg+", "FR", "", 30000, None, "39.00", "geodis", 5),
    ("FR Corsica 0-5 kg", "FR", "20", 0, 5000, "9.90", "colissimo", 4),
    ("FR Corsica 5 kg+", "FR", "20", 5000, None, "24.90", "colissimo", 5),
    ("FR overseas", "FR", "97", 0, None, "29.90", "colissimo", 8),
    ("DE standard 0-2 kg", "DE", "", 0, 2000, "6.90", "dhl", 3),
    ("DE standard 2-10 kg", "DE", "", 2000, 10000, "9.90", "dhl", 3),
    ("DE heavy 10 kg+", "DE", "", 10000, None, "19.90", "dhl", 4),
    ("BE standard 0-2 kg", "BE", "", 0, 2000, "6.50", "bpost", 2),
    ("BE standard 2-10 kg", "BE", "", 2000, 10000, "9.50", "bpost", 2),
    ("BE heavy 10 kg+", "BE", "", 10000, None, "18.50", "bpost", 3),
    ("US international 0-1 kg", "US", "", 0, 1000, "19.90", "ups", 6),
    ("US international 1-5 kg", "US", "", 1000, 5000, "34.90", "ups", 6),
    ("US international 5 kg+", "US", "", 5000, None, "59.90", "ups", 8),
    ("US Hawaii (967)", "US", "967", 0, None, "79.90", "ups", 10),
    ("US Hawaii (968)", "US", "968", 0, None, "79.90", "ups", 10),
]


def seed_rules(apps, schema_editor):
    ShippingRule = apps.get_model("orders", "ShippingRule")
    for name, country, prefix, low, high, price, carrier, days in DEFAULT_RULES:
        ShippingRule.objects.get_or_create(
            name=name,
            country=country,
            defaults={
                "postal_prefix": prefix,
                "min_weight_grams": low,
                "max_weight_grams": high,
                "price": Decimal(price),
                "carrier": carrier,
                "delivery_days": days,
            },
        )


def unseed_rules(apps, schema_editor):
    ShippingRule = apps.get_model("orders", "ShippingRule")
    for name, country, *_ in DEFAULT_RULES:
        ShippingRule.objects.filter(name=name, country=country).delete()


class Migration(migrations.Migration):
    dependencies = [("orders", "0002_order_request_hash_coupon_code_ignoring_case")]

    operations = [migrations.RunPython(seed_rules, unseed_rules)]
