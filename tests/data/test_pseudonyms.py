"""Pseudonyms: each is the keyed HMAC of its id, and a batch gives each id's own."""

from __future__ import annotations

import hashlib
import hmac

from services.monitoring.pseudonyms import pseudonym, pseudonyms


def test_a_batch_gives_each_ids_own_keyed_hmac() -> None:
    key = b"k" * 32
    ids = ["A1", "A1", "", "é-42", "x" * 200]
    expected = [hmac.new(key, i.encode("utf-8"), hashlib.sha256).hexdigest() for i in ids]
    assert pseudonyms(key, ids) == expected == [pseudonym(key, i) for i in ids]
    assert pseudonyms(b"other", ids)[0] != expected[0]
    assert pseudonyms(key, []) == []
