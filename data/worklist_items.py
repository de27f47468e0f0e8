"""Claims on the biller's worklist, with their latest scores and status (kept by data/stores/worklist.py),
and the views the list is read through."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from data.schemas import Claim

# A claim's way: open -> fixed -> submitted -> rejected (277CA: fix and resubmit) or acknowledged ->
# paid, or denied (835) -> appealed or corrected -> paid or written off.
STATUSES = (
    "open", "fixed", "submitted", "rejected", "acknowledged", "denied", "appealed", "corrected", "paid",
    "written_off",
)  # fmt: skip
STATUS_LABELS = {
    "rejected": "rejected: fix and resubmit",
    "acknowledged": "acknowledged by the payer",
    "written_off": "written off",
}
NEXT = {  # what a biller may mark a claim next, by its status
    "denied": ("appealed", "corrected", "paid", "written_off"),
    "appealed": ("paid", "written_off", "corrected"),
    "corrected": ("paid", "written_off", "appealed"),
    "paid": ("open",),
    "written_off": ("open",),
}
NOT_YET_ADJUDICATED = ("fixed", "submitted", "open")
MARKABLE = ("open", "fixed", "submitted", "appealed", "corrected", "paid", "written_off")  # by a biller
RESOLVED = ("paid", "written_off")
ADJUDICATED = frozenset({"denied", "appealed", "corrected", *RESOLVED})  # a 277CA no longer changes these
SORTS = {
    "priority": "dollars at risk, weighted by urgency",
    "deadline": "filing deadline, soonest first",
    "dollars": "dollars at risk",
    "probability": "denial probability",
    "service_date": "service date",
}
DEADLINES = {"": "any", "due": "past or due soon", "past": "past deadline", "near": "due soon"}


@dataclass(frozen=True)
class Deadline:
    """A claim's filing deadline as of today: the day, the days left and its flag ("" when neither
    past nor due soon, or already filed)."""

    day: date | None
    days_left: int | None
    flag: str


@dataclass(frozen=True)
class WorkItem:
    """One claim on the worklist, whole, with its latest score."""

    handle: int
    claim: Claim
    status: str
    probability: float
    expected_payment: float
    dollars_at_risk: float
    top_reason: str | None
    model_version: str | None
    deadline: Deadline
    payer_claim_number: str | None = None
    status_note: str | None = None  # a rejection's reason in words, or a denial's CARC/RARC in words
    denial_codes: str | None = None  # the 835's group-CARC and RARC codes, e.g. "CO-50;N115"


@dataclass(frozen=True)
class ListedItem:
    """One row of the list: what the page and the export show of a claim, without the claim itself."""

    handle: int
    claim_id: str
    payer_id: str
    service_date: date
    total_charge: float
    status: str
    probability: float
    expected_payment: float
    dollars_at_risk: float
    top_reason: str | None
    deadline: Deadline


@dataclass(frozen=True)
class ItemScore:
    """What a scoring of one claim gives the list."""

    probability: float
    expected_payment: float
    dollars_at_risk: float
    top_reason: str | None


@dataclass(frozen=True)
class WorklistView:
    """What the biller narrowed the list to and how it is ranked (none of it identifies a patient).
    Ties keep the order the claims came in."""

    payer: str = ""
    category: str = ""
    min_probability: float = 0.0
    since: date | None = None
    until: date | None = None
    status: str = "open"
    sort: str = "priority"
    deadline: str = ""  # a key of DEADLINES


@dataclass(frozen=True)
class WorklistPage:
    """The first rows of a view, with what the page says of the whole of it."""

    items: list[ListedItem]
    matching: int  # rows of the view
    listed: int  # rows in the reader's scope, whatever the view
    left_out: int  # rows outside the reader's scope
    at_risk: float  # dollars at risk over the view
    payers: list[str]  # the payers in scope, to choose from
    categories: list[str]  # the likely reasons in scope, to choose from
