"""Input fields stricter than DRF's defaults: a JSON API reports a wrong type instead of guessing.
The monolith and the services share them, so both refuse the same inputs with the same messages."""

from rest_framework import serializers

MAX_BIGINT = 2**63 - 1


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer: "3", 3.5 and true are refused (DRF would coerce the first and the last)."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class IdField(StrictIntegerField):
    """A primary key: a positive integer that fits a PostgreSQL bigint."""

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_BIGINT)
        super().__init__(**kwargs)


class MoneyField(serializers.DecimalField):
    """Money out as a string with two decimals ("19.99")."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_digits", 12)
        kwargs.setdefault("decimal_places", 2)
        kwargs.setdefault("coerce_to_string", True)
        super().__init__(**kwargs)


class StrictCharField(serializers.CharField):
    """A JSON string: 123 is refused (DRF would turn it into "123")."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictRegexField(StrictCharField, serializers.RegexField):
    """A JSON string matching a pattern."""
