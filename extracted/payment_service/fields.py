"""Model fields whose values are stored sealed with AES-256-GCM: `<kid>:aesgcm1:<nonce+ciphertext>`.

The key id travels with each value, so values sealed under different data keys live side by side while
`keys reencrypt` moves them to the active key. The associated data binds a value to its column
(`payment_service.Payment.gateway_ref:<kid>`): a value copied into another column does not open.
Values are sealed only when saved (`get_db_prep_save`); lookups see the stored text, so
`filter(col__startswith="<kid>:")` finds the values of one key. A `Sealed` value is saved as it is.
"""

from __future__ import annotations

import json
from typing import Any

from django.db import models


class Sealed(str):
    """A value that is already sealed (keys reencrypt writes these): saved untouched."""


class _Encrypted:
    """Shared by the text and JSON variants: seal on save, open on load."""

    def column_label(self) -> str:
        return f"{self.model._meta.label}.{self.name}"

    def _seal(self, text: str) -> str:
        from .keys import seal_value

        return seal_value(text, column=self.column_label())

    def _open(self, stored: str) -> str:
        from .keys import open_value

        return open_value(stored, column=self.column_label())


class EncryptedTextField(_Encrypted, models.TextField):
    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        return self._open(value)

    def get_db_prep_save(self, value, connection):
        if value is None or value == "" or isinstance(value, Sealed):
            return value
        return self._seal(str(value))


class EncryptedJSONField(_Encrypted, models.TextField):
    """A JSON value (an object, a list) stored as sealed text; None stays NULL."""

    def from_db_value(self, value, expression, connection):
        if value is None:
            return None
        return json.loads(self._open(value))

    def get_db_prep_save(self, value: Any, connection):
        if value is None or isinstance(value, Sealed):
            return value
        return self._seal(json.dumps(value, sort_keys=True, separators=(",", ":")))

    def to_python(self, value):
        return value

    def get_prep_value(self, value):
        return value
