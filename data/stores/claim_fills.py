"""Columns an earlier careops's claim store lacks, filled once from each claim's record."""

from __future__ import annotations

import json
from collections.abc import Callable

from sqlalchemy import Engine, Table, bindparam, select, update

from data.stores.engine import with_retries, write_transaction

BATCH = 5000


def fill_charges(engine: Engine, claims_table: Table, charges: Callable) -> None:
    """Give the claims recorded by a careops from before the charge columns their charges (`charges`:
    of a record's lines and its denial, the charged and not denied sums)."""
    c = claims_table.c
    missing = select(c.claim_id, c.record, c.denied).where(c.charged.is_(None), c.record.is_not(None))
    statement = (
        update(claims_table)
        .where(c.claim_id == bindparam("key"))
        .values(charged=bindparam("charged"), not_denied_charge=bindparam("kept"))
    )
    with engine.connect() as connection:
        if connection.execute(missing.limit(1)).first() is None:
            return

    def write() -> int:
        with write_transaction(engine) as connection:
            rows = connection.execute(missing.order_by(c.claim_id).limit(BATCH)).all()  # key order
            values = []
            for key, record, denied in rows:
                charged, kept = charges(json.loads(record)["service_lines"], denied)
                values.append({"key": key, "charged": charged, "kept": kept})
            if values:
                connection.execute(statement, values)
            return len(values)

    while with_retries(write) == BATCH:
        pass


def fill_rendering_providers(engine: Engine, claims_table: Table) -> None:
    """Give the claims recorded before the rendering provider column theirs (None when the claim has
    none), a batch at a time in key order."""
    c = claims_table.c
    npi = bindparam("npi")
    statement = update(claims_table).where(c.claim_id == bindparam("key")).values(rendering_provider_id=npi)
    after = ""

    def write() -> int:
        nonlocal after
        with write_transaction(engine) as connection:
            rows = connection.execute(
                select(c.claim_id, c.record)
                .where(c.claim_id > after, c.record.is_not(None), c.rendering_provider_id.is_(None))
                .order_by(c.claim_id)
                .limit(BATCH)
            ).all()
            values = [{"key": k, "npi": json.loads(r).get("rendering_provider_id")} for k, r in rows]
            values = [v for v in values if v["npi"]]
            if values:
                connection.execute(statement, values)
            after = rows[-1][0] if rows else after
            return len(rows)

    while with_retries(write) == BATCH:
        pass
