"""The strict DRF fields of the orders API: one copy, shared with the Order service in chassis.fields."""

from chassis.fields import (
    MAX_BIGINT,
    IdField,
    MoneyField,
    StrictCharField,
    StrictIntegerField,
    StrictRegexField,
)

__all__ = ["MAX_BIGINT", "IdField", "MoneyField", "StrictCharField", "StrictIntegerField", "StrictRegexField"]
