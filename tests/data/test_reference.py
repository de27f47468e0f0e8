"""A practice's own reference tables replace the shipped ones, and a broken one is refused by line."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import Settings
from data.reference import ReferenceTableError, load_payers, payers, shipped_text
from services.container import Services


def test_without_a_practice_table_the_shipped_payers_are_used(tmp_path: Path) -> None:
    assert load_payers(None) == payers() == load_payers(tmp_path)  # an empty directory changes nothing


def test_a_practice_payer_table_replaces_the_shipped_one(tmp_path: Path) -> None:
    text = shipped_text("payers.csv").replace(
        "MCR-TX,Medicare Part B Texas,medicare,365", "MCR-TX,Medicare,medicare,200"
    )
    (tmp_path / "payers.csv").write_text(text + "NEW-1,A new payer,commercial,60,,\n", encoding="utf-8")
    table = load_payers(tmp_path)
    assert table["MCR-TX"].timely_filing_days == 200 and table["NEW-1"].timely_filing_days == 60
    assert table["MCR-TX"].auth_required_codes == payers()["MCR-TX"].auth_required_codes


@pytest.mark.parametrize(
    "row",
    ["BAD,Bad payer,commercial,ninety,,", "BAD,Bad payer,commercial,0,,", "BAD,Bad payer,commercial,,,"],
)
def test_a_broken_row_refuses_the_file_naming_the_line_not_the_value(tmp_path: Path, row: str) -> None:
    (tmp_path / "payers.csv").write_text(shipped_text("payers.csv") + row + "\n", encoding="utf-8")
    with pytest.raises(ReferenceTableError, match=r"payers.csv line 12: ") as raised:
        load_payers(tmp_path)
    assert "ninety" not in str(raised.value) and "Bad payer" not in str(raised.value)


def test_the_worklist_reads_the_practice_table(tmp_path: Path) -> None:
    (tmp_path / "payers.csv").write_text(
        shipped_text("payers.csv").replace(
            "MCD-TX,Texas Medicaid,medicaid,95", "MCD-TX,Texas Medicaid,medicaid,30"
        ),
        encoding="utf-8",
    )
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'c.db'}", reference_dir=tmp_path, audit=False)
    services = Services.open(settings, log_scores=False)
    try:
        assert services.worklist.windows["MCD-TX"] == 30 and services.worklist.windows["MCR-TX"] == 365
    finally:
        services.close()


def test_serve_refuses_a_broken_table_in_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from cli import app

    (tmp_path / "payers.csv").write_text(
        shipped_text("payers.csv") + "BAD,Bad,commercial,x,,\n", encoding="utf-8"
    )
    monkeypatch.setenv("CAREOPS_REFERENCE_DIR", str(tmp_path))
    result = CliRunner().invoke(app, ["serve", "--port", "1"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    said = result.output.strip()
    assert said.startswith("error: ") and said.endswith(
        "payers.csv line 12: needs payer_id, payer_name, payer_type "
        "and a whole number of timely_filing_days; not started"
    )
