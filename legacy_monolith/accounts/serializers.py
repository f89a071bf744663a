"""The accounts wire format (chassis.accounts_v1, shared with the Auth service) plus the monolith's own
outputs: the user JSON from its models, the session login and the legacy token."""

from rest_framework import serializers

from chassis.accounts_v1 import (
    CredentialsInput,
    PasswordChangeInput,
    PasswordResetConfirmInput,
    PasswordResetInput,
    ProfileInput,
    RegisterInput,
    ResetAcceptedOutput,
    RoleInput,
    TokenCreateInput,
    UserOutputBase,
    user_page_output,
)

from .models import User
from .selectors import user_permission_codes

__all__ = [
    "CredentialsInput",
    "LoginOutput",
    "PasswordChangeInput",
    "PasswordResetConfirmInput",
    "PasswordResetInput",
    "ProfileInput",
    "RegisterInput",
    "ResetAcceptedOutput",
    "RoleInput",
    "TokenCreateInput",
    "TokenOutput",
    "UserOutput",
    "UserPageOutput",
]


class UserOutput(UserOutputBase):
    def permission_codes(self, user: User) -> list[str]:
        return user_permission_codes(user=user)


class LoginOutput(serializers.Serializer):
    user = UserOutput()
    csrf_token = serializers.CharField()


class TokenOutput(serializers.Serializer):
    token = serializers.CharField(source="key")
    expires_at = serializers.DateTimeField(source="token.expires_at")
    name = serializers.CharField(source="token.name")
    prefix = serializers.CharField(source="token.key_prefix")


UserPageOutput = user_page_output(UserOutput)
