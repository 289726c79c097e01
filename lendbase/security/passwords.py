"""Password hashing with Argon2id (argon2-cffi) and a minimal strength policy.

Hashes are self-describing ``$argon2id$...`` strings, so parameters can be raised later:
``needs_rehash`` tells the login path to store a fresh hash after a successful check.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_PASSWORD_LENGTH = 8

# argon2-cffi's defaults (the RFC 9106 low-memory profile: t=3, m=64 MiB, p=4).
_HASHER = PasswordHasher()


def hash_password(plain: str) -> str:
    """Return a salted Argon2id hash of ``plain`` to store instead of the password."""
    return _HASHER.hash(plain)


def verify_password(stored_hash: str | None, plain: str) -> bool:
    """True if ``plain`` matches ``stored_hash``; False on mismatch or an unusable hash.

    Never raises for bad input, so a corrupt or missing hash simply fails the login.
    """
    if not stored_hash or not stored_hash.isascii():
        return False
    try:
        return _HASHER.verify(stored_hash, plain)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """True if ``stored_hash`` was made with other parameters (or is unreadable).

    Call after a successful ``verify_password``; if True, store a fresh
    ``hash_password(plain)``.
    """
    if not stored_hash.isascii():
        return True
    try:
        return _HASHER.check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True


def check_password_strength(plain: str) -> str | None:
    """Return why ``plain`` is too weak, or None when it is acceptable."""
    if len(plain) < MIN_PASSWORD_LENGTH:
        return (
            f"password is too short ({len(plain)} characters); "
            f"use at least {MIN_PASSWORD_LENGTH} characters"
        )
    if plain.isdigit():
        return "password is only digits; add letters or symbols"
    return None
