"""The staff refund endpoint asks the ABAC policy `payment.refund` (one module with the auth service):
staff refund up to PAYMENT_STAFF_REFUND_LIMIT, admins any amount; beyond it 403 `policy_denied`. Unset,
staff refund any amount, as the monolith always let them."""

from decimal import Decimal

import pytest

from legacy_monolith.payments.models import Payment

from .conftest import APPROVED

pytestmark = pytest.mark.django_db


def refund(client, payment, amount, key):
    body = {} if amount is None else {"amount": amount}
    return client.post(
        f"/api/v1/payments/{payment.pk}/refunds", body, format="json", HTTP_IDEMPOTENCY_KEY=key
    )


def test_staff_may_refund_up_to_the_limit(settings, sandbox, charge, client_for, staff_user):
    settings.PAYMENT_STAFF_REFUND_LIMIT = "5.00"
    payment = charge(APPROVED)

    response = refund(client_for(staff_user), payment, "5.00", "policy-at-limit")

    assert response.status_code == 201


def test_staff_above_the_limit_are_denied_with_the_reason(settings, sandbox, charge, client_for, staff_user):
    settings.PAYMENT_STAFF_REFUND_LIMIT = "5.00"
    payment = charge(APPROVED)

    response = refund(client_for(staff_user), payment, "5.01", "policy-above-limit")

    assert response.status_code == 403
    assert response.json()["code"] == "policy_denied"
    assert response.json()["message"] == "staff may refund at most 5.00"
    assert Payment.objects.get(pk=payment.pk).amount_refunded == Decimal("0")


def test_a_staff_refund_of_the_whole_remainder_counts_against_the_limit(
    settings, sandbox, charge, client_for, staff_user
):
    settings.PAYMENT_STAFF_REFUND_LIMIT = "5.00"
    payment = charge(APPROVED)  # more than 5.00

    response = refund(client_for(staff_user), payment, None, "policy-remainder")

    assert (response.status_code, response.json()["code"]) == (403, "policy_denied")


def test_admins_refund_any_amount(settings, sandbox, charge, client_for, admin_user):
    settings.PAYMENT_STAFF_REFUND_LIMIT = "5.00"
    payment = charge(APPROVED)

    response = refund(client_for(admin_user), payment, None, "policy-admin-all")

    assert response.status_code == 201
    assert Payment.objects.get(pk=payment.pk).status == Payment.Status.REFUNDED


def test_without_a_configured_limit_staff_refund_any_amount_as_before(
    settings, sandbox, charge, client_for, staff_user
):
    settings.PAYMENT_STAFF_REFUND_LIMIT = ""
    payment = charge(APPROVED)

    response = refund(client_for(staff_user), payment, None, "policy-unset-limit")

    assert response.status_code == 201


def test_customers_are_refused_before_the_policy_is_asked(settings, sandbox, charge, client_for, customer):
    settings.PAYMENT_STAFF_REFUND_LIMIT = "5.00"
    payment = charge(APPROVED)

    response = refund(client_for(customer), payment, "1.00", "policy-customer")

    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
