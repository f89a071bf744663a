"""Seed users: customers with realistic names, plus a few staff and one admin for the back office.

Every seeded user shares ONE real PBKDF2 hash of DEMO_PASSWORD, made once per run: hashing per user
would cost about a second each at Django's iteration count.
"""

from __future__ import annotations

import random
import re
from datetime import datetime, timedelta

from django.contrib.auth.hashers import make_password
from django.utils.text import slugify
from faker import Faker

from legacy_monolith.accounts.models import Role, User
from legacy_monolith.accounts.roles import role_group_get

from .base import DEMO_PASSWORD, SEED_EMAIL_DOMAIN, Progress, bulk_insert

# The back-office accounts the demo and the docs log in with (password: DEMO_PASSWORD).
BACK_OFFICE = (("admin", Role.ADMIN), ("staff1", Role.STAFF), ("staff2", Role.STAFF), ("staff3", Role.STAFF))
# Most customers joined one to three years ago; the rest during the last year.
LONG_STANDING_SHARE = 0.8


def seeded_users():
    return User.objects.filter(email__endswith=f"@{SEED_EMAIL_DOMAIN}")


def last_customer_number() -> int:
    """The highest number a seeded customer's username ends with (0 when there is none)."""
    numbers = (
        int(match.group(1))
        for username in seeded_users().filter(role=Role.CUSTOMER).values_list("username", flat=True)
        if (match := re.search(r"(\d+)$", username))
    )
    return max(numbers, default=0)


def users_seed(
    *,
    rng: random.Random,
    customers: int,
    first_number: int,
    as_of: datetime,
    batch_size: int,
    progress: Progress,
) -> int:
    """Insert the back-office accounts that are missing and `customers` customers. Returns users inserted."""
    fake = Faker(["fr_FR", "de_DE", "nl_BE"])
    fake.seed_instance(rng.getrandbits(64))
    password = make_password(DEMO_PASSWORD)
    existing = set(
        User.objects.filter(username__in=[u for u, _ in BACK_OFFICE]).values_list("username", flat=True)
    )
    users: list[User] = []
    for username, role in BACK_OFFICE:
        first, last = fake["fr_FR"].first_name(), fake["fr_FR"].last_name()
        if username in existing:
            continue
        users.append(
            User(
                username=username,
                email=f"{username}@{SEED_EMAIL_DOMAIN}",
                first_name=first,
                last_name=last,
                role=role,
                is_staff=True,
                is_superuser=role == Role.ADMIN,
                password=password,
                date_joined=as_of - timedelta(days=4 * 365),
                updated_at=as_of - timedelta(days=4 * 365),
            )
        )
    for number in range(first_number, first_number + customers):
        locale = rng.choices(("fr_FR", "de_DE", "nl_BE"), weights=(80, 12, 8))[0]
        first, last = fake[locale].first_name(), fake[locale].last_name()
        username = f"{slugify(first)}.{slugify(last)}{number}"[:150]
        days_ago = rng.uniform(366, 3 * 365) if rng.random() < LONG_STANDING_SHARE else rng.uniform(1, 365)
        joined = as_of - timedelta(days=days_ago)
        users.append(
            User(
                username=username,
                email=f"{username}@{SEED_EMAIL_DOMAIN}",
                first_name=first,
                last_name=last,
                phone=fake[locale].phone_number()[:32],
                role=Role.CUSTOMER,
                password=password,
                date_joined=joined,
                updated_at=joined,
            )
        )
    progress.start("users", len(users))
    created = bulk_insert(
        User, users, key="username", batch_size=batch_size, progress=progress, entity="users"
    )
    groups = {role: role_group_get(role=role) for role in {u.role for u in created}}
    User.groups.through.objects.bulk_create(
        [User.groups.through(user_id=u.pk, group_id=groups[u.role].pk) for u in created],
        batch_size=batch_size,
    )
    return len(created)
