"""Account writes with the monolith's rules and errors (legacy_monolith/accounts/services): registration,
profile update, role change. Each change is versioned and published (publish.user_changed).

Passwords set here are stored twice: Argon2id for this service, and the PBKDF2 hash the monolith can check
(`legacy_password`), which is the one the published document carries, so a rollback to the monolith keeps
every password working there and no Argon2id hash ever reaches it.

The rules are a deliberate copy of the monolith's (legacy_monolith/accounts/services/users.py): the two
run on different user tables, and the monolith's copy goes with its accounts module (decommissioning);
until then tests/e2e/test_accounts_contract.py holds both processes to the same answers."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import IntegrityError, transaction
from django.db.models import Q

from chassis.outbox.writer import outbox_write
from chassis.validation import model_validate, password_validate, validation_error
from contracts.errors import ApplicationError, ConflictError
from contracts.user import USER_ROLE_CHANGED

from ..models import Origin, Role, User
from .publish import user_changed

PROFILE_FIELDS = frozenset({"first_name", "last_name", "phone", "email"})
MONOLITH_HASHER = "pbkdf2_sha256"


def password_store(user: User, password: str) -> None:
    """Set a new password: Argon2id here, its PBKDF2 twin for the monolith."""
    user.set_password(password)
    user.legacy_password = make_password(password, hasher=MONOLITH_HASHER)


def _user_exists_error(fields: list[str]) -> ConflictError:
    return ConflictError(
        "user_exists", f"A user with this {' and '.join(fields)} already exists", extra={"fields": fields}
    )


def _taken_fields(*, username: str | None, email: str | None, exclude_id: int | None = None) -> list[str]:
    """Which of username / email another account already uses; both compared case-insensitively."""
    others = User.objects.exclude(pk=exclude_id) if exclude_id else User.objects.all()
    taken = []
    if username is not None and others.filter(username__iexact=username).exists():
        taken.append("username")
    if email is not None and others.filter(email__iexact=email).exists():
        taken.append("email")
    return taken


@transaction.atomic
def user_register(
    *, username: str, email: str, password: str, first_name: str = "", last_name: str = ""
) -> User:
    """Create a customer account owned by this service; its public id is AUTH_USER_ID_OFFSET + its row
    id. Registration never grants another role. Replays answer 409 user_exists."""
    user = User(
        username=username,
        email=User.objects.normalize_email(email),
        first_name=first_name,
        last_name=last_name,
        role=Role.CUSTOMER,
        origin=Origin.AUTH,
    )
    if "@" in username:
        # Login accepts a username or an email; a username that looks like an email would be ambiguous.
        raise validation_error({"username": ["A username may not contain '@'."]})
    model_validate(user, exclude=["password"])
    password_validate(password=password, user=user, field="password")
    taken = _taken_fields(username=user.username, email=user.email)
    if taken:
        raise _user_exists_error(taken)
    password_store(user, password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError as exc:  # a concurrent registration won the race
        raise _user_exists_error(["username", "email"]) from exc
    user.legacy_user_id = settings.AUTH_USER_ID_OFFSET + user.pk
    return user_changed(user, update_fields=["legacy_user_id"])


@transaction.atomic
def user_update_profile(*, user: User, data: dict[str, str]) -> User:
    """PATCH the caller's profile (first_name, last_name, phone, email); set per field: idempotent (a PATCH
    that changes nothing publishes nothing)."""
    unknown = set(data) - PROFILE_FIELDS
    if unknown:
        raise ValueError(f"Not profile fields: {sorted(unknown)}")
    changes = dict(data)
    if "email" in changes:
        changes["email"] = User.objects.normalize_email(changes["email"])
        if _taken_fields(username=None, email=changes["email"], exclude_id=user.pk):
            raise _user_exists_error(["email"])
    user = User.objects.select_for_update().get(pk=user.pk)
    changed = [field for field, value in changes.items() if getattr(user, field) != value]
    for field in changed:
        setattr(user, field, changes[field])
    model_validate(user, exclude=["password"])
    if not changed:
        return user
    try:
        with transaction.atomic():
            user_changed(user, update_fields=changed)
    except IntegrityError as exc:
        raise _user_exists_error(["email"]) from exc
    return user


@transaction.atomic
def user_set_role(*, actor: User, user: User, role: str) -> User:
    """Admins set a user's role (the monolith's rule: the last active admin cannot be demoted). Setting
    the same role again changes nothing. The new role reaches the user's tokens at their next refresh and
    the monolith through `user.upserted`; `user.role_changed` (a critical event: the relay signs it with
    this service's event key) tells every consumer who changed which role, in the same transaction."""
    if not (actor.is_active and actor.role == Role.ADMIN):
        raise ApplicationError("permission_denied", "Only admins change roles", status=403)
    if role not in Role.values:
        raise validation_error({"role": [f"Unknown role {role!r}; expected one of {Role.values}."]})
    # Lock every admin row: two admins demoting each other at once must not leave zero admins.
    admins = list(User.objects.select_for_update().filter(Q(role=Role.ADMIN) | Q(pk=user.pk)).order_by("id"))
    user = next(u for u in admins if u.pk == user.pk)
    other_admins = [u for u in admins if u.pk != user.pk and u.is_active and u.role == Role.ADMIN]
    if user.role == Role.ADMIN and role != Role.ADMIN and not other_admins:
        raise ConflictError("last_admin", "The last active admin cannot lose the admin role")
    if user.role == role:
        return user
    previous, user.role = user.role, role
    user.is_staff = role in (Role.STAFF, Role.ADMIN)
    user.is_superuser = role == Role.ADMIN
    user_changed(user, update_fields=["role", "is_staff", "is_superuser"])
    outbox_write(
        USER_ROLE_CHANGED,
        {
            "id": user.legacy_user_id,
            "username": user.username,
            "role": role,
            "previous_role": previous,
            "changed_by": actor.legacy_user_id,
            "version": user.version,
        },
    )
    return user
