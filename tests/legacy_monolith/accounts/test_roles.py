import pytest
from django.contrib.auth.models import Group, Permission

from legacy_monolith.accounts import services
from legacy_monolith.accounts.models import Role, User
from legacy_monolith.accounts.roles import ALL_PERMISSIONS, ROLE_PERMISSIONS, role_group_get
from legacy_monolith.core.errors import ApplicationError
from tests.factories import UserFactory

from .conftest import url


def group_codes(role: str) -> set[str]:
    """The permissions of the role's group (rebuilt first if a flushing test removed the groups)."""
    permissions = role_group_get(role=role).permissions.values_list("content_type__app_label", "codename")
    return {f"{app}.{codename}" for app, codename in permissions}


# --- the groups of the data migration --------------------------------------------------------------------


@pytest.mark.django_db
def test_the_migration_created_one_group_per_role():
    assert set(Group.objects.values_list("name", flat=True)) >= {"customer", "staff", "admin"}


@pytest.mark.django_db
def test_customers_may_browse_and_shop_but_not_manage_the_catalog():
    codes = group_codes("customer")

    assert {"catalog.view_product", "orders.add_order", "orders.add_cartitem"} <= codes
    assert not codes & {"catalog.add_product", "catalog.change_product", "payments.add_refund"}


@pytest.mark.django_db
def test_staff_manage_products_and_refunds_but_delete_nothing_and_manage_no_users():
    codes = group_codes("staff")

    expected = {
        "catalog.add_product",
        "catalog.change_product",
        "orders.view_order",
        "payments.view_payment",
        "payments.add_refund",
    }
    assert expected <= codes
    assert group_codes("customer") <= codes
    assert not {c for c in codes if ".delete_" in c and not c.startswith("orders.delete_cartitem")}
    assert not codes & {"accounts.change_user", "accounts.add_user", "auth.change_group"}


@pytest.mark.django_db
def test_the_admin_group_holds_every_permission_of_the_monolith():
    codes = group_codes("admin")

    assert {"catalog.delete_product", "accounts.change_user", "payments.change_payment"} <= codes
    assert len(codes) > len(group_codes("staff"))


@pytest.mark.django_db
def test_every_permission_named_by_a_role_exists():
    existing = {
        f"{app}.{codename}"
        for app, codename in Permission.objects.values_list("content_type__app_label", "codename")
    }
    for role, wanted in ROLE_PERMISSIONS.items():
        if wanted != ALL_PERMISSIONS:
            assert set(wanted) - existing == set(), role


@pytest.mark.django_db
def test_a_missing_role_group_is_recreated_with_its_permissions():
    Group.objects.filter(name="staff").delete()

    group = role_group_get(role=Role.STAFF)

    assert group.name == "staff"
    assert "catalog.add_product" in group_codes("staff")


# --- the permissions in the user JSON --------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("role", "present", "absent"),
    [
        (Role.CUSTOMER, "orders.add_order", "catalog.add_product"),
        (Role.STAFF, "catalog.add_product", "catalog.delete_product"),
        (Role.ADMIN, "catalog.delete_product", None),
    ],
)
def test_the_user_json_lists_the_permissions_of_the_users_role(token_client, role, present, absent):
    user = UserFactory(role=role)

    permissions = token_client(user).get(url("me")).json()["permissions"]

    assert present in permissions
    assert absent not in permissions
    assert permissions == sorted(permissions)
    assert set(permissions) == user.get_all_permissions()


@pytest.mark.django_db
def test_a_permission_granted_to_the_user_alone_is_listed_too(token_client):
    user = UserFactory(role=Role.CUSTOMER)
    user.user_permissions.add(Permission.objects.get(codename="view_coupon"))

    assert "orders.view_coupon" in token_client(user).get(url("me")).json()["permissions"]


# --- PATCH /users/<id>/role ------------------------------------------------------------------------------


def set_role(client, user_id, role):
    return client.patch(url(f"users/{user_id}/role"), {"role": role}, format="json")


@pytest.fixture
def admin(db):
    return UserFactory(role=Role.ADMIN)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("role", "is_staff", "is_superuser"),
    [(Role.STAFF, True, False), (Role.ADMIN, True, True), (Role.CUSTOMER, False, False)],
)
def test_an_admin_sets_a_role_and_the_group_and_flags_follow(
    token_client, admin, role, is_staff, is_superuser
):
    user = UserFactory(role=Role.CUSTOMER if role != Role.CUSTOMER else Role.STAFF)

    response = set_role(token_client(admin), user.id, role)

    assert response.status_code == 200
    assert response.json()["role"] == role
    user.refresh_from_db()
    assert (user.role, user.is_staff, user.is_superuser) == (role, is_staff, is_superuser)
    assert list(user.groups.values_list("name", flat=True)) == [role]
    assert set(response.json()["permissions"]) == user.get_all_permissions()


@pytest.mark.django_db
def test_setting_the_same_role_again_changes_nothing(token_client, admin):
    user = UserFactory(role=Role.STAFF)
    client = token_client(admin)

    first = set_role(client, user.id, "staff").json()
    second = set_role(client, user.id, "staff").json()

    assert first == second
    assert list(user.groups.values_list("name", flat=True)) == ["staff"]


@pytest.mark.django_db
def test_a_role_change_keeps_the_users_other_groups(token_client, admin):
    user = UserFactory(role=Role.CUSTOMER)
    newsletter = Group.objects.create(name="newsletter")
    user.groups.add(newsletter)

    set_role(token_client(admin), user.id, "staff")

    assert set(user.groups.values_list("name", flat=True)) == {"staff", "newsletter"}


@pytest.mark.django_db
def test_a_promotion_takes_effect_on_the_users_next_request(token_client, admin):
    user = UserFactory(role=Role.CUSTOMER)
    client = token_client(user)
    assert client.get(url("users")).status_code == 403

    set_role(token_client(admin), user.id, "staff")

    assert client.get(url("users")).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("actor_role", [Role.STAFF, Role.CUSTOMER])
def test_only_an_admin_changes_roles(token_client, actor_role):
    actor = UserFactory(role=actor_role)
    target = UserFactory(role=Role.CUSTOMER)

    response = set_role(token_client(actor), target.id, "admin")

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    target.refresh_from_db()
    assert target.role == Role.CUSTOMER


@pytest.mark.django_db
def test_staff_cannot_promote_themselves(token_client):
    actor = UserFactory(role=Role.STAFF)

    assert set_role(token_client(actor), actor.id, "admin").status_code == 403
    actor.refresh_from_db()
    assert actor.role == Role.STAFF


@pytest.mark.django_db
def test_the_role_service_refuses_a_non_admin_actor_too():
    staff = UserFactory(role=Role.STAFF)
    target = UserFactory(role=Role.CUSTOMER)

    with pytest.raises(ApplicationError) as error:
        services.user_set_role(actor=staff, user=target, role=Role.ADMIN)

    assert error.value.code == "permission_denied"


@pytest.mark.django_db
def test_changing_roles_needs_authentication(api_client, customer):
    response = set_role(api_client, customer.id, "staff")

    assert response.status_code == 401


@pytest.mark.django_db
def test_the_last_active_admin_cannot_step_down(token_client, admin):
    UserFactory(role=Role.ADMIN, is_active=False)

    response = set_role(token_client(admin), admin.id, "staff")

    assert response.status_code == 409
    assert response.json()["code"] == "last_admin"
    admin.refresh_from_db()
    assert (admin.role, admin.is_superuser) == (Role.ADMIN, True)


@pytest.mark.django_db
def test_an_admin_may_step_down_while_another_admin_remains(token_client, admin):
    UserFactory(role=Role.ADMIN)

    response = set_role(token_client(admin), admin.id, "staff")

    assert response.status_code == 200
    assert User.objects.filter(role=Role.ADMIN).count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("user_id", [999_999_999, 2**63, 10**30])
def test_setting_the_role_of_an_unknown_user_is_404(token_client, admin, user_id):
    response = set_role(token_client(admin), user_id, "staff")

    assert response.status_code == 404
    assert response.json()["code"] == "user_not_found"


# --- GET /users ------------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("role", [Role.STAFF, Role.ADMIN])
def test_staff_and_admins_list_users_page_by_page(token_client, role):
    viewer = UserFactory(role=role)
    UserFactory.create_batch(4)

    body = token_client(viewer).get(url("users"), {"page_size": 2, "page": 2}).json()

    assert body["count"] == 5
    assert body["previous"] is not None
    assert body["next"] is not None
    assert len(body["results"]) == 2
    assert set(body["results"][0]) == {
        "id",
        "username",
        "email",
        "first_name",
        "last_name",
        "phone",
        "role",
        "permissions",
        "date_joined",
    }
    ids = [u["id"] for u in body["results"]]
    assert ids == sorted(ids)


@pytest.mark.django_db
def test_listing_users_costs_the_same_queries_for_ten_users_as_for_two(
    token_client, django_assert_max_num_queries
):
    viewer = UserFactory(role=Role.STAFF)
    client = token_client(viewer)
    UserFactory()
    with django_assert_max_num_queries(20) as few:
        client.get(url("users"))
    UserFactory.create_batch(8, role=Role.STAFF)

    with django_assert_max_num_queries(len(few.captured_queries)):
        body = client.get(url("users")).json()

    assert body["count"] == 10
    assert all("catalog.add_product" in u["permissions"] for u in body["results"][2:])


@pytest.mark.django_db
def test_customers_cannot_list_users(token_client, customer):
    response = token_client(customer).get(url("users"))

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


@pytest.mark.django_db
def test_listing_users_needs_authentication(api_client):
    assert api_client.get(url("users")).status_code == 401


@pytest.mark.django_db
def test_a_page_past_the_end_is_404(token_client, staff_user):
    response = token_client(staff_user).get(url("users"), {"page": 99})

    assert response.status_code == 404
