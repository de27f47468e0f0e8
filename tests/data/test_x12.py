"""X12 835/837 in: denial labels by the rules of docs/domain.md, on hand-written files and real samples."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli import app
from data.loaders.canonical import load_claims
from data.loaders.tables import read_table
from data.stores.claims import ClaimStore
from data.x12.claims_837 import read_837
from data.x12.reader import X12FileError
from data.x12.remittances_835 import Adjustment, ClaimPayment, LinePayment, read_835
from services.x12_ingest import ingest_x12

ISA = (
    "ISA*00*          *00*          *ZZ*CAREOPSTEST    *ZZ*PRACTICE       "
    "*261127*1200*^*00501*000000001*0*T*:~"
)


def interchange(kind: str, version: str, body: list[str]) -> str:
    functional = "HP" if kind == "835" else "HC"
    segments = [
        f"GS*{functional}*S*R*20261127*1200*1*X*{version}",
        f"ST*{kind}*0001",
        *body,
        f"SE*{len(body) + 2}*0001",
        "GE*1*1",
        "IEA*1*000000001",
    ]
    return ISA + "\n" + "~\n".join(segments) + "~\n"


REMITTANCE = interchange(
    "835",
    "005010X221A1",
    [
        "BPR*I*100*C*CHK************20261120",
        "TRN*1*1*1",
        "N1*PR*PAYER",
        "N1*PE*PRACTICE*XX*1234567893",
        "LX*1",
        # Denied: paid 0, prior auth CO-197 (largest) and a PR-96 line; six CAS triples on one segment.
        "CLP*C1*1*500*0**12*X1",
        "NM1*QC*1*DOE*JO",
        "SVC*HC:72148*400*0**1",
        "REF*6R*C1-1",
        "CAS*CO*197*380**16*10**1*1**2*1**3*1**253*7",
        "LQ*HE*N54",
        "SVC*HC:99213:25*100*0**1",
        "REF*6R*C1-2",
        "CAS*PR*96*100",
        # Paid: contractual CO-45 and coinsurance PR-2 are not denials.
        "CLP*C2*1*200*150*20*12*X2",
        "CAS*CO*45*30",
        "SVC*HC:99214*200*150**1",
        "REF*6R*C2-1",
        "CAS*PR*2*20",
        # Predetermination: not labelled.
        "CLP*C3*25*300*0**12*X3",
        "SVC*HC:97110*300*0**4",
        "CAS*CO*197*300",
        # A remittance for a claim we never sent.
        "CLP*C9*1*50*50**12*X9",
    ],
)

CLAIMS = interchange(
    "837",
    "005010X222A1",
    [
        "BHT*0019*00*1*20261110*1200*CH",
        "HL*1**20*1",
        "NM1*85*2*PRACTICE*****XX*1234567893",
        "HL*2*1*22*0",
        "SBR*P*18*******MB",
        "NM1*IL*1*DOE*JO****MI*P100",
        "NM1*PR*2*MEDICARE*****PI*MCR-TX",
        "CLM*C1*500***11:B:1*Y*A*Y*Y",
        "REF*G1*PA-1",
        "HI*ABK:M5450*ABF:E119",
        "NM1*82*1*DOC*A****XX*1003000007",
        "LX*1",
        "SV1*HC:72148*400*UN*1***1",
        "DTP*472*D8*20261101",
        "REF*6R*C1-1",
        "LX*2",
        "SV1*HC:99213:25*100*UN*1***1",
        "DTP*472*D8*20261101",
        "REF*6R*C1-2",
        "CLM*C2*200***11:B:1*Y*A*Y*Y",
        "HI*ABK:I10",
        "LX*1",
        "SV1*HC:99214*200*UN*1***1",
        "DTP*472*D8*20261102",
        "REF*6R*C2-1",
        "CLM*C3*300***11:B:1*Y*A*Y*Y",
        "HI*ABK:M1711",
        "LX*1",
        "SV1*HC:97110*300*UN*4***1",
        "DTP*472*D8*20261103",
        "CLM*C4*80***11:B:1*Y*A*Y*Y",
        "HI*ABK:I10",
        "LX*1",
        "SV1*HC:93000*80*UN*1***1",
        "DTP*472*D8*20261104",
    ],
)


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    remittance, claims = tmp_path / "payer.835", tmp_path / "practice.837"
    remittance.write_text(REMITTANCE, encoding="utf-8")
    claims.write_text(CLAIMS, encoding="utf-8")
    return claims, remittance


def test_835_rules_on_a_hand_written_remittance(files: tuple[Path, Path]) -> None:
    payments = {p.claim_id: p for p in read_835(files[1])}
    denied = payments["C1"]
    assert denied.denied and denied.denial_category == "prior_authorization"
    assert denied.carcs == ["CO-197", "CO-16", "CO-1", "CO-2", "CO-3", "CO-253", "PR-96"]  # all six triples
    assert [line.denied for line in denied.lines] == [True, True]  # CO-197; PR-96 is a denial too
    assert denied.lines[1].modifiers == ["25"] and denied.rarcs == ["N54"]
    assert not payments["C2"].denied and payments["C2"].denial_category is None
    assert not payments["C3"].labelled


def test_837_claims_map_to_canonical_rows(files: tuple[Path, Path]) -> None:
    claims = {c["claim_id"]: c for c in read_837(files[0])}
    first = claims["C1"]
    assert (first["payer_id"], first["payer_type"], first["patient_id"]) == ("MCR-TX", "medicare", "P100")
    assert first["diagnosis_codes"] == ["M54.50", "E11.9"] and first["prior_auth_number"] == "PA-1"
    assert [line["line_id"] for line in first["service_lines"]] == ["C1-1", "C1-2"]
    assert first["rendering_provider_id"] == "1003000007" and str(first["submitted_at"]) == "2026-11-10"


def test_ingest_matches_labels_and_reports_what_does_not_match(files: tuple[Path, Path]) -> None:
    frame, report = ingest_x12([files[0]], [files[1]])
    assert report.claims == 4 and report.remittances == 4 and report.labelled == 2
    assert report.claims_without_remittance == ["C4"] and report.remittances_without_claim == ["C9"]
    assert report.unlabelled_payments == ["C3"]
    rows = frame.set_index("claim_id")
    assert rows.loc["C1", "denied"] is True and rows.loc["C1", "denial_category"] == "prior_authorization"
    lines = json.loads(rows.loc["C1", "service_lines"])
    assert [line["denied"] for line in lines] == [True, True] and lines[0]["paid"] == 0
    loaded = load_claims(frame)
    assert len(loaded.valid) == 4 and loaded.quarantined.empty


def test_cli_ingest_writes_the_file_and_goes_on_past_a_broken_one(
    files: tuple[Path, Path], tmp_path: Path
) -> None:
    broken = tmp_path / "broken.835"
    broken.write_text("ST*835*0001~BPR*I~", encoding="utf-8")
    out = tmp_path / "claims.csv"
    result = CliRunner().invoke(
        app,
        [
            "ingest",
            "x12",
            "--claims",
            str(files[0]),
            "--remits",
            str(files[1]),
            "--remits",
            str(broken),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 3, result.output
    assert "broken.835: segment ST: the file has no ISA interchange envelope" in result.output
    assert "2 labelled" in result.output and len(read_table(out)) == 4


def day_number(day: date) -> int:
    return (day - date(1970, 1, 1)).days


def test_cli_ingest_can_record_the_claims_as_payer_history(
    files: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'careops.db'}"
    monkeypatch.setenv("CAREOPS_DATABASE_URL", url)
    result = CliRunner().invoke(
        app,
        [
            "ingest",
            "x12",
            "--claims",
            str(files[0]),
            "--remits",
            str(files[1]),
            "--out",
            str(tmp_path / "claims.csv"),
            "--record",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "recorded 4 claims in the claim store" in result.output
    events = ClaimStore(url).events(["MCR-TX"], [], before_day=day_number(date(2026, 11, 21)))
    # C1 (denied) and C2 (paid) were remitted on 2026-11-20 (BPR16); C3 is a predetermination, C4 unpaid.
    assert events.claims["n"].sum() == 2 and events.claims["denied"].sum() == 1
    assert events.claims["day"].tolist() == [day_number(date(2026, 11, 20))]


X12 = "x12"


@pytest.mark.shared_data
def test_real_835_samples_give_the_labels_read_from_them(shared_data: Path) -> None:
    def payments(name: str) -> dict:
        return {p.claim_id: p for p in read_835(shared_data / X12 / name)}

    managed = payments("managed-care.835")
    assert {c: (p.paid, p.denied) for c, p in managed.items()} == {
        "5554555444": (450.0, False),
        "8765432112": (495.0, False),
    }
    assert managed["8765432112"].carcs == ["CO-A2", "PR-1", "CO-45"]
    medicare = payments("medicare-part-a.835")
    assert {c: (p.paid, p.denied, p.carcs) for c, p in medicare.items()} == {
        "666123": (138018.40, False, ["CO-45"]),
        "777777": (11980.33, False, ["CO-45"]),
    }
    secondary = payments("secondary-payment.835")
    assert [p.denied for p in secondary.values()] == [False, False]
    lines = secondary["0001000053"].lines
    assert [(line.procedure_code, line.modifiers, line.allowed) for line in lines] == [
        ("12345", ["26"], 150.0),
        ("66543", ["26"], 500.0),
    ]
    assert [f"{a.group}-{a.carc}" for a in lines[1].adjustments] == ["PR-1", "PR-2", "CO-42"]
    denial = payments("835_mult_loops.txt")["2005555A"]
    assert denial.status == "4" and denial.paid == 0 and denial.denied
    assert denial.denial_category == "missing_information"  # CO-16 (500.04) is the largest denial CARC
    # The payment date (BPR16) is when the practice learns the outcome. managed-care's 20002316 is no
    # date, and secondary-payment puts its 20050412 in BPR15, one element early: neither has a date.
    expected = {
        "managed-care.835": {None},
        "medicare-part-a.835": {date(2002, 9, 13)},
        "secondary-payment.835": {None},
        "835_mult_loops.txt": {date(2004, 10, 28)},
    }
    assert {name: {p.adjudicated_at for p in payments(name).values()} for name in expected} == expected
    assert [line.denied for line in denial.lines] == [
        True,
        False,
        False,
    ]  # OA-A7 is a deactivated payment code
    assert [line.denial_category for line in denial.lines] == ["missing_information", None, None]
    assert denial.rarcs == ["N14", "N14", "N14"]
    with pytest.raises(X12FileError, match=r"blue_cross_nc_sample\.txt: segment ST: the file has no ISA"):
        read_835(shared_data / X12 / "blue_cross_nc_sample.txt")


@pytest.mark.shared_data
def test_real_837_samples_read_and_icd9_is_quarantined_with_a_reason(shared_data: Path) -> None:
    claims = [
        c
        for name in ("demo.example1.837", "demo.cob.example3.A.837", "institutional-claim.837i")
        for c in read_837(shared_data / X12 / name)
    ]
    assert [c["claim_id"] for c in claims] == ["26463774", "26407789", "756048Q"]
    for claim in claims:
        assert abs(sum(line["charge"] for line in claim["service_lines"]) - claim["total_charge"]) < 0.01
    assert [c["claim_type"] for c in claims] == ["professional", "professional", "institutional"]
    assert claims[2]["payer_type"] == "medicare" and claims[2]["service_lines"][1]["units"] == 3.0
    names = ("demo.example1.837", "demo.cob.example3.A.837", "institutional-claim.837i")
    extra = ("835_mult_loops.txt", "blue_cross_nc_sample.txt")
    remits = [*sorted((shared_data / X12).glob("*.835")), *(shared_data / X12 / n for n in extra)]
    frame, report = ingest_x12([shared_data / X12 / n for n in names], remits)
    assert report.claims == 3 and report.remittances == 7 and len(report.claims_without_remittance) == 3
    assert len(report.remittances_without_claim) == 7 and len(report.file_errors) == 1
    loaded = load_claims(frame)
    assert loaded.quarantined["quarantine_reason"].str.contains("not an ICD-10-CM code").all()


@pytest.mark.parametrize(
    ("carc", "remarks", "category"),
    [
        ("16", ["M51"], "coding"),
        ("16", ["N14"], "missing_information"),  # a payment remark: 16 keeps its own category
        ("16", ["N54"], "prior_authorization"),
        ("96", ["N115"], "medical_necessity"),
        ("96", [], "non_covered"),
        ("197", ["M51"], "prior_authorization"),  # only the generic 16 and 96 are refined
    ],
)
def test_the_largest_denial_is_refined_by_its_remark_codes(
    carc: str, remarks: list[str], category: str
) -> None:
    group = "PR" if carc == "96" else "CO"
    line = LinePayment("99213", [], 100.0, 0.0, adjustments=[Adjustment(group, carc, 100.0)], remarks=remarks)
    other = LinePayment("93000", [], 40.0, 0.0, adjustments=[Adjustment("CO", "27", 40.0)], remarks=["M51"])
    claim = ClaimPayment("X1", "1", 140.0, 0.0, None, lines=[other, line])
    assert line.denial_category == category and claim.denial_category == category
    assert other.denial_category == "eligibility"


def _cut(text: str, before: str) -> str:
    return text[: text.index(before)]


BROKEN_REMITTANCES = {
    "no trailers": (_cut(REMITTANCE, "SE*"), "SE", "cut short"),
    "cut mid-claim": (_cut(REMITTANCE, "CLP*C2"), "SE", "cut short"),
    "no IEA": (_cut(REMITTANCE, "IEA*"), "IEA", "cut short"),
    "wrong segment count": (REMITTANCE.replace("SE*", "SE*9", 1), "SE", "segment count"),
    "wrong control number": (REMITTANCE.replace("IEA*1*000000001", "IEA*1*000000002"), "IEA", "ISA13"),
    "wrong group count": (REMITTANCE.replace("GE*1*1", "GE*2*1"), "GE", "GE01"),
    "envelope only": (
        ISA + "\nGS*HP*S*R*20261127*1200*1*X*005010X221A1~\nGE*0*1~\nIEA*1*000000001~\n",
        "ST",
        "no transactions",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN_REMITTANCES))
def test_a_broken_interchange_is_refused_whole_with_the_segment_named(case: str, tmp_path: Path) -> None:
    text, segment, words = BROKEN_REMITTANCES[case]
    path = tmp_path / "payer.835"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(X12FileError, match=f"payer.835: segment {segment}: .*{words}"):
        read_835(path)


@pytest.mark.parametrize(
    ("content", "words"),
    [(b"", "the file is empty"), (bytes(range(256)) * 40, "the file is binary, not X12 text")],
)
def test_empty_and_binary_files_get_one_line_without_their_bytes(
    content: bytes, words: str, files: tuple[Path, Path], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.835"
    bad.write_bytes(content)
    out = tmp_path / "claims.csv"
    arguments = ["ingest", "x12", "--claims", str(files[0]), "--remits", str(files[1]), "--remits", str(bad)]
    result = CliRunner().invoke(app, [*arguments, "--out", str(out)])
    assert result.exit_code == 3 and f"bad.835: segment (none): {words}" in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].isprintable() and len(errors[0]) < 200
    assert "2 labelled" in result.output and len(read_table(out)) == 4  # the good files were still read


def test_a_truncated_remittance_labels_nothing(files: tuple[Path, Path], tmp_path: Path) -> None:
    cut = tmp_path / "cut.835"
    cut.write_text(_cut(REMITTANCE, "CLP*C2"), encoding="utf-8")
    out = tmp_path / "claims.csv"
    arguments = ["ingest", "x12", "--claims", str(files[0]), "--remits", str(cut), "--out", str(out)]
    result = CliRunner().invoke(app, arguments)
    assert result.exit_code == 3 and "0 labelled" in result.output


def test_an_unknown_out_extension_is_a_one_line_error(files: tuple[Path, Path], tmp_path: Path) -> None:
    arguments = ["ingest", "x12", "--claims", str(files[0]), "--remits", str(files[1])]
    result = CliRunner().invoke(app, [*arguments, "--out", str(tmp_path / "out.txt")])
    assert result.exit_code == 2 and "unsupported extension" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert len(result.output.strip().splitlines()) == 1
