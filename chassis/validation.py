"""Field-level validation errors shaped like the serializers' ones: 400 validation_error, extra.fields
(the monolith's accounts and the Auth service answer registration and profile errors alike)."""

from collections.abc import Iterable

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError

from contracts.errors import ApplicationError


def validation_error(fields: dict[str, Iterable[str]]) -> ApplicationError:
    return ApplicationError(
        "validation_error",
        "The request did not pass validation",
        extra={"fields": {name: list(messages) for name, messages in fields.items()}},
        status=400,
    )


def password_validate(*, password: str, user, field: str) -> None:
    """Django's AUTH_PASSWORD_VALIDATORS, reported against the request's field name."""
    try:
        validate_password(password, user=user)
    except DjangoValidationError as exc:
        raise validation_error({field: exc.messages}) from exc


def model_validate(instance, *, exclude: Iterable[str] = ()) -> None:
    """The model's own field rules (lengths, username characters, email shape); uniqueness apart"""
    try:
        instance.full_clean(exclude=list(exclude), validate_unique=False, validate_constraints=False)
    except DjangoValidationError as exc:
        raise validation_error(exc.message_dict) from exc
