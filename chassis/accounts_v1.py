"""The /api/v1/accounts wire format: request bodies and the user JSON, served alike by the monolith
(legacy_monolith/accounts) and, route by route, by the Auth service (extracted/auth_service/accounts) while
the accounts module moves. One copy, so the two answers cannot drift; tests/e2e/test_accounts_contract.py
holds both processes to it.

Input serializers check JSON types and shapes only; business rules live in each side's services."""

from django.core.validators import RegexValidator
from rest_framework import serializers

from contracts.roles import Role

from .serializers import EmailStringField, StrictInput, StringField, password_field

phone_format = RegexValidator(
    r"^\+?[0-9][0-9 ().-]{3,30}$", "Enter a phone number: digits, spaces, ( ) . - and an optional leading +."
)
ROLE_CHOICES = [(role.value, role.value.capitalize()) for role in Role]


class RegisterInput(StrictInput):
    username = StringField(max_length=150)
    email = EmailStringField(max_length=254)
    password = password_field()
    first_name = StringField(max_length=150, required=False, allow_blank=True, default="")
    last_name = StringField(max_length=150, required=False, allow_blank=True, default="")


class CredentialsInput(StrictInput):
    username = StringField(max_length=254, help_text="The username or the email address")
    password = password_field()


class TokenCreateInput(CredentialsInput):
    name = StringField(max_length=64, required=False, default="default")


class ProfileInput(StrictInput):
    first_name = StringField(max_length=150, required=False, allow_blank=True)
    last_name = StringField(max_length=150, required=False, allow_blank=True)
    phone = StringField(max_length=32, required=False, allow_blank=True, validators=[phone_format])
    email = EmailStringField(max_length=254, required=False)


class PasswordChangeInput(StrictInput):
    old_password = password_field()
    new_password = password_field()


class PasswordResetInput(StrictInput):
    email = EmailStringField(max_length=254)


class PasswordResetConfirmInput(StrictInput):
    token = StringField(max_length=128)
    new_password = password_field()


class RoleInput(StrictInput):
    role = serializers.ChoiceField(choices=ROLE_CHOICES)


class ResetAcceptedOutput(serializers.Serializer):
    status = serializers.CharField(help_text='Always "accepted", whether or not the address has an account')


class UserOutputBase(serializers.Serializer):
    """The user JSON. A side names where `id` comes from (its public id) and how it finds the
    permissions (`permission_codes(user)`: Django permission strings, sorted)."""

    id = serializers.IntegerField()
    username = serializers.CharField()
    email = serializers.EmailField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    phone = serializers.CharField()
    role = serializers.CharField()
    permissions = serializers.SerializerMethodField()
    date_joined = serializers.DateTimeField()

    def get_permissions(self, user) -> list[str]:
        return self.permission_codes(user)

    def permission_codes(self, user) -> list[str]:
        raise NotImplementedError


def user_page_output(user_output: type[serializers.Serializer]) -> type[serializers.Serializer]:
    """One page of users (StandardPagination's shape): documents GET /users."""

    class UserPageOutput(serializers.Serializer):
        count = serializers.IntegerField()
        next = serializers.URLField(allow_null=True)
        previous = serializers.URLField(allow_null=True)
        results = user_output(many=True)

    return UserPageOutput
