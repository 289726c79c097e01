"""Between Python values and stored columns: encryption of sensitive fields, masking on read."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from lendbase.forms.model import FieldDef, FormDef
from lendbase.forms.naming import hash_column_for
from lendbase.security import FieldCipher, mask_value


def context_for(form_key: str, field_key: str) -> str:
    return f"{form_key}.{field_key}"


class RecordCodec:
    """Encodes values for storage and decodes (and masks) them for reading, for one form."""

    def __init__(self, form: FormDef, cipher: FieldCipher, subtable: str | None = None) -> None:
        self.form = form
        self.cipher = cipher
        # Ciphertext is bound to where it lives: "customer.id_number",
        # "customer.contacts.phone"; a value copied elsewhere does not decrypt.
        self.scope = form.key if subtable is None else f"{form.key}.{subtable}"

    def lookup_hash(self, f: FieldDef, value: str) -> str:
        return self.cipher.keyed_hash(value, context_for(self.scope, f.key))

    def encode(self, fields: tuple[FieldDef, ...], values: Mapping[str, Any]) -> dict[str, Any]:
        row: dict[str, Any] = {}
        for f in fields:
            if f.key not in values or not f.stored:
                continue
            value = values[f.key]
            if f.sensitive:
                context = context_for(self.scope, f.key)
                plain = None if value is None else str(value)
                row[f.key] = None if plain is None else self.cipher.encrypt(plain, context)
                if f.has_lookup_hash:
                    row[hash_column_for(f.key)] = (
                        None if plain is None else self.cipher.keyed_hash(plain, context))
            elif isinstance(value, datetime):
                row[f.key] = value.astimezone(UTC)  # SQLite keeps no offset: store UTC
            else:
                row[f.key] = value
        return row

    def decode(self, fields: tuple[FieldDef, ...], row: Mapping[Any, Any],
               unmasked: bool = False) -> dict[str, Any]:
        """Python values of a stored row; sensitive ones masked unless ``unmasked``."""
        values: dict[str, Any] = {}
        for f in fields:
            if not f.stored or f.key not in row:
                continue
            value = row[f.key]
            if f.sensitive and value is not None:
                plain = self.cipher.decrypt(value, context_for(self.scope, f.key))
                value = plain if unmasked else mask_value(f.mask_kind, plain)
            values[f.key] = value
        return values

    def plain(self, f: FieldDef, stored: Any) -> Any:
        if f.sensitive and stored is not None:
            return self.cipher.decrypt(stored, context_for(self.scope, f.key))
        return stored

    def masked(self, f: FieldDef, value: Any) -> Any:
        return mask_value(f.mask_kind, value) if f.sensitive and value is not None else value
