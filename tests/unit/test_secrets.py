"""Secrets at rest: MultiFernet encryption with key rotation; a missing key is a clear error."""

from __future__ import annotations

import stat

import pytest
from cryptography.fernet import Fernet

from saleor_app.domain.errors import PermanentError
from saleor_app.store.secrets import SecretCipher, load_or_create_dev_key


def test_round_trip_does_not_store_plaintext() -> None:
    cipher = SecretCipher([Fernet.generate_key().decode()])
    stored = cipher.encrypt("app-token-123")
    assert "app-token-123" not in stored
    assert cipher.decrypt(stored) == "app-token-123"


def test_rotation_first_key_encrypts_all_decrypt() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    stored_with_old = SecretCipher([old]).encrypt("token")
    rotated_cipher = SecretCipher([new, old])
    assert rotated_cipher.decrypt(stored_with_old) == "token"
    rotated = rotated_cipher.rotate(stored_with_old)
    assert SecretCipher([new]).decrypt(rotated) == "token"


def test_missing_key_is_a_clear_permanent_error() -> None:
    stored = SecretCipher([Fernet.generate_key().decode()]).encrypt("token")
    with pytest.raises(PermanentError, match="add the key it was encrypted with"):
        SecretCipher([Fernet.generate_key().decode()]).decrypt(stored)


def test_a_value_that_is_not_a_fernet_key_is_refused() -> None:
    with pytest.raises(ValueError, match="generate-key"):
        SecretCipher(["not-a-key"])


def test_dev_key_is_created_once_and_private(tmp_path) -> None:
    first = load_or_create_dev_key(tmp_path / "data")
    assert load_or_create_dev_key(tmp_path / "data") == first
    mode = (tmp_path / "data" / "encryption.key").stat().st_mode
    assert stat.S_IMODE(mode) & 0o077 == 0
