"""Writes for accounts. One module per concern; import the functions from here."""

from .auth import (
    IssuedToken,
    api_token_create,
    api_token_login,
    api_token_revoke,
    user_authenticate,
    user_login,
    user_logout,
)
from .passwords import password_reset_confirm, password_reset_request, user_change_password
from .users import user_register, user_set_role, user_update_profile

__all__ = [
    "IssuedToken",
    "api_token_create",
    "api_token_login",
    "api_token_revoke",
    "password_reset_confirm",
    "password_reset_request",
    "user_authenticate",
    "user_change_password",
    "user_login",
    "user_logout",
    "user_register",
    "user_set_role",
    "user_update_profile",
]
