"""The Auth service's RBAC mirror against the monolith's own tables (the other half of the drift test in
tests/extracted/auth_service/test_access_control.py, which compares the role tables)."""

import pytest
from django.contrib.auth.models import Permission

from extracted.auth_service import rbac


@pytest.mark.django_db
def test_the_auth_service_knows_every_permission_of_the_monolith():
    codes = sorted(
        f"{p.content_type.app_label}.{p.codename}" for p in Permission.objects.select_related("content_type")
    )

    missing = sorted(set(codes) - set(rbac.ALL_PERMISSION_CODES))
    extra = sorted(set(rbac.ALL_PERMISSION_CODES) - set(codes))
    assert (missing, extra) == ([], []), (
        "the monolith's models changed: update MONOLITH_MODELS in extracted/auth_service/rbac.py "
        "(admins hold every permission; the Auth service lists them in the user JSON)"
    )
