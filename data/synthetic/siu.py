"""Synthetic appointments written as the HL7 v2 stream a practice-management system would send.

Each appointment is an S12 sent when it was booked (MSH-7 = the booking time). A share of them is
first booked for another time and moved by an S13 before its day; a share of extra bookings, not in
the table, is cancelled by an S15. Known outcomes follow at the start: an S26 for a no-show, an
ADT^A04 for an arrival. Applied in time order, the stream leaves the appointment store as seeding it
with the table does, plus the cancelled extras: the X12 round trip's counterpart for schedules.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd

from data.epoch import is_missing

TYPE_CODES = {
    "follow_up": "FOLLOWUP^Follow-up visit",
    "annual_physical": "CHECKUP^Annual physical",
    "new_patient": "NP^New patient",
    "procedure": "PROC^Procedure",
    "telehealth": "TELE^Telehealth",
}
PLAN_TYPES = {"medicare": "MEDICARE", "medicaid": "MEDICAID", "self_pay": "SELF PAY", "commercial": "PPO"}


@dataclass(frozen=True)
class StreamMessage:
    """One message of the stream and when the practice system sent it."""

    sent_at: datetime
    text: str  # segments joined by CR


def _ts(moment: datetime) -> str:
    return moment.strftime("%Y%m%d%H%M%S")


def _birth_date(age: int, starts: datetime) -> date:
    """A birth date that makes the patient `age` at `starts` (the day before that birthday)."""
    year = starts.year - age
    try:
        birthday = starts.date().replace(year=year)
    except ValueError:  # 29 February
        birthday = date(year, 2, 28)
    return birthday - timedelta(days=1)


class _Writer:
    def __init__(self, facility: str) -> None:
        self.facility = facility
        self.count = 0

    def msh(self, sent: datetime, kind: str) -> str:
        self.count += 1
        return (
            f"MSH|^~\\&|SYNTHPM|{self.facility}|CAREOPS|CAREOPS|{_ts(sent)}||{kind}|M{self.count:08d}|P|2.5.1"
        )

    def booking(self, sent: datetime, trigger: str, row: dict, starts: datetime) -> StreamMessage:
        a = row
        segments = [
            self.msh(sent, f"SIU^{trigger}"),
            (
                f"SCH|{a['appointment_id']}|{a['appointment_id']}|||||ROUTINE|"
                f"{TYPE_CODES.get(a['appointment_type'], a['appointment_type'])}|"
                f"{int(a['duration_minutes'])}|min|^^^{_ts(starts)}" + "|" * 14 + "Booked"
            ),
            self.pid(a, starts),
            f"PV1|1|O|^^^{a['clinic_id']}||||{a['provider_id']}",
            f"IN1|1|{a['payer_type'].upper()}|||||||||||||{PLAN_TYPES.get(a['payer_type'], a['payer_type'])}",
            f"AIP|1||{a['provider_id']}|||{_ts(starts)}|||{int(a['duration_minutes'])}|min",
            f"ZCO||{'Y' if a['reminder_sent'] else 'N'}",
        ]
        return StreamMessage(sent, "\r".join(segments))

    def pid(self, a: dict, starts: datetime) -> str:
        birth = _birth_date(int(a["patient_age"]), starts).strftime("%Y%m%d")
        return f"PID|1||{a['patient_id']}^^^SYNTHPM^MR||SYNTHETIC^PATIENT||{birth}|{a['patient_sex']}"

    def outcome(self, sent: datetime, trigger: str, a: dict, starts: datetime) -> StreamMessage:
        segments = [
            self.msh(sent, f"SIU^{trigger}"),
            f"SCH|{a['appointment_id']}|{a['appointment_id']}",
            self.pid(a, starts),
        ]
        return StreamMessage(sent, "\r".join(segments))

    def arrival(self, sent: datetime, a: dict, starts: datetime) -> StreamMessage:
        segments = [
            self.msh(sent, "ADT^A04"),
            f"EVN|A04|{_ts(sent)}",
            self.pid(a, starts),
            f"PV1|1|O|^^^{a['clinic_id']}||||{a['provider_id']}" + "|" * 12 + f"{a['appointment_id']}"
            + "|" * 25 + _ts(sent),
        ]  # fmt: skip
        return StreamMessage(sent, "\r".join(segments))


def siu_stream(
    table: pd.DataFrame, seed: int = 0, reschedule_share: float = 0.1, cancel_share: float = 0.05
) -> list[StreamMessage]:
    """The table (canonical appointments, `no_show` where known) as messages in the order sent."""
    rng = np.random.default_rng(seed)
    writer = _Writer("SYNTH")
    out: list[StreamMessage] = []
    rows = table.to_dict("records")
    for row in rows:
        booked, starts = (
            pd.Timestamp(row["booked_at"]).to_pydatetime(),
            pd.Timestamp(row["starts_at"]).to_pydatetime(),
        )
        lead = starts - booked
        if rng.random() < reschedule_share and lead > timedelta(hours=2):
            # Booked first a few days later than it will happen, moved halfway to the visit.
            first = starts + timedelta(days=int(rng.integers(1, 8)))
            out.append(writer.booking(booked, "S12", row, first))
            out.append(writer.booking(booked + lead / 2, "S13", row, starts))
        else:
            out.append(writer.booking(booked, "S12", row, starts))
        no_show = row.get("no_show")
        if not is_missing(no_show):
            if bool(no_show):
                out.append(
                    writer.outcome(
                        starts + timedelta(minutes=int(row["duration_minutes"])), "S26", row, starts
                    )
                )
            else:
                out.append(writer.arrival(starts, row, starts))
    for index in np.flatnonzero(rng.random(len(rows)) < cancel_share):
        row = dict(rows[index])
        row["appointment_id"] = f"X{row['appointment_id']}"  # an extra booking, cancelled
        booked, starts = (
            pd.Timestamp(row["booked_at"]).to_pydatetime(),
            pd.Timestamp(row["starts_at"]).to_pydatetime(),
        )
        out.append(writer.booking(booked, "S12", row, starts))
        out.append(writer.outcome(booked + (starts - booked) / 3, "S15", row, starts))
    out.sort(key=lambda message: message.sent_at)  # stable: a booking stays before its own change
    return out
