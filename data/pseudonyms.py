"""Keyed pseudonyms of record ids: the prediction log joins outcomes by them, never by the ids."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable


def pseudonym(key: bytes, record_id: str) -> str:
    """HMAC-SHA256 of the record id under `key`, as hex; without the key it cannot be reversed or
    recomputed from a guessed id."""
    return hmac.new(key, record_id.encode("utf-8"), hashlib.sha256).hexdigest()


def pseudonyms(key: bytes, record_ids: Iterable[str]) -> list[str]:
    """`pseudonym` of each id, in order."""
    return [hmac.new(key, r.encode("utf-8"), hashlib.sha256).hexdigest() for r in record_ids]
