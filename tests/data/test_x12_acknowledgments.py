"""277CA acknowledgments: a synthetic file marks the worklist's claims exactly as the generator's truth
says, a rejected claim sent again and paid ends paid, broken files are refused in one line, and a
front-end rejection never reaches the claim store or training as a denial."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from cli import app
from data.loaders.canonical import claims_for_file, load_claims
from data.loaders.tables import read_table, write_table
from data.schemas import Claim
from data.stores.claims import ClaimStore
from data.stores.worklist import WorklistStore
from data.stores.worklist_events import events
from data.synthetic.acknowledgments import acknowledge
from data.synthetic.claims import generate_claims
from data.worklist_items import ItemScore
from data.x12.acknowledgments_277 import read_277ca
from data.x12.writer import write_277ca, write_835, write_837p
from models.tasks import caller_records, get_task

ROWS = 1000


def _listed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rows: int) -> tuple[WorklistStore, pd.DataFrame]:
    """`rows` synthetic claims on a worklist (in a store the CLI opens), marked submitted."""
    url = f"sqlite:///{tmp_path / 'careops.db'}"
    monkeypatch.setenv("CAREOPS_DATABASE_URL", url)
    frame = generate_claims(rows, seed=2024)
    write_table(claims_for_file(frame), tmp_path / "claims.csv")  # as a practice keeps them
    table = load_claims(claims_for_file(frame)).valid
    claims = [Claim.model_validate(r) for r in caller_records(get_task("denial"), table)]
    store = WorklistStore(url)
    store.add(claims, [ItemScore(0.3, 100.0, 30.0, None)] * len(claims), "1")
    for handle in range(1, len(claims) + 1):
        store.mark(handle, "submitted")
    return store, table


def _ingest(tmp_path: Path, *arguments: str) -> object:
    return CliRunner().invoke(
        app, ["ingest", "x12", *arguments, "--out", str(tmp_path / "out.csv"), "--record"]
    )


def test_a_synthetic_277ca_marks_the_listed_claims_exactly_as_its_truth_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, _ = _listed(tmp_path, monkeypatch, ROWS)
    made = CliRunner().invoke(
        app,
        ["acknowledgments", "--claims", str(tmp_path / "claims.csv"), "--out", str(tmp_path / "acks.277"),
         "--truth", str(tmp_path / "truth.csv")],
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    truth = pd.read_csv(tmp_path / "truth.csv", dtype={"status_code": str})
    assert len(truth) == ROWS and 40 <= (~truth["accepted"]).sum() <= 130  # about 8% rejected

    result = _ingest(tmp_path, "--acks", str(tmp_path / "acks.277"))
    assert result.exit_code == 0, result.output
    rejected = int((~truth["accepted"]).sum())
    assert (
        f"{rejected} claims marked rejected (fix and resubmit), {ROWS - rejected} acknowledged"
        in result.output
    )
    by_id = {i.claim.claim_id: i for i in (store.item(h) for h in range(1, ROWS + 1))}
    words = {a.claim_id: a.words for a in read_277ca(tmp_path / "acks.277")}
    for row in truth.itertuples(index=False):
        item = by_id[row.claim_id]
        if row.accepted:
            assert (item.status, item.payer_claim_number, item.status_note) == (
                "acknowledged",
                row.payer_claim_number,
                None,
            )
        else:
            assert item.status == "rejected" and item.payer_claim_number is None
            assert item.status_note == f"rejected: fix and resubmit ({words[row.claim_id]})"
    reasons = {by_id[c].status_note for c in truth.loc[~truth["accepted"], "claim_id"]}
    assert any("the rendering provider's National Provider Identifier (NPI)" in r for r in reasons)
    # A rejected claim is still to be filed: its deadline clock runs and the list can flag it.
    assert {i.status for i in by_id.values()} == {"rejected", "acknowledged"}


def test_a_claim_rejected_then_sent_again_and_paid_ends_paid(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, _ = _listed(tmp_path, monkeypatch, 3)
    claim = generate_claims(3, seed=2024).to_dict("records")[0]  # the first listed claim, with its labels
    submitted = pd.Timestamp(claim["submitted_at"]).date()
    ack = {**claim, "on": submitted + timedelta(days=1), "entity": "82"}
    write_277ca([{**ack, "category": "A7", "status_code": "562"}], tmp_path / "first.277")
    again = {**ack, "on": submitted + timedelta(days=9), "category": "A2", "status_code": "20",
             "entity": "PR", "payer_claim_number": "PCN77"}  # fmt: skip
    write_277ca([again], tmp_path / "second.277")
    lines = [{**line, "denied": False, "denial_category": None} for line in claim["service_lines"]]
    paid = {**claim, "denied": False, "denial_category": None, "service_lines": lines,
            "adjudicated_at": pd.Timestamp(submitted + timedelta(days=30))}  # fmt: skip
    write_835([paid], tmp_path / "paid.835")

    assert _ingest(tmp_path, "--acks", str(tmp_path / "first.277")).exit_code == 0
    assert store.item(1).status == "rejected"
    store.mark(1, "submitted")  # fixed and sent again
    # Files read together and out of order end where the newest says.
    result = _ingest(tmp_path, "--remits", str(tmp_path / "paid.835"), "--acks", str(tmp_path / "second.277"),
                     "--acks", str(tmp_path / "first.277"))  # fmt: skip
    assert result.exit_code == 0, result.output
    assert store.item(1).status == "paid" and store.item(1).payer_claim_number == claim["claim_id"]
    with store.engine.connect() as connection:
        trail = connection.execute(select(events.c.status).where(events.c.handle == 1).order_by(events.c.id))
        assert [s for (s,) in trail][1:] == ["rejected", "submitted", "acknowledged", "paid"]
    assert store.item(2).status == "submitted"  # claims no file names are left alone


def _without_category(text: str) -> str:
    """The first claim's status with its category (STC01-1) left out."""
    at = text.index("STC*", text.index("*PT~"))
    return text[:at] + "STC*" + text[at + 6 :]


@pytest.mark.parametrize(
    ("name", "content", "said"),
    [
        (
            "cut.277",
            lambda text: text[: text.index("SE*")],
            "segment SE: the file ends without its SE trailer: it is cut short",
        ),
        ("remit.277", None, "segment GS: the functional group is not HN (claim status notification)"),
        (
            "nocat.277",
            _without_category,
            "segment STC: a claim status has no category (STC01-1)",
        ),
        ("empty.277", lambda text: "", "segment (none): the file is empty"),
    ],
)
def test_a_broken_277ca_is_refused_in_one_line_with_a_non_zero_exit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, content, said: str
) -> None:
    store, table = _listed(tmp_path, monkeypatch, 3)
    statuses = acknowledge(table, share=1.0, seed=1)
    good = write_277ca(statuses.to_dict("records"), tmp_path / "good.277").read_text()
    path = tmp_path / name
    if content is None:
        write_835(generate_claims(3, seed=2024).to_dict("records"), path)
    else:
        path.write_text(content(good), encoding="utf-8")
    result = _ingest(tmp_path, "--acks", str(path))
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert result.exit_code == 3 and errors == [
        f"error: {name}: {said} (file rejected; the others were read)"
    ]
    assert {store.item(h).status for h in (1, 2, 3)} == {"submitted"}  # nothing applied from it


def test_front_end_rejections_never_reach_the_claim_store_or_training_as_denials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, table = _listed(tmp_path, monkeypatch, 200)
    records = generate_claims(200, seed=2024).to_dict("records")  # the listed claims, with their labels
    statuses = acknowledge(table, share=0.3, seed=3)
    rejected = set(statuses.loc[~statuses["accepted"], "claim_id"])
    write_837p(records, tmp_path / "claims.837")
    write_277ca(statuses.to_dict("records"), tmp_path / "acks.277")
    write_835([r for r in records if r["claim_id"] not in rejected], tmp_path / "remits.835")
    files = ("--claims", "claims.837", "--remits", "remits.835", "--acks", "acks.277")
    result = _ingest(tmp_path, *(f if f.startswith("--") else str(tmp_path / f) for f in files))
    assert result.exit_code == 0, result.output
    frame = read_table(tmp_path / "out.csv").set_index("claim_id")
    assert len(rejected) > 30 and frame.loc[sorted(rejected), "denied"].isna().all()
    assert frame.drop(index=sorted(rejected))["denied"].notna().all()
    labelled = ClaimStore(monkeypatch_url(tmp_path)).labelled_records()
    assert len(labelled) == 200 - len(rejected) and not set(labelled["claim_id"]) & rejected
    training = get_task("denial").load(tmp_path / "out.csv").valid
    assert not set(training.dropna(subset=["denied"])["claim_id"]) & rejected


def monkeypatch_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'careops.db'}"


def test_search_finds_a_listed_claim_by_each_id_within_the_readers_payers_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from config import Settings
    from services.access.principal import Principal
    from services.container import Services

    _, table = _listed(tmp_path, monkeypatch, 40)
    statuses = acknowledge(table, share=0.0, seed=9)
    write_277ca(statuses.to_dict("records"), tmp_path / "acks.277")
    assert _ingest(tmp_path, "--acks", str(tmp_path / "acks.277")).exit_code == 0
    services = Services.open(Settings(), log_scores=False, audit_now=True)
    try:
        claim = statuses.iloc[7]
        mine = Principal("user", "bea", "biller", payers=frozenset({claim.payer_id}))
        theirs = Principal(
            "user", "bo", "biller", payers=frozenset(set(table["payer_id"]) - {claim.payer_id})
        )
        for term in (claim.claim_id, f"  {claim.patient_id} ", claim.payer_claim_number):
            found = services.worklist.search(mine, term)
            assert claim.claim_id in {i.claim_id for i in found}
            assert {i.payer_id for i in found} == {claim.payer_id}
            assert claim.claim_id not in {i.claim_id for i in services.worklist.search(theirs, term)}
        assert services.worklist.search(mine, "") == [] and services.worklist.search(mine, "CLM") == []
    finally:
        services.close()
