"""The worklist store ranks and filters in the database: every view gives the rows, counts and
choices a plain ranking of every claim in Python gives, and the page never loads the claims."""

from __future__ import annotations

import random
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from data.filing_deadlines import DeadlinePolicy
from data.loaders.canonical import claims_for_file, load_claims
from data.reference import payers as payer_table
from data.schemas import Claim
from data.stores.worklist import WorklistStore, worklist
from data.synthetic.claims import generate_claims
from data.worklist_items import ItemScore, WorkItem, WorklistView
from models.tasks import caller_records, get_task
from tests.helpers import fresh_postgres_database

REASONS = (None, "eligibility", "coding", "authorization")
WINDOWS = {p.payer_id: p.timely_filing_days for p in payer_table().values()}
TODAY = date(2026, 5, 1)  # amid the synthetic service dates: some claims past their deadline, some due
POLICY = DeadlinePolicy(warning_days=30, urgency_weight=3.0, today=TODAY)


def _direct_deadline(item: WorkItem) -> tuple[date, int, str]:
    """A claim's deadline, days left and flag computed straight from the payer table."""
    day = item.claim.service_date + timedelta(days=payer_table()[item.claim.payer_id].timely_filing_days)
    left = (day - TODAY).days
    unfiled = item.status in ("open", "fixed", "rejected")
    flag = "" if not unfiled else "past deadline" if left < 0 else "due soon" if left <= 30 else ""
    return day, left, flag


def _claims(rows: int) -> list[Claim]:
    table = load_claims(claims_for_file(generate_claims(rows, seed=77))).valid
    return [Claim.model_validate(r) for r in caller_records(get_task("denial"), table)]


def _reference(items: list[WorkItem], view: WorklistView, payers: frozenset[str] | None) -> list[int]:
    """The old ranking: every item in scope, filtered and stably sorted in Python."""
    scoped = [i for i in items if payers is None or i.claim.payer_id in payers]
    kept = [
        i
        for i in scoped
        if (not view.payer or i.claim.payer_id == view.payer)
        and (not view.category or i.top_reason == view.category)
        and i.probability >= view.min_probability
        and (view.since is None or i.claim.service_date >= view.since)
        and (view.until is None or i.claim.service_date <= view.until)
        and (view.status == "all" or i.status == view.status)
        and (
            not view.deadline
            or _direct_deadline(i)[2] == {"past": "past deadline", "near": "due soon"}.get(view.deadline)
            or (view.deadline == "due" and _direct_deadline(i)[2] != "")
        )
    ]
    key = {
        "priority": lambda i: -i.dollars_at_risk * (3.0 if _direct_deadline(i)[2] == "due soon" else 1.0),
        "deadline": lambda i: (i.status not in ("open", "fixed", "rejected"), _direct_deadline(i)[0]),
        "dollars": lambda i: -i.dollars_at_risk,
        "probability": lambda i: -i.probability,
        "service_date": lambda i: i.claim.service_date,
    }[view.sort]
    return [i.handle for i in sorted(kept, key=key)]


@pytest.fixture(scope="module")
def filled(backend: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[WorklistStore, list[WorkItem]]:
    """A list of 240 claims on SQLite and on PostgreSQL (where text and NULLs sort by other rules)."""
    if backend == "postgresql":
        store = WorklistStore(fresh_postgres_database())
    else:
        store = WorklistStore(f"sqlite:///{tmp_path_factory.mktemp('worklist') / 'w.db'}")
    claims = _claims(240)
    draw = random.Random(5)
    # Few distinct values, so that ties are common and their order is tested.
    scores = [
        ItemScore(p, 100.0, round(p * 50, 0), draw.choice(REASONS))
        for p in (draw.choice((0.1, 0.25, 0.5, 0.8)) for _ in claims)
    ]
    store.add(claims, scores, "1", WINDOWS)
    for handle in (3, 9, 27, 81, *draw.sample(range(1, 241), 30)):
        store.mark(handle, draw.choice(("fixed", "submitted")))
    items = [store.item(handle, POLICY) for handle in range(1, len(claims) + 1)]
    return store, items


def test_every_view_matches_a_plain_ranking_of_every_claim(filled) -> None:
    store, items = filled
    payers = sorted({i.claim.payer_id for i in items})
    days = sorted(i.claim.service_date for i in items)
    views = [
        WorklistView(),
        WorklistView(status="all"),
        *(WorklistView(sort=s, status="all") for s in ("priority", "deadline", "dollars", "probability")),
        WorklistView(sort="service_date", status="all"),
        *(WorklistView(deadline=d, status="all", sort="deadline") for d in ("past", "near", "due")),
        WorklistView(deadline="near", sort="dollars"),
        WorklistView(payer=payers[0], status="all"),
        WorklistView(category="coding", min_probability=0.3),
        WorklistView(since=days[60], until=days[180], sort="probability"),
        WorklistView(status="fixed"),
        WorklistView(payer="no such payer"),
    ]
    for scope in (None, frozenset(payers[:2]), frozenset()):
        in_scope = [i for i in items if scope is None or i.claim.payer_id in scope]
        for view in views:
            expected = _reference(items, view, scope)
            for limit in (None, 7):
                page = store.view(view, scope, limit, POLICY)
                assert [i.handle for i in page.items] == expected[:limit], (view, scope, limit)
                assert page.matching == len(expected) and page.listed == len(in_scope)
                assert page.left_out == len(items) - len(in_scope)
                at_risk = sum(i.dollars_at_risk for i in in_scope if i.handle in set(expected))
                assert page.at_risk == pytest.approx(at_risk)
                assert page.payers == sorted({i.claim.payer_id for i in in_scope})
                assert page.categories == sorted({i.top_reason for i in in_scope if i.top_reason})
    assert any(len(_reference(items, v, None)) > 7 for v in views)  # the limit cuts somewhere
    flags = [_direct_deadline(i)[2] for i in items]
    assert flags.count("past deadline") >= 10 and flags.count("due soon") >= 10  # both cases are tested
    assert any(i.status == "submitted" and _direct_deadline(i)[1] < 0 for i in items)  # filed: no flag


def test_deadlines_days_left_and_flags_equal_a_direct_computation_from_the_payer_table(filled) -> None:
    store, items = filled
    listed = {i.handle: i for i in store.view(WorklistView(status="all"), None, None, POLICY).items}
    for item in items:
        day, left, flag = _direct_deadline(item)
        assert (listed[item.handle].deadline.day, listed[item.handle].deadline.days_left) == (day, left)
        assert listed[item.handle].deadline.flag == flag == item.deadline.flag
    # The default ranking puts some claim due soon above one not due with more dollars at risk.
    ranked = store.view(WorklistView(), None, None, POLICY).items
    assert any(
        (a.deadline.flag, b.deadline.flag) == ("due soon", "") and a.dollars_at_risk < b.dollars_at_risk
        for n, a in enumerate(ranked)
        for b in ranked[n + 1 :]
    )


def test_an_edited_payer_table_moves_the_deadlines_of_claims_already_listed(tmp_path: Path) -> None:
    store = WorklistStore(f"sqlite:///{tmp_path / 'w.db'}")
    claims = _claims(20)
    store.add(claims, [ItemScore(0.5, 1.0, 2.0, None)] * len(claims), "1", WINDOWS)
    payer = claims[0].payer_id
    changed = store.set_windows({**WINDOWS, payer: 30})
    assert changed == sum(c.payer_id == payer for c in claims)
    assert store.set_windows({**WINDOWS, payer: 30}) == 0  # nothing left to change
    for item in store.view(WorklistView(), None, None, POLICY).items:
        window = 30 if item.payer_id == payer else WINDOWS[item.payer_id]
        assert item.deadline.day == item.service_date + timedelta(days=window)
    store.set_windows({})  # a payer no longer in the table has no deadline
    assert {i.deadline.day for i in store.view(WorklistView(), None, None, POLICY).items} == {None}


def test_a_listed_row_shows_what_the_claim_holds(filled) -> None:
    store, items = filled
    listed = {i.handle: i for i in store.view(WorklistView(status="all"), None, None).items}
    assert len(listed) == len(items)
    for item in items:
        row = listed[item.handle]
        assert (row.claim_id, row.payer_id, row.service_date, row.total_charge) == (
            item.claim.claim_id, item.claim.payer_id, item.claim.service_date, item.claim.total_charge
        )  # fmt: skip
        assert (row.status, row.probability, row.dollars_at_risk, row.top_reason) == (
            item.status, item.probability, item.dollars_at_risk, item.top_reason
        )  # fmt: skip
        assert isinstance(row.service_date, date)


def test_rows_an_earlier_careops_added_get_their_charge_when_the_store_opens(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    claims = _claims(5)
    store = WorklistStore(url)
    store.add(claims, [ItemScore(0.5, 1.0, 2.0, None)] * len(claims), "1")
    with store.engine.begin() as connection:  # as an earlier careops left them: no charge column value
        connection.execute(update(worklist).values(total_charge=None))
    assert {i.total_charge for i in store.view(WorklistView(), None, None).items} == {None}
    reopened = WorklistStore(url)
    charges = [i.total_charge for i in reopened.view(WorklistView(), None, None).items]
    assert sorted(charges) == sorted(c.total_charge for c in claims)


def test_adding_again_updates_and_reopens_and_a_repeated_claim_counts_once_as_added(tmp_path: Path) -> None:
    store = WorklistStore(f"sqlite:///{tmp_path / 'w.db'}")
    claims = _claims(4)
    assert store.add(claims[:2], [ItemScore(0.2, 1.0, 2.0, None)] * 2, "1") == (2, 0)
    store.mark(1, "submitted")
    batch = [claims[0], claims[2], claims[2], claims[3]]  # one listed, one new twice, one new
    scores = [ItemScore(p, 1.0, 10 * p, "coding") for p in (0.3, 0.4, 0.6, 0.7)]
    assert store.add(batch, scores, "2") == (2, 2)
    rows = {i.claim_id: i for i in store.view(WorklistView(status="all"), None, None).items}
    assert len(rows) == 4
    assert rows[claims[0].claim_id].status == "open" and rows[claims[0].claim_id].probability == 0.3
    assert rows[claims[2].claim_id].probability == 0.6  # the last of a repeated claim wins
    assert rows[claims[1].claim_id].probability == 0.2 and rows[claims[3].claim_id].handle == 4


def test_rows_an_earlier_careops_added_get_their_service_day_and_patient_id_when_the_store_opens(
    tmp_path: Path,
) -> None:
    from data.stores.engine import store_marks

    url = f"sqlite:///{tmp_path / 'w.db'}"
    claims = _claims(5)
    store = WorklistStore(url)
    store.add(claims, [ItemScore(0.5, 1.0, 2.0, None)] * len(claims), "1", WINDOWS)
    with store.engine.begin() as connection:  # as an earlier careops left them, before these columns
        connection.execute(update(worklist).values(service_day=None, patient_id=None))
        connection.execute(store_marks.delete())
    assert {i.deadline.day for i in store.view(WorklistView(), None, None, POLICY).items} == {None}
    reopened = WorklistStore(url)
    for item in reopened.view(WorklistView(), None, None, POLICY).items:
        window = WINDOWS[item.payer_id]
        assert item.deadline.day == item.service_date + timedelta(days=window)
    found = reopened.find(claims[2].patient_id, None, POLICY)
    assert claims[2].claim_id in {i.claim_id for i in found}
