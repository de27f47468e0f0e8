"""HL7 v2 scheduling messages (SIU, and ADT^A04 arrivals) read into schedule events.

Parsing is python-hl7's (`hl7` on PyPI): it is small, reads any 2.x version without a schema and
gives plain positional access, which is what mapping a handful of fields needs. hl7apy validates
against each version's structures and rejects the loose messages practice systems really send.

What each event means for the appointment store:

| trigger | event |
|---|---|
| S12 | a new booking |
| S13, S14, S18, S19, S23, S24 | the booking changes (reschedule, modification, services, resources) |
| S15, S16, S17 | cancelled (cancellation, discontinuation, deletion) |
| S26 | the patient did not show up |
| ADT^A04 | the patient arrived (registered) |
| S20, S21, S22 | ignored: they cancel a service or resource, not the appointment |

A filler status (SCH-25) of Complete, Arrived, Started or Checked in makes any booking event an
arrival; Noshow a no-show; Cancelled or Deleted a cancellation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

import hl7

from data.feeds.code_tables import CodeTables

EventKind = Literal["book", "update", "cancel", "no_show", "attend", "ignore"]
TRIGGERS: dict[str, EventKind] = {
    "S12": "book",
    "S13": "update",
    "S14": "update",
    "S18": "update",
    "S19": "update",
    "S23": "update",
    "S24": "update",
    "S15": "cancel",
    "S16": "cancel",
    "S17": "cancel",
    "S26": "no_show",
    "S20": "ignore",
    "S21": "ignore",
    "S22": "ignore",
}
FILLER_STATUS: dict[str, EventKind] = {
    "complete": "attend",
    "arrived": "attend",
    "started": "attend",
    "checked in": "attend",
    "checkedin": "attend",
    "noshow": "no_show",
    "no show": "no_show",
    "cancelled": "cancel",
    "canceled": "cancel",
    "deleted": "cancel",
}
EXTENSION = "ZCO"  # careops's own segment: ZCO-1 booking time, ZCO-2 reminder sent (Y/N)
# The segments read below; the rest (NTE, OBX, ...) are dropped before parsing.
READ_SEGMENTS = frozenset(
    {"MSH", "EVN", "SCH", "TQ1", "PID", "PV1", "IN1", "AIS", "AIG", "AIL", "AIP", EXTENSION}
)
MAX_SEGMENTS = 200
MAX_SEPARATORS = 20_000  # a real SIU message has a few hundred
_TIMESTAMP = re.compile(r"^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:\.\d+)?(?:[+-]\d{4})?$")
_UNITS = {"min": 1.0, "m": 1.0, "minute": 1.0, "minutes": 1.0, "mins": 1.0,
          "h": 60.0, "hr": 60.0, "hrs": 60.0, "hour": 60.0, "hours": 60.0,
          "s": 1 / 60, "sec": 1 / 60, "second": 1 / 60, "seconds": 1 / 60}  # fmt: skip


class MessageError(ValueError):
    """A message careops cannot use: `reject` (AR) for its structure, else an error (AE) in content.

    The text names fields, never their values, so that it can go to a log and into an ACK.
    """

    def __init__(self, reason: str, *, reject: bool = False, control_id: str = "", trigger: str = "") -> None:
        super().__init__(reason)
        self.reason, self.reject, self.control_id = reason, reject, control_id
        self.trigger = trigger or "unreadable"
        self.unread = True  # raised while reading, not while applying


@dataclass(frozen=True)
class ScheduleEvent:
    """One message, read: what happened to which appointment, and the fields it carries."""

    trigger: str  # e.g. "SIU^S12"
    control_id: str  # MSH-10, echoed in the ACK
    kind: EventKind
    appointment_id: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)  # canonical Appointment fields present
    recorded_at: datetime | None = None  # EVN-2, else MSH-7: when the practice system made the change
    reason: str = ""  # why an "ignore" is ignored


def parse_timestamp(text: str) -> datetime | None:
    """An HL7 TS/DTM (YYYY[MM[DD[HH[MM[SS[.S]]]]]][+-ZZZZ]) as a naive wall-clock datetime."""
    match = _TIMESTAMP.match(text.strip())
    if not match:
        return None
    year, month, day, hour, minute, second = (int(g) if g else None for g in match.groups())
    try:
        return datetime(year, month or 1, day or 1, hour or 0, minute or 0, second or 0)
    except ValueError:
        return None


def normalise(raw: bytes | str) -> str:
    """The message with CR as its only segment terminator (feeds send CR, LF or CRLF)."""
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    text = text.replace("\r\n", "\r").replace("\n", "\r")
    return "\r".join(line for line in text.split("\r") if line.strip())


class _Fields:
    """Positional access that answers "" for whatever is absent."""

    def __init__(self, message: hl7.Message) -> None:
        self.message = message

    def has(self, segment: str) -> bool:
        try:
            self.message.segment(segment)
        except KeyError:
            return False
        return True

    def get(self, segment: str, number: int, component: int = 1, repeat: int = 1) -> str:
        try:
            value = self.message.extract_field(segment, 1, number, repeat, component, 1)
        except (KeyError, IndexError):
            return ""
        return str(value).strip()

    def first(self, *places: tuple[str, int, int]) -> str:
        for segment, number, component in places:
            value = self.get(segment, number, component)
            if value:
                return value
        return ""


def _bounded(text: str) -> str:
    """The segments careops reads, and only if there are not more of them, or more separators in
    them, than a scheduling message has: a crafted frame of a megabyte of fields or segments would
    otherwise cost seconds of parsing."""
    segments = [s for s in text.split("\r") if s[:3] in READ_SEGMENTS]
    if len(segments) > MAX_SEGMENTS:
        raise MessageError(f"the message has more than {MAX_SEGMENTS} segments careops reads", reject=True)
    kept = "\r".join(segments)
    separators = set(text[3:8]) - {"\\"}  # the field separator and the encoding characters but escape
    if sum(kept.count(c) for c in separators) > MAX_SEPARATORS:
        raise MessageError(f"the message has more than {MAX_SEPARATORS} fields and components", reject=True)
    return kept


def read_message(raw: bytes | str, tables: CodeTables) -> ScheduleEvent:
    """Read one message; raises MessageError when it cannot be used."""
    text = normalise(raw)
    if not text.startswith("MSH"):
        raise MessageError("the message has no MSH segment", reject=True)
    text = _bounded(text)
    try:
        message = hl7.parse(text)
    except Exception:  # python-hl7 raises several types for broken headers
        raise MessageError("the MSH segment cannot be parsed", reject=True) from None
    f = _Fields(message)
    control_id = f.get("MSH", 10)
    message_type, trigger = f.get("MSH", 9, 1).upper(), f.get("MSH", 9, 2).upper()
    version = f.get("MSH", 12)
    if version and not version.startswith("2."):
        raise MessageError("MSH-12 is not an HL7 v2 version", reject=True, control_id=control_id)
    sent = parse_timestamp(f.get("MSH", 7))
    name = f"{message_type}^{trigger}"
    if message_type == "ADT" and trigger == "A04":
        return _arrival(f, name, control_id, sent)
    if message_type != "SIU" or trigger not in TRIGGERS:
        return ScheduleEvent(name, control_id, "ignore", recorded_at=sent, reason="not a scheduling event")
    kind = TRIGGERS[trigger]
    if kind == "ignore":
        reason = "changes a service or resource of the appointment, not the appointment"
        return ScheduleEvent(name, control_id, "ignore", recorded_at=sent, reason=reason)
    if not f.has("SCH"):
        raise MessageError(f"{name} has no SCH segment", control_id=control_id, trigger=name)
    appointment_id = f.first(("SCH", 2, 1), ("SCH", 1, 1))
    if not appointment_id:
        reason = "SCH-2 and SCH-1 (the appointment id) are both empty"
        raise MessageError(reason, control_id=control_id, trigger=name)
    status = FILLER_STATUS.get(f.get("SCH", 25).lower())
    if status is not None and kind in ("book", "update"):
        kind = status
    fields = _appointment_fields(f, tables)
    recorded = parse_timestamp(f.get("EVN", 2)) or sent
    return ScheduleEvent(name, control_id, kind, appointment_id, fields, recorded)


def _arrival(f: _Fields, name: str, control_id: str, sent: datetime | None) -> ScheduleEvent:
    fields: dict[str, Any] = {}
    patient = f.first(("PID", 3, 1), ("PID", 2, 1))
    if patient:
        fields["patient_id"] = patient
    clinic = f.first(("PV1", 3, 4), ("PV1", 3, 1))
    if clinic:
        fields["clinic_id"] = clinic
    arrived = parse_timestamp(f.get("PV1", 44)) or parse_timestamp(f.get("EVN", 2)) or sent
    if arrived is not None:
        fields["arrived_at"] = arrived
    visit = f.get("PV1", 19)  # the visit number, where the practice system puts the appointment id
    if not visit and not (patient and arrived):
        reason = "ADT^A04 names no visit (PV1-19) and no patient and time"
        raise MessageError(reason, control_id=control_id, trigger=name)
    return ScheduleEvent(name, control_id, "attend", visit or None, fields, sent)


def _minutes(amount: str, unit: str) -> int | None:
    try:
        value = float(amount)
    except ValueError:
        return None
    scale = _UNITS.get(unit.strip().lower() or "min")
    return None if scale is None else round(value * scale)


def _tq_duration(text: str) -> int | None:
    # TQ-3 duration: S10, M20, H1 (seconds, minutes, hours) or a bare number of minutes.
    match = re.fullmatch(r"([SMH]?)(\d+(?:\.\d+)?)", text.strip().upper())
    if not match:
        return None
    unit = {"S": "s", "M": "min", "H": "h", "": "min"}[match.group(1)]
    return _minutes(match.group(2), unit)


def _age(birth: date, at: datetime) -> int:
    return at.year - birth.year - ((at.month, at.day) < (birth.month, birth.day))


def _appointment_fields(f: _Fields, tables: CodeTables) -> dict[str, Any]:
    out: dict[str, Any] = {}
    starts = parse_timestamp(
        f.first(("SCH", 11, 4), ("TQ1", 7, 1), ("AIS", 4, 1), ("AIG", 8, 1), ("AIL", 6, 1), ("AIP", 6, 1))
    )
    if starts is not None:
        out["starts_at"] = starts
    duration = _minutes(f.get("SCH", 9), f.get("SCH", 10)) if f.get("SCH", 9) else None
    if duration is None:
        duration = _tq_duration(f.get("SCH", 11, 3)) if f.get("SCH", 11, 3) else None
    for segment, amount, unit in (("AIS", 7, 8), ("AIG", 11, 12), ("AIL", 9, 10), ("AIP", 9, 10)):
        if duration is None and f.get(segment, amount):
            duration = _minutes(f.get(segment, amount), f.get(segment, unit))
    if duration is not None:
        out["duration_minutes"] = duration
    patient = f.first(("PID", 3, 1), ("PID", 2, 1))
    if patient:
        out["patient_id"] = patient
    birth = parse_timestamp(f.get("PID", 7))
    if birth is not None and starts is not None:
        out["patient_age"] = _age(birth.date(), starts)
    if f.has("PID"):
        sex = f.get("PID", 8).upper()[:1]
        out["patient_sex"] = sex if sex in ("F", "M") else "U"
    clinic = f.first(("PV1", 3, 4), ("AIL", 3, 4), ("PV1", 3, 1), ("AIL", 3, 1))
    if clinic:
        out["clinic_id"] = clinic
    provider = f.first(("AIP", 3, 1), ("AIG", 3, 1), ("PV1", 7, 1))
    if provider:
        out["provider_id"] = provider
    kind = tables.appointment_type(
        (f.get("SCH", 8, 1), f.get("SCH", 8, 2)),
        (f.get("AIS", 3, 1), f.get("AIS", 3, 2)),
        (f.get("SCH", 7, 1), f.get("SCH", 7, 2)),
    )
    if kind is not None:
        out["appointment_type"] = kind
    if f.has("IN1"):
        payer = tables.payer_type((f.get("IN1", 15), f.get("IN1", 2, 1), f.get("IN1", 4, 1)))
        if payer is not None:
            out["payer_type"] = payer
    if f.has(EXTENSION):  # a booking time here is explicit; else an S12's is when it was recorded
        booked = parse_timestamp(f.get(EXTENSION, 1))
        if booked is not None:
            out["booked_at"] = booked
        reminder = f.get(EXTENSION, 2).upper()
        if reminder in ("Y", "N"):
            out["reminder_sent"] = reminder == "Y"
    return out
