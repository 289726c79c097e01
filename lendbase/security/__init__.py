"""Security primitives: password hashing, field encryption and display masks."""

from lendbase.security.fieldcrypto import (
    DecryptionError,
    FieldCipher,
    generate_key_string,
    key_id_for,
    parse_key_string,
)
from lendbase.security.masking import MASK_KINDS, mask_value
from lendbase.security.passwords import (
    MIN_PASSWORD_LENGTH,
    check_password_strength,
    hash_password,
    needs_rehash,
    verify_password,
)

__all__ = [
    "MASK_KINDS",
    "MIN_PASSWORD_LENGTH",
    "DecryptionError",
    "FieldCipher",
    "check_password_strength",
    "generate_key_string",
    "hash_password",
    "key_id_for",
    "mask_value",
    "needs_rehash",
    "parse_key_string",
    "verify_password",
]
