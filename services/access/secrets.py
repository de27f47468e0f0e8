"""Secrets as careops keeps them: argon2id password hashes, SHA-256 digests of random keys and session
ids, new random keys of at least 128 bits, and TOTP codes."""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from datetime import UTC, datetime

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_KEY_BITS = 128
KEY_BYTES = 32  # 256 bits
_HASHER = PasswordHasher()  # argon2id, the library's RFC 9106 low-memory profile


def hash_password(password: str) -> str:
    """An argon2id hash of a password."""
    return _HASHER.hash(password)


def password_matches(stored_hash: str | None, password: str) -> bool:
    """Whether `password` matches the stored hash (False for no hash)."""
    if not stored_hash:
        _HASHER.hash(password)  # as slow as a real check, so that timing does not tell
        return False
    try:
        return _HASHER.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def new_key() -> str:
    """A new random key or password (256 bits, URL-safe)."""
    return secrets.token_urlsafe(KEY_BYTES)


def key_digest(key: str) -> str:
    """The SHA-256 digest a random key or session id is kept as."""
    return hashlib.sha256(b"careops-key:" + key.encode()).hexdigest()


def key_bits(key: str) -> float:
    """An upper bound of a key's entropy: its length times the bits of its alphabet's size."""
    alphabet = len(set(key))
    if alphabet < 2:
        return 0.0
    kinds = sum(
        size
        for size, present in (
            (26, any(c.islower() for c in key)),
            (26, any(c.isupper() for c in key)),
            (10, any(c.isdigit() for c in key)),
            (33, any(not c.isalnum() for c in key)),
        )
        if present
    )
    return len(key) * math.log2(max(kinds, 2))


def new_totp_secret() -> str:
    """A new TOTP secret (base32)."""
    return pyotp.random_base32()


def totp_step(secret: str | None, code: str, at: datetime | None = None) -> int | None:
    """The time step whose code `code` is: the current one, or the one before or after (clock skew);
    None when it is none of them."""
    if not secret:
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(at or datetime.now(UTC))
    typed = code.strip().encode()
    for step in (current - 1, current, current + 1):
        if hmac.compare_digest(totp.generate_otp(step).encode(), typed):
            return step
    return None


def totp_uri(secret: str, username: str) -> str:
    """The otpauth:// URI an authenticator app reads (shown as a QR code or typed in)."""
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name="careops")
