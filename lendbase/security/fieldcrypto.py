"""Encryption at rest for sensitive fields (PIPL: ID numbers, bank accounts, ...).

One master key (32 random bytes, url-safe base64 in ``LENDBASE_FIELD_KEY``) is
split with HKDF into two independent sub-keys:

- an AES-256-GCM key for ``encrypt`` / ``decrypt``. The column's context string
  (e.g. ``"customer.id_number"``) is authenticated as associated data, so a token
  copied into another column does not decrypt;
- an HMAC-SHA256 key for ``keyed_hash``: a deterministic digest stored beside the
  ciphertext for unique indexes and exact-match lookups without decrypting.

Token format: ``v1:<key id>:<url-safe base64 of nonce + ciphertext + tag>`` (no
padding). The key id (first 8 hex digits of SHA-256 of the master key) lets
``decrypt`` pick the right key after a rotation, and name the missing one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from lendbase.errors import LendBaseError

KEY_BYTES = 32
TOKEN_VERSION = "v1"

_NONCE_BYTES = 12
_TAG_BYTES = 16
_ENCRYPTION_INFO = b"lendbase/field-encryption/v1"
_HASH_INFO = b"lendbase/keyed-hash/v1"
_KEY_ID_RE = re.compile(r"[0-9a-f]{8}")
_KEY_HINT = (
    "the field key must be 32 random bytes in url-safe base64; generate one with: "
    'python -c "import secrets,base64;'
    'print(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())"'
)


class DecryptionError(LendBaseError, ValueError):
    """A token cannot be decrypted: altered, wrong context (column) or unknown key."""

    code = "decryption_failed"


def generate_key_string() -> str:
    """Return a new random master key in url-safe base64 (``LENDBASE_FIELD_KEY``)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(KEY_BYTES)).decode("ascii")


def parse_key_string(key_string: str) -> bytes:
    """Decode a url-safe base64 master key (padding optional).

    Raises ValueError, with the command that generates a key, when it is malformed.
    """
    text = key_string.strip()
    try:
        raw = base64.b64decode(_pad(text), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"malformed field key: {_KEY_HINT}") from None
    if len(raw) != KEY_BYTES:
        raise ValueError(
            f"field key decodes to {len(raw)} bytes, not {KEY_BYTES}; {_KEY_HINT}"
        )
    return raw


def key_id_for(master_key: bytes) -> str:
    """The public id of a master key: first 8 hex digits of its SHA-256."""
    return hashlib.sha256(master_key).hexdigest()[:8]


@dataclass(frozen=True)
class _SubKeys:
    key_id: str
    aead: AESGCM
    hash_key: bytes


def _derive(master_key: bytes, info: bytes) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=info
    ).derive(master_key)


def _sub_keys(master_key: bytes) -> _SubKeys:
    if not isinstance(master_key, bytes) or len(master_key) != KEY_BYTES:
        raise ValueError(f"each key must be {KEY_BYTES} bytes; {_KEY_HINT}")
    return _SubKeys(
        key_id=key_id_for(master_key),
        aead=AESGCM(_derive(master_key, _ENCRYPTION_INFO)),
        hash_key=_derive(master_key, _HASH_INFO),
    )


def _pad(text: str) -> str:
    return text + "=" * (-len(text) % 4)


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _check_context(context: str) -> bytes:
    if not isinstance(context, str) or not context:
        raise ValueError("context must name the column, e.g. 'customer.id_number'")
    return context.encode("utf-8")


def _associated_data(key_id: str, context: str) -> bytes:
    # Version and key id are fixed-width ASCII, so this framing is unambiguous.
    return f"{TOKEN_VERSION}:{key_id}:".encode("ascii") + _check_context(context)


class FieldCipher:
    """Encrypts, decrypts and hashes field values; supports key rotation.

    ``FieldCipher(keys=[current, *old])`` takes raw 32-byte keys: it encrypts and
    hashes with the first and decrypts with any of them.
    """

    def __init__(self, keys: Iterable[bytes]) -> None:
        sub_keys = [_sub_keys(k) for k in keys]
        if not sub_keys:
            raise ValueError(f"FieldCipher needs at least one key; {_KEY_HINT}")
        by_id: dict[str, _SubKeys] = {}
        for sk in sub_keys:
            if sk.key_id in by_id:
                raise ValueError(
                    f"key id {sk.key_id} is given twice; list each key once"
                )
            by_id[sk.key_id] = sk
        self._current = sub_keys[0]
        self._by_id = by_id

    @classmethod
    def from_key_string(cls, current: str, *old: str) -> FieldCipher:
        """Build from url-safe base64 keys: the current one, then old ones."""
        return cls(keys=[parse_key_string(s) for s in (current, *old)])

    @property
    def key_id(self) -> str:
        """Id of the current key, the one new tokens are written with."""
        return self._current.key_id

    def encrypt(self, plaintext: str, context: str) -> str:
        """Encrypt ``plaintext`` for the column named by ``context`` (ASCII token)."""
        if not isinstance(plaintext, str):
            raise TypeError(f"encrypt expects str, got {type(plaintext).__name__}")
        sk = self._current
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = sk.aead.encrypt(
            nonce, plaintext.encode("utf-8"), _associated_data(sk.key_id, context)
        )
        return f"{TOKEN_VERSION}:{sk.key_id}:{_b64encode(nonce + sealed)}"

    def decrypt(self, token: str, context: str) -> str:
        """Return the plaintext of ``token``; DecryptionError if it is not trusted."""
        key_id, blob = _split_token(token)
        sk = self._by_id.get(key_id)
        if sk is None:
            known = ", ".join(self._by_id)
            raise DecryptionError(
                f"value was encrypted with another key (id {key_id}); this server "
                f"has key id(s) {known}; add the old key to LENDBASE_OLD_FIELD_KEYS"
            )
        nonce, sealed = blob[:_NONCE_BYTES], blob[_NONCE_BYTES:]
        try:
            plain = sk.aead.decrypt(nonce, sealed, _associated_data(key_id, context))
        except InvalidTag:
            raise DecryptionError(
                f"value does not decrypt for context {context!r}: it was altered or "
                "belongs to another column"
            ) from None
        return plain.decode("utf-8")

    def needs_reencryption(self, token: str) -> bool:
        """True if ``token`` was written with an old key (re-encrypt it)."""
        key_id, _ = _split_token(token)
        return key_id != self._current.key_id

    def keyed_hash(self, normalized_value: str, context: str) -> str:
        """Deterministic HMAC-SHA256 (64 hex) of a value, distinct per context.

        Normalize first (strip, upper-case the ID check letter, ...) so equal values
        hash equally. Used for unique indexes and exact lookups of encrypted columns.
        """
        return _keyed_hash(self._current.hash_key, normalized_value, context)

    def keyed_hashes(self, normalized_value: str, context: str) -> tuple[str, ...]:
        """The keyed hash under every key, current first (rows not yet re-hashed)."""
        return tuple(
            _keyed_hash(sk.hash_key, normalized_value, context)
            for sk in self._by_id.values()
        )


def _keyed_hash(hash_key: bytes, value: str, context: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"keyed_hash expects str, got {type(value).__name__}")
    ctx = _check_context(context)
    message = len(ctx).to_bytes(4, "big") + ctx + value.encode("utf-8")
    return hmac.new(hash_key, message, hashlib.sha256).hexdigest()


def _split_token(token: str) -> tuple[str, bytes]:
    """Parse ``v1:<key id>:<data>`` into the key id and the raw nonce + ciphertext."""
    if not isinstance(token, str):
        raise DecryptionError(
            f"expected an encrypted token (str), got {type(token).__name__}"
        )
    parts = token.split(":")
    if (
        len(parts) != 3
        or parts[0] != TOKEN_VERSION
        or not _KEY_ID_RE.fullmatch(parts[1])
    ):
        # Never echo the value: it may be plaintext that was stored unencrypted.
        raise DecryptionError(
            f"not a LendBase encrypted value ({len(token)} characters); expected "
            f"'{TOKEN_VERSION}:<key id>:<data>'"
        )
    _, key_id, body = parts
    try:
        blob = base64.b64decode(_pad(body), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        blob = b""
    # Re-encoding must give the same text: rejects non-canonical spellings of a blob.
    if len(blob) < _NONCE_BYTES + _TAG_BYTES or _b64encode(blob) != body:
        raise DecryptionError(
            "encrypted value is truncated or not valid base64; it was altered"
        )
    return key_id, blob
