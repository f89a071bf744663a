"""Input serializers check JSON types and shapes only (business rules live in services); the output
serializers render the contract's JSON."""

from collections.abc import Mapping

from django.core.validators import RegexValidator
from rest_framework import serializers

from .models import Role, User
from .selectors import user_permission_codes

PASSWORD_MAX_LENGTH = 256  # bounds the hashing work a request can ask for


class StrictInput(serializers.Serializer):
    """Rejects fields it does not declare (e.g. `role` on register) instead of silently dropping them."""

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)


class _OnlyStrings:
    """DRF's CharField turns 42 into "42"; a string field must receive a JSON string."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StringField(_OnlyStrings, serializers.CharField):
    pass


class EmailStringField(_OnlyStrings, serializers.EmailField):
    pass


def password_field(**kwargs) -> StringField:
    return StringField(max_length=PASSWORD_MAX_LENGTH, trim_whitespace=False, **kwargs)


phone_format = RegexValidator(
    r"^\+?[0-9][0-9 ().-]{3,30}$", "Enter a phone number: digits, spaces, ( ) . - and an optional leading +."
)


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
    role = serializers.ChoiceField(choices=Role.choices)


class UserOutput(serializers.ModelSerializer):
    permissions = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ["id", "username", "email", "first_name", "last_name", "phone", "role"]
        fields += ["permissions", "date_joined"]

    def get_permissions(self, user: User) -> list[str]:
        return user_permission_codes(user=user)


class LoginOutput(serializers.Serializer):
    user = UserOutput()
    csrf_token = serializers.CharField()


class TokenOutput(serializers.Serializer):
    token = serializers.CharField(source="key")
    expires_at = serializers.DateTimeField(source="token.expires_at")
    name = serializers.CharField(source="token.name")
    prefix = serializers.CharField(source="token.key_prefix")


class ResetAcceptedOutput(serializers.Serializer):
    status = serializers.CharField(help_text='Always "accepted", whether or not the address has an account')


class UserPageOutput(serializers.Serializer):
    """One page of users (StandardPagination's shape); documents GET /users."""

    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = UserOutput(many=True)
