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
    """`pseudonym` of each id, in order. The key is prepared once and copied per id: two thirds of
    the cost of `hmac.new` for each."""
    keyed = hmac.new(key, digestmod=hashlib.sha256)
    out = []
    for record_id in record_ids:
        one = keyed.copy()
        one.update(record_id.encode("utf-8"))
        out.append(one.hexdigest())
    return out
