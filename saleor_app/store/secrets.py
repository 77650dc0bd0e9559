"""Encryption at rest for app tokens and provider credentials (MultiFernet: first key encrypts, all decrypt)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from saleor_app.domain.errors import PermanentError


class SecretCipher:
    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("at least one encryption key is needed")
        try:
            self._fernet = MultiFernet([Fernet(key.encode()) for key in keys])
        except ValueError as exc:
            raise ValueError(
                "ENCRYPTION_KEYS holds a value that is not a Fernet key (32 url-safe base64-encoded bytes); "
                "create one with `saleor-automation generate-key`"
            ) from exc

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode()).decode()
        except InvalidToken as exc:
            raise PermanentError(
                "a stored secret cannot be decrypted with the configured ENCRYPTION_KEYS; "
                "add the key it was encrypted with back to the list"
            ) from exc

    def rotate(self, ciphertext: str) -> str:
        """Re-encrypt with the first key (after a key was added in front)."""
        return self._fernet.rotate(ciphertext.encode()).decode()


def generate_key() -> str:
    return Fernet.generate_key().decode()


def load_or_create_dev_key(data_dir: Path) -> str:
    """For `make run`: one key kept in the data directory, so a restart can still read stored tokens."""
    path = data_dir / "encryption.key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = generate_key()
    path.touch(mode=0o600)
    path.write_text(key + "\n")
    return key
