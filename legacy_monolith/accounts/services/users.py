"""Registration, profile updates and role changes."""

from django.db import IntegrityError, transaction
from django.db.models import Q

from chassis.validation import model_validate, password_validate, validation_error
from legacy_monolith.core.errors import ApplicationError, ConflictError

from ..models import AccountEmail, Role, User
from ..roles import ROLE_PERMISSIONS, role_group_get
from .emails import account_email_publish, emails_via_service

PROFILE_FIELDS = frozenset({"first_name", "last_name", "phone", "email"})


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


def _role_groups_sync(user: User) -> None:
    """The user belongs to the group of their role and to no other role's group."""
    target = role_group_get(role=user.role)
    stale = user.groups.filter(name__in=[r for r in ROLE_PERMISSIONS if r != user.role])
    user.groups.remove(*stale)
    user.groups.add(target)


@transaction.atomic
def user_register(
    *, username: str, email: str, password: str, first_name: str = "", last_name: str = ""
) -> User:
    """Create a customer account. Registration never grants another role. Replays answer 409 user_exists."""
    user = User(
        username=username,
        email=User.objects.normalize_email(email),
        first_name=first_name,
        last_name=last_name,
        role=Role.CUSTOMER,
    )
    if "@" in username:
        # Login accepts a username or an email; a username that looks like an email would be ambiguous.
        raise validation_error({"username": ["A username may not contain '@'."]})
    model_validate(user, exclude=["password"])
    password_validate(password=password, user=user, field="password")
    taken = _taken_fields(username=user.username, email=user.email)
    if taken:
        raise _user_exists_error(taken)
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError as exc:  # a concurrent registration won the race
        raise _user_exists_error(["username", "email"]) from exc
    _role_groups_sync(user)
    if emails_via_service(user):  # the welcome: the Notification service's (the monolith never sent one)
        account_email_publish(kind=AccountEmail.Kind.REGISTERED, user=user)
    return user


@transaction.atomic
def user_update_profile(*, user: User, data: dict[str, str]) -> User:
    """PATCH the caller's profile (first_name, last_name, phone, email); set per field: idempotent"""
    unknown = set(data) - PROFILE_FIELDS
    if unknown:
        raise ValueError(f"Not profile fields: {sorted(unknown)}")
    changes = dict(data)
    if "email" in changes:
        changes["email"] = User.objects.normalize_email(changes["email"])
        if _taken_fields(username=None, email=changes["email"], exclude_id=user.pk):
            raise _user_exists_error(["email"])
    for field, value in changes.items():
        setattr(user, field, value)
    model_validate(user, exclude=["password"])
    try:
        with transaction.atomic():
            user.save(update_fields=[*changes, "updated_at"])
    except IntegrityError as exc:
        raise _user_exists_error(["email"]) from exc
    return user


@transaction.atomic
def user_set_role(*, actor: User, user: User, role: str) -> User:
    """Admins set a user's role; the role's Group, is_staff and is_superuser follow. Setting the same role
    again changes nothing. The last active admin cannot be demoted (nobody could promote anyone again)."""
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
    user.role = role
    user.is_staff = role in (Role.STAFF, Role.ADMIN)
    user.is_superuser = role == Role.ADMIN
    user.save(update_fields=["role", "is_staff", "is_superuser", "updated_at"])
    _role_groups_sync(user)
    return user
