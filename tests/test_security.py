"""Tests for lendbase.security: passwords, field encryption, keyed hashes and masks."""

from __future__ import annotations

import base64
import secrets

import pytest
from argon2 import PasswordHasher
from hypothesis import given
from hypothesis import strategies as st

from lendbase.security import (
    MASK_KINDS,
    DecryptionError,
    FieldCipher,
    check_password_strength,
    generate_key_string,
    hash_password,
    key_id_for,
    mask_value,
    needs_rehash,
    parse_key_string,
    verify_password,
)

ID_CONTEXT = "customer.id_number"
KEY_A = generate_key_string()
KEY_B = generate_key_string()
CIPHER_A = FieldCipher.from_key_string(KEY_A)
CIPHER_B = FieldCipher.from_key_string(KEY_B)


def _flip_byte(token: str, index: int) -> str:
    prefix, key_id, body = token.split(":")
    blob = bytearray(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    blob[index] ^= 0x01
    body = base64.urlsafe_b64encode(bytes(blob)).decode().rstrip("=")
    return f"{prefix}:{key_id}:{body}"


# --- passwords ---------------------------------------------------------------


@pytest.fixture(scope="module")
def stored_hash() -> str:
    return hash_password("correct horse 马")


def test_hash_password_is_salted_argon2id(stored_hash: str) -> None:
    assert stored_hash.startswith("$argon2id$")
    assert "correct horse" not in stored_hash


def test_verify_password_accepts_the_right_password(stored_hash: str) -> None:
    assert verify_password(stored_hash, "correct horse 马") is True


def test_verify_password_rejects_a_wrong_password(stored_hash: str) -> None:
    assert verify_password(stored_hash, "correct horse") is False


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "garbage",
        "$2b$12$abcdefghijklmnopqrstuv",
        "$argon2id$v=19$m=65536,t=3,p=4$äö$xx",
        None,
    ],
)
def test_verify_password_returns_false_for_garbage_hashes(garbage: str | None) -> None:
    assert verify_password(garbage, "whatever") is False


def test_verify_password_returns_false_for_a_truncated_hash(stored_hash: str) -> None:
    assert verify_password(stored_hash[:-4], "correct horse 马") is False


def test_needs_rehash_is_false_for_current_parameters(stored_hash: str) -> None:
    assert needs_rehash(stored_hash) is False


def test_needs_rehash_is_true_for_weaker_parameters_and_garbage() -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash("pw")
    assert needs_rehash(weak) is True
    assert needs_rehash("garbage") is True


@pytest.mark.parametrize(
    ("plain", "expected_fragment"),
    [("short", "at least 8"), ("", "at least 8"), ("12345678901", "only digits")],
)
def test_check_password_strength_explains_weak_passwords(
    plain: str, expected_fragment: str
) -> None:
    message = check_password_strength(plain)
    assert message is not None
    assert expected_fragment in message


@pytest.mark.parametrize("plain", ["abcd1234", "长密码长密码长密码", "12345678a"])
def test_check_password_strength_accepts_reasonable_passwords(plain: str) -> None:
    assert check_password_strength(plain) is None


# --- field encryption --------------------------------------------------------


def test_generate_key_string_round_trips_through_parse() -> None:
    key = generate_key_string()
    assert len(parse_key_string(key)) == 32
    assert len(parse_key_string(key.rstrip("="))) == 32  # padding is optional
    assert key != generate_key_string()


@pytest.mark.parametrize(
    "bad",
    ["", "not base64!!", base64.urlsafe_b64encode(b"x" * 16).decode(), "a" * 44 + "$"],
)
def test_from_key_string_rejects_malformed_keys_with_a_hint(bad: str) -> None:
    with pytest.raises(ValueError, match="secrets.token_bytes\\(32\\)") as info:
        FieldCipher.from_key_string(bad)
    assert "\n" not in str(info.value)


def test_field_cipher_needs_at_least_one_distinct_key() -> None:
    with pytest.raises(ValueError, match="at least one key"):
        FieldCipher(keys=[])
    raw = parse_key_string(KEY_A)
    with pytest.raises(ValueError, match="given twice"):
        FieldCipher(keys=[raw, raw])
    with pytest.raises(ValueError, match="32 bytes"):
        FieldCipher(keys=[b"short"])


def test_encrypt_round_trip_and_token_shape() -> None:
    token = CIPHER_A.encrypt("11010519491231002X", ID_CONTEXT)
    prefix, key_id, body = token.split(":")
    assert (prefix, key_id) == ("v1", key_id_for(parse_key_string(KEY_A)))
    assert token.isascii() and "11010519491231002X" not in token
    assert "=" not in body
    assert CIPHER_A.decrypt(token, ID_CONTEXT) == "11010519491231002X"


def test_encrypt_uses_a_fresh_nonce_each_time() -> None:
    assert CIPHER_A.encrypt("same", ID_CONTEXT) != CIPHER_A.encrypt("same", ID_CONTEXT)


@pytest.mark.parametrize("index", [0, 11, 12, -1])  # nonce, nonce end, ciphertext, tag
def test_decrypt_detects_a_flipped_byte(index: int) -> None:
    token = CIPHER_A.encrypt("6222020200112233445", "customer.bank_account")
    with pytest.raises(DecryptionError, match="altered"):
        CIPHER_A.decrypt(_flip_byte(token, index), "customer.bank_account")


@pytest.mark.parametrize(
    "bad_token",
    [
        "",
        "plain text",
        "v2:00000000:AAAA",
        "v1:zz:AAAA",
        "v1:00000000:!!!!",
        "v1:00000000:AAAA",
    ],
)
def test_decrypt_rejects_malformed_tokens(bad_token: str) -> None:
    with pytest.raises(DecryptionError):
        CIPHER_A.decrypt(bad_token, ID_CONTEXT)


def test_decrypt_error_does_not_echo_a_plaintext_value() -> None:
    with pytest.raises(DecryptionError, match="not a LendBase encrypted value") as info:
        CIPHER_A.decrypt("11010519491231002X", ID_CONTEXT)
    assert "110105" not in str(info.value)


def test_decrypt_rejects_a_truncated_token() -> None:
    token = CIPHER_A.encrypt("secret", ID_CONTEXT)
    with pytest.raises(DecryptionError):
        CIPHER_A.decrypt(token[:-3], ID_CONTEXT)


def test_decrypt_fails_in_another_context() -> None:
    token = CIPHER_A.encrypt("11010519491231002X", ID_CONTEXT)
    with pytest.raises(DecryptionError, match="'guarantor.id_number'"):
        CIPHER_A.decrypt(token, "guarantor.id_number")


def test_decrypt_with_the_wrong_key_names_the_key_id() -> None:
    token = CIPHER_A.encrypt("secret", ID_CONTEXT)
    with pytest.raises(
        DecryptionError, match=f"another key \\(id {CIPHER_A.key_id}\\)"
    ):
        CIPHER_B.decrypt(token, ID_CONTEXT)


def test_a_forged_key_id_does_not_decrypt() -> None:
    token = CIPHER_A.encrypt("secret", ID_CONTEXT)
    forged = token.replace(CIPHER_A.key_id, CIPHER_B.key_id, 1)
    with pytest.raises(DecryptionError, match="altered"):
        CIPHER_B.decrypt(forged, ID_CONTEXT)


def test_decryption_error_is_a_value_error() -> None:
    assert issubclass(DecryptionError, ValueError)
    assert DecryptionError.code == "decryption_failed"


def test_rotation_old_key_decrypts_new_key_encrypts() -> None:
    old_token = CIPHER_A.encrypt("13812345678", "customer.phone")
    rotated = FieldCipher.from_key_string(KEY_B, KEY_A)

    assert rotated.decrypt(old_token, "customer.phone") == "13812345678"
    assert rotated.needs_reencryption(old_token) is True

    new_token = rotated.encrypt("13812345678", "customer.phone")
    assert new_token.split(":")[1] == CIPHER_B.key_id == rotated.key_id
    assert rotated.needs_reencryption(new_token) is False
    assert CIPHER_B.decrypt(new_token, "customer.phone") == "13812345678"
    with pytest.raises(DecryptionError, match="another key"):
        CIPHER_A.decrypt(new_token, "customer.phone")


def test_constructor_takes_raw_keys_current_first() -> None:
    cipher = FieldCipher(keys=[secrets.token_bytes(32), parse_key_string(KEY_A)])
    assert cipher.decrypt(CIPHER_A.encrypt("x", ID_CONTEXT), ID_CONTEXT) == "x"
    assert cipher.key_id != CIPHER_A.key_id


def test_context_must_be_given() -> None:
    with pytest.raises(ValueError, match="context must name the column"):
        CIPHER_A.encrypt("x", "")


@given(st.text())
def test_encrypt_decrypt_round_trips_any_text(plaintext: str) -> None:
    assert (
        CIPHER_A.decrypt(CIPHER_A.encrypt(plaintext, ID_CONTEXT), ID_CONTEXT)
        == plaintext
    )


@pytest.mark.parametrize("plaintext", ["", "张三丰", "Ünïcödé 🎉", "a" * 10_000])
def test_encrypt_decrypt_round_trips_edge_cases(plaintext: str) -> None:
    token = CIPHER_A.encrypt(plaintext, "customer.name")
    assert CIPHER_A.decrypt(token, "customer.name") == plaintext


# --- keyed hash --------------------------------------------------------------


def test_keyed_hash_is_deterministic_hex() -> None:
    digest = CIPHER_A.keyed_hash("11010519491231002X", ID_CONTEXT)
    assert digest == CIPHER_A.keyed_hash("11010519491231002X", ID_CONTEXT)
    assert len(digest) == 64 and int(digest, 16) >= 0
    assert digest == FieldCipher.from_key_string(KEY_A).keyed_hash(
        "11010519491231002X", ID_CONTEXT
    )


def test_keyed_hash_differs_by_value_context_and_key() -> None:
    base = CIPHER_A.keyed_hash("11010519491231002X", ID_CONTEXT)
    assert base != CIPHER_A.keyed_hash("360426199101010071", ID_CONTEXT)
    assert base != CIPHER_A.keyed_hash("11010519491231002X", "guarantor.id_number")
    assert base != CIPHER_B.keyed_hash("11010519491231002X", ID_CONTEXT)


def test_keyed_hash_framing_keeps_context_and_value_apart() -> None:
    assert CIPHER_A.keyed_hash("bc", "a") != CIPHER_A.keyed_hash("c", "ab")


def test_keyed_hash_is_independent_of_the_encryption_key_material() -> None:
    token = CIPHER_A.encrypt("x", ID_CONTEXT)
    assert CIPHER_A.keyed_hash("x", ID_CONTEXT) not in token


def test_keyed_hashes_cover_old_keys_current_first() -> None:
    rotated = FieldCipher.from_key_string(KEY_B, KEY_A)
    hashes = rotated.keyed_hashes("13812345678", "customer.phone")
    assert hashes == (
        CIPHER_B.keyed_hash("13812345678", "customer.phone"),
        CIPHER_A.keyed_hash("13812345678", "customer.phone"),
    )


# --- masking -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        ("id_number", "11010519491231002X", "110105********002X"),
        ("phone", "13812345678", "138****5678"),
        ("bank_account", "6222020200112233445", "***************3445"),
        ("uscc", "91350100M000100Y43", "913501********0Y43"),
        ("email", "zhangsan@example.com", "z***@example.com"),
        ("email", "a@example.com", "***@example.com"),
        ("email", "no-at-sign", "n********n"),
        ("name", "张三丰", "张**"),
        ("name", "张三", "张*"),
        ("name", "李", "*"),
        ("name", "", ""),
        ("text", "hello world", "h*********d"),
        ("text", "abcd", "****"),
        ("text", "ab", "**"),
        ("text", "", ""),
        ("unknown-kind", "abcdef", "a****f"),
        # too short for the kind's pattern: fall back to the text mask
        ("id_number", "1234567890", "1********0"),
        ("phone", "1234", "****"),
        ("phone", "12345678", "1******8"),
        ("bank_account", "1234567", "1*****7"),
        ("bank_account", "12345678", "****5678"),
    ],
)
def test_mask_value_examples(kind: str, value: str, expected: str) -> None:
    assert mask_value(kind, value) == expected


@pytest.mark.parametrize("kind", sorted(MASK_KINDS))
def test_mask_value_passes_none_through(kind: str) -> None:
    assert mask_value(kind, None) is None


_no_star_text = st.text(alphabet=st.characters(blacklist_characters="*"), min_size=6)


@given(st.sampled_from(sorted(MASK_KINDS | {"other"})), _no_star_text)
def test_mask_never_returns_the_plaintext(kind: str, value: str) -> None:
    masked = mask_value(kind, value)
    assert masked is not None and masked != value
    assert "*" in masked


@given(st.sampled_from(["id_number", "phone", "bank_account", "uscc"]), st.text())
def test_mask_keeps_the_length_for_number_kinds(kind: str, value: str) -> None:
    masked = mask_value(kind, value)
    assert masked is not None and len(masked) == len(value)
