"""The denial analytics equal a direct computation from the claims recorded, and the denials worked
follow the worklist's events: a claim denied, appealed and paid is overturned after its days."""

from __future__ import annotations

import json
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from data.loaders.canonical import claims_for_file, load_claims
from data.schemas import Claim
from data.stores.claims import ClaimStore
from data.stores.engine import store_engine
from data.stores.worklist import WorklistStore
from data.synthetic.claims import generate_claims
from data.worklist_items import ItemScore
from data.x12.remittances_835 import read_835
from data.x12.writer import write_835
from models.tasks import caller_records, get_task
from services.access.audit import AuditTrail
from services.access.principal import system
from services.denial_analytics import FIXABLE, denial_analytics, worked_denials
from tests.helpers import fresh_postgres_database

WEEKS = 6


@pytest.fixture(scope="module")
def recorded(backend: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, pd.DataFrame]:
    """4,000 claims recorded on SQLite and on PostgreSQL (which groups by other rules)."""
    if backend == "postgresql":
        url = fresh_postgres_database()
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('analytics') / 'careops.db'}"
    claims = load_claims(claims_for_file(generate_claims(4000, seed=91))).valid
    ClaimStore(url).record(claims)
    WorklistStore(url)  # an empty list: no denial worked yet
    return url, claims


def _direct(claims: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Claims and lines of the last WEEKS weeks of adjudication, with their week, straight from the table."""
    days = (pd.to_datetime(claims["adjudicated_at"]) - pd.Timestamp("1970-01-01")).dt.days
    kept = claims[days > days.max() - 7 * WEEKS].copy()
    stamp = pd.to_datetime(kept["adjudicated_at"])
    kept["week"] = (stamp - pd.to_timedelta(stamp.dt.day_of_week, unit="D")).dt.strftime("%Y-%m-%d")
    lines = [
        {"week": week, "procedure_code": line["procedure_code"], "denied": float(line["denied"])}
        for week, raw in zip(kept["week"], kept["service_lines"], strict=True)
        for line in (json.loads(raw) if isinstance(raw, str) else raw)
    ]
    return kept, pd.DataFrame(lines)


def test_each_breakdown_equals_a_direct_computation(recorded) -> None:
    url, claims = recorded
    analytics = denial_analytics(store_engine(url), WEEKS)
    kept, lines = _direct(claims)
    kept["provider"] = kept["rendering_provider_id"].fillna("none on the claim")
    by = {b.name: b for b in analytics.breakdowns}
    expected = {
        "payer": kept.groupby("payer_id")["denied"].agg(["size", "sum"]),
        "rendering provider": kept.groupby("provider")["denied"].agg(["size", "sum"]),
        "procedure": lines.groupby("procedure_code")["denied"].agg(["size", "sum"]),
    }
    for name, table in expected.items():
        top = table[table["sum"] > 0].sort_values(["sum", "size"], ascending=[False, True]).head(10)
        got = by[name].overall
        assert list(got["key"]) == list(top.index), name
        assert np.allclose(got["denial_rate"], top["sum"] / top["size"]), name
        week = kept["week"].value_counts().idxmax()  # a whole week
        frame = lines if name == "procedure" else kept
        column = {"payer": "payer_id", "rendering provider": "provider", "procedure": "procedure_code"}[name]
        for key in top.index:
            rows = frame[(frame["week"] == week) & (frame[column] == key)]
            if len(rows):
                assert by[name].weekly.at[key, week] == pytest.approx(rows["denied"].mean()), (name, key)
            else:
                assert np.isnan(by[name].weekly.at[key, week]), (name, key)
    reasons = kept[kept["denied"] == 1].groupby("denial_category").size().sort_values(ascending=False)
    got = by["reason"].overall.set_index("key")
    assert set(got.index) == set(reasons.index[:10])
    for reason, count in reasons.head(10).items():
        assert got.at[reason, "denial_rate"] == pytest.approx(count / len(kept)), reason
    assert by["rendering provider"].overall["key"].iloc[0] == "none on the claim"  # the synthetic truth


def test_the_fixable_share_is_of_denied_dollars_by_reason(recorded) -> None:
    url, claims = recorded
    analytics = denial_analytics(store_engine(url), WEEKS)
    kept, _ = _direct(claims)
    denied = kept[kept["denied"] == 1]
    dollars = denied["total_charge"]
    share = dollars[denied["denial_category"].isin(FIXABLE)].sum() / dollars.sum()
    assert analytics.fixable_share == pytest.approx(share, rel=1e-6) and 0.3 < share < 1
    assert len(analytics.fixable) == kept["week"].nunique()


def test_a_scope_counts_only_its_payers(recorded) -> None:
    url, claims = recorded
    payer = sorted(claims["payer_id"].unique())[0]
    by = {b.name: b for b in denial_analytics(store_engine(url), WEEKS, frozenset({payer})).breakdowns}
    assert list(by["payer"].overall["key"]) == [payer]


def test_denials_worked_follow_the_events(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'careops.db'}"
    frame = generate_claims(3, seed=92)
    listed = load_claims(claims_for_file(frame)).valid
    store = WorklistStore(url)
    claims = [Claim.model_validate(r) for r in caller_records(get_task("denial"), listed)]
    store.add(claims, [ItemScore(0.5, 1.0, 1.0, None)] * 3, "1")
    from services.worklist import WorklistService  # the real service over the real stores

    service = WorklistService(store, ClaimStore(url), None, AuditTrail(None, synchronous=True), {})
    submitted = pd.Timestamp(frame["submitted_at"].iloc[0])

    def remit(days: int, denied: bool, which: list[int]) -> None:
        records = []
        for i in which:
            record = frame.to_dict("records")[i]
            lines = [{**line, "denied": denied, "denial_category": "coding" if denied else None}
                     for line in record["service_lines"]]  # fmt: skip
            when = submitted + timedelta(days=days)
            records.append({**record, "denied": denied, "denial_category": "coding" if denied else None,
                            "service_lines": lines, "adjudicated_at": when})  # fmt: skip
        service.settle(system("tests"), read_835(write_835(records, tmp_path / f"r{days}.835")), "tests")

    remit(10, True, [0, 1, 2])  # all three denied on day 10
    store.mark(1, "appealed")
    store.mark(2, "corrected")
    remit(35, False, [0])  # the appeal wins: paid 25 days after the denial
    store.mark(2, "written_off")
    worked = worked_denials(store_engine(url))
    counts = worked[["denied", "appealed", "corrected", "overturned", "written_off", "open"]].sum()
    assert counts.tolist() == [3, 1, 1, 1, 1, 1]
    assert len(worked) == 1 and worked["median_days"].iloc[0] >= 25  # the write-off is dated today
