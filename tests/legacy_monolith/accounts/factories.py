"""Users whose Group matches their role, as the accounts services keep it (tests.factories.UserFactory
sets role, is_staff and is_superuser but no group)."""

import factory

from legacy_monolith.accounts.roles import role_group_get
from tests.factories import UserFactory


class RoleUserFactory(UserFactory):
    @factory.post_generation
    def role_group(obj, create, extracted, **kwargs):
        if create:
            obj.groups.add(role_group_get(role=obj.role))
