"""`sync users receive`: the Auth service's `user.upserted` events applied to the monolith's tables, so a
user registered or changed there is complete here too (orders history, staff refunds, a rollback).

Each document is applied with the version rule (only when newer than the row's `updated_at`, which then
takes the document's version, so sending the row forward again is a no-op there), with the user's id
(a user registered at the Auth service keeps its public id). The password: only a hash the monolith can
check (PBKDF2) is ever stored; anything else (an Argon2id hash) leaves the monolith's hash as it is, and
an empty one means "none given". A new hash ends the user's legacy sessions (their session hash no longer
matches) and here also revokes the user's legacy API tokens, as a reset on the monolith does.

A username or email taken here by ANOTHER user (two registrations racing on both sides within the sync
lag) cannot be applied: the event is retried, then dead-lettered, and `sync users verify` reports the id.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from acl_adapters.accounts.translate import user_document_to_fields
from chassis.consumers import EventConsumer
from contracts.events import Envelope
from contracts.user import MONOLITH_HASHERS, USER_UPSERTED, hash_algorithm, validate_user, version_of
from legacy_monolith.accounts.models import ApiToken, User
from legacy_monolith.accounts.roles import ROLE_PERMISSIONS, role_group_get


def _role_group_sync(user: User) -> None:
    """The user belongs to the group of their role and to no other role's group."""
    stale = user.groups.filter(name__in=[r for r in ROLE_PERMISSIONS if r != user.role])
    user.groups.remove(*stale)
    user.groups.add(role_group_get(role=user.role))


@transaction.atomic
def user_document_apply(doc: dict, *, force: bool = False) -> bool:
    """Apply one validated document; True when it was newer than what the monolith holds (or `force`:
    verify --repair applies the winning copy whatever the versions say)."""
    fields = user_document_to_fields(doc)
    incoming = doc["password"]
    usable = hash_algorithm(incoming) in MONOLITH_HASHERS
    user = User.objects.select_for_update().filter(pk=doc["id"]).first()
    if user is None:
        user = User(id=doc["id"], **fields)
        if usable:
            user.password = incoming
        else:
            user.set_unusable_password()
        user.save()
    else:
        if not force and version_of(user.updated_at) >= doc["version"]:
            return False
        password_changed = usable and incoming != user.password
        if password_changed:
            fields["password"] = incoming
        User.objects.filter(pk=user.pk).update(**{k: v for k, v in fields.items() if k != "updated_at"})
        if password_changed:
            ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=timezone.now())
        user.refresh_from_db()
    # updated_at = the document's version (save() and auto_now would stamp "now")
    User.objects.filter(pk=user.pk).update(updated_at=fields["updated_at"])
    _role_group_sync(user)
    return True


def on_user_upserted(envelope: Envelope) -> None:
    user_document_apply(validate_user(envelope.data))


class UsersReceiver(EventConsumer):
    name = "monolith.users"
    bindings = (USER_UPSERTED,)
    handlers = {USER_UPSERTED: on_user_upserted}
