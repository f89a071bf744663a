"""Strict input fields every JSON API of the project uses the same way (the monolith's and the services'):
unknown fields refused, strings that must be JSON strings."""

from collections.abc import Mapping

from rest_framework import serializers

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
