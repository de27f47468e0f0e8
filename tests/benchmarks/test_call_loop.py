"""Eight weeks of the scheduler's loop through the real app, against a known call effect.

Each business day, at 10:00, a scheduler opens tomorrow's day page for each of 8 clinics, calls
everyone on the call list not marked "do not call" and records each call on the page, and accepts
the plan's first suggested overbooking, into which the practice system then books a patient. A
call reaches the patient with probability REACH; a reached patient's odds of a no-show fall by 30%
(ODDS_RATIO). The synthetic world's cancellations are posted, with their times, as they happen; at
the end of each day, that day's other outcomes are drawn from the visits' true probabilities (as
reached or not) and posted to the API. 20% of the list is held out at random.

The numbers page's randomised estimate must cover the true effect of reaching a patient; its
observational estimate is printed beside it; no patient is listed twice within the cooldown; and
the page's refilled minutes equal a direct count from the store.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from data.epoch import epoch_day
from data.synthetic.appointments import Cancellations, generate_appointments
from models.tasks import NOSHOW, caller_records
from services.access.principal import system
from serving.app import create_app
from tests.bodies import sign_in_form
from tests.direct_counts import direct_refills, store_slots
from tests.helpers import SCHEDULER, TrainedStore, ensure_users, make_settings

pytestmark = pytest.mark.bench

START, WEEKS, CLINICS = date(2026, 8, 3), 8, 8
REACH, ODDS_RATIO, HOLDOUT, COOLDOWN = 0.6, 0.7, 0.2, 7


def reached_probability(p: np.ndarray) -> np.ndarray:
    odds = p / (1 - p) * ODDS_RATIO
    return odds / (1 + odds)


def call_list(html: str) -> list[tuple[str, str, str | None]]:
    """(start HH:MM, patient, record handle or None when held out) of each row of the call list."""
    section = html.split('id="calls"')[1].split("</table>")[0] if 'id="calls"' in html else ""
    rows = []
    for row in section.split("<tr>")[2:]:
        start, patient = re.findall(r"<td>([^<]+)</td>", row)[:2]
        handle = re.search(r'name="record" value="([^"]+)"', row)
        rows.append((start, patient, handle.group(1) if handle else None))
    return rows


def estimates(html: str) -> dict[str, tuple[float, float, float]]:
    """(difference, low, high) in percentage points of each line of the page's call-effect table."""
    table = html.split('id="call-effect"')[1].split("</table>")[0]
    found = {}
    for name, body in re.findall(r'data-estimate="([^"]+)">(.*?)</tr>', table, re.S):
        values = re.findall(r'class="(?:difference|low|high)">([^<]+)<', body)
        if values:
            found[name] = tuple(float(v) for v in values)
    return found


class Practice:
    """The simulated practice: the synthetic world, the truth, and what its schedulers did."""

    def __init__(self, client: TestClient, world: pd.DataFrame) -> None:
        self.client, self.world = client, world
        self.truth = dict(zip(world["appointment_id"], world["true_no_show_probability"], strict=True))
        self.rng = np.random.default_rng(2026)
        self.reached: set[str] = set()
        self.cancelled: set[str] = set()
        self.overbooked: list[dict] = []
        self.overbooked_came: set[str] = set()
        starts = world["starts_at"].dt.strftime("%H:%M")
        keys = zip(world["patient_id"], world["clinic_id"], world["day"], starts, strict=True)
        self.by_key = dict(zip(keys, world["appointment_id"], strict=True))

    def book(self, records: list[dict]) -> None:
        for start in range(0, len(records), 1000):
            chunk = {"appointments": records[start : start + 1000]}
            assert self.client.post("/v1/noshow/score", json=chunk, headers=SCHEDULER).status_code == 200

    def post_outcomes(self, outcomes: list[dict]) -> None:
        body = {"outcomes": outcomes}
        assert self.client.post("/v1/noshow/outcomes", json=body, headers=SCHEDULER).status_code == 200

    def cancel_until(self, moment: datetime) -> None:
        """Post the world's cancellations made before `moment`, each with its time."""
        due = self.world[
            (self.world["cancelled_at"] < moment) & ~self.world["appointment_id"].isin(self.cancelled)
        ]
        if not due.empty:
            self.post_outcomes(
                [
                    {"appointment_id": a, "outcome": "cancelled", "cancelled_at": t.isoformat()}
                    for a, t in zip(due["appointment_id"], due["cancelled_at"], strict=True)
                ]
            )
            self.cancelled |= set(due["appointment_id"])

    def work_the_day_page(self, clinic: str, day: date, now: datetime) -> None:
        """Call the list (not those held out), record each call, accept one overbooking and book it."""
        client = self.client
        html = client.get("/app/day", params={"clinic": clinic, "date": day.isoformat()}).text
        csrf = re.search(r'name="csrf" value="([^"]+)"', html).group(1)
        for start, patient, handle in call_list(html):
            if handle is None:
                continue
            visit = self.by_key[(patient, clinic, day, start)]
            answered = self.rng.random() < REACH
            if answered:
                self.reached.add(visit)
            form = {"csrf": csrf, "record": handle, "clinic": clinic, "date": day.isoformat()}
            outcome = "confirmed" if answered else self.rng.choice(["voicemail", "no_answer"])
            posted = client.post("/app/day/call", data=form | {"outcome": outcome}, follow_redirects=False)
            assert posted.status_code == 303
        suggested = re.search(r'action="/app/day/accept".*?name="slot" value="([^"]+)"', html, re.S)
        if suggested is None:
            return
        form = {"csrf": csrf, "slot": suggested.group(1), "count": "1"}
        assert client.post("/app/day/accept", data=form, follow_redirects=False).status_code == 303
        scheduling = client.app.state.careops.services.scheduling
        accepted = scheduling.accepted(system("simulation"), clinic, datetime.combine(day, time()))
        taken = {(v["provider_id"], v["starts_at"]) for v in self.overbooked}
        for (provider, starts), _ in accepted.items():
            if (provider, starts.isoformat()) in taken:
                continue
            visit = dict(caller_records(NOSHOW, self.world.head(1))[0])
            visit |= {
                "appointment_id": f"OB-{clinic}-{day.isoformat()}-{provider}",
                "patient_id": f"OBP-{len(self.overbooked)}",
                "clinic_id": clinic,
                "provider_id": provider,
                "starts_at": starts.isoformat(),
                "booked_at": now.replace(tzinfo=None).isoformat(),
                "duration_minutes": 15,
            }
            self.book([visit])
            self.overbooked.append(visit)

    def end_the_day(self, day: date) -> None:
        """Post the day's cancellations, then draw and post its other outcomes."""
        self.cancel_until(datetime.combine(day + timedelta(days=1), time()))
        kept = self.world[(self.world["day"] == day) & ~self.world["appointment_id"].isin(self.cancelled)]
        visits = kept["appointment_id"]
        p = np.array([self.truth[a] for a in visits])
        p = np.where(visits.isin(self.reached), reached_probability(p), p)
        extra = [v["appointment_id"] for v in self.overbooked if v["starts_at"][:10] == day.isoformat()]
        missed = np.concatenate([self.rng.random(len(p)) < p, self.rng.random(len(extra)) < 0.25])
        ids = [*visits, *extra]
        self.post_outcomes(
            [
                {"appointment_id": a, "outcome": "no_show" if m else "attended"}
                for a, m in zip(ids, missed, strict=True)
            ]
        )
        self.overbooked_came |= {a for a, m in zip(extra, missed[len(p) :], strict=True) if not m}

    def true_effect(self, last_day: date) -> float:
        """The mean fall, in percentage points, of the no-show probability of the reached visits that
        have happened (a cancelled one fell by nothing: it was not drawn)."""
        happened = self.reached & set(self.world.loc[self.world["day"] < last_day, "appointment_id"])
        p0 = np.array([0.0 if a in self.cancelled else self.truth[a] for a in sorted(happened)])
        return -100 * float(np.mean(p0 - reached_probability(p0)))


def read_table(url: str, sql: str, columns: list[str]) -> pd.DataFrame:
    engine = create_engine(url)
    with engine.connect() as connection:
        frame = pd.DataFrame(connection.execute(text(sql)).all(), columns=columns)
    engine.dispose()
    return frame


def test_eight_weeks_of_calls_recover_the_true_effect(trained_store: TrainedStore, tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path,
        tracking_uri=trained_store.settings.tracking_uri,
        call_holdout_share=HOLDOUT,
        call_cooldown_days=COOLDOWN,
    )
    ensure_users(settings)
    world = generate_appointments(
        9_600, seed=5, start=START, business_days=WEEKS * 5 + 1, cancellations=Cancellations()
    )
    world["day"] = world["starts_at"].dt.date
    days = sorted(world["day"].unique())
    with TestClient(create_app(settings)) as client:
        practice = Practice(client, world)
        practice.book(caller_records(NOSHOW, world))
        services = client.app.state.careops.services
        assert sign_in_form(client, "scheduler").status_code == 303
        for today, tomorrow in pairwise(days):
            now = datetime.combine(today, time(10), tzinfo=UTC)
            services.calls.clock = lambda now=now: now
            services.scheduling.clock = lambda now=now: now.replace(tzinfo=None)
            practice.cancel_until(now.replace(tzinfo=None))
            for clinic in [f"C{k:02d}" for k in range(1, CLINICS + 1)]:
                practice.work_the_day_page(clinic, tomorrow, now)
            practice.end_the_day(today)
        page = client.get("/app/numbers", params={"weeks": WEEKS + 1}).text

    true_effect = practice.true_effect(days[-1])
    found = estimates(page)
    difference, low, high = found["per-reached"]
    listed = read_table(
        settings.database_url,
        "SELECT appointment_id, patient_id, listed_at, held_out FROM careops_call_list",
        ["appointment_id", "patient_id", "listed_at", "held_out"],
    )
    print(
        f"\n{len(listed)} visits listed over {len(days) - 1} days, {listed['held_out'].mean():.1%} held out, "
        f"{len(practice.reached)} reached, {len(practice.cancelled)} cancelled, "
        f"{len(practice.overbooked)} overbooked; true effect of reaching a patient {true_effect:+.1f} pp; "
        f"randomised {difference:+.1f} pp [{low:+.1f}, {high:+.1f}]; "
        f"listed-to-call vs held-out {found['randomised']}; observational {found['observational']}"
    )
    assert low <= true_effect <= high
    assert found["observational"] and found["randomised"][0] < 0
    assert 0.15 < listed["held_out"].mean() < 0.25 and len(listed) > 2_000

    # No patient is listed twice within the cooldown.
    listed["listed_at"] = pd.to_datetime(listed["listed_at"])
    gaps = listed.sort_values("listed_at").groupby("patient_id")["listed_at"].diff().dropna()
    assert (gaps >= timedelta(days=COOLDOWN)).all(), gaps.min()

    # The page's refilled minutes are a direct count from the store.
    total = re.search(r'id="refilled-total" data-freed="(\d+)" data-refilled="(\d+)"', page)
    last = epoch_day(days[-2])
    direct = direct_refills(store_slots(settings.database_url, last - 7 * (WEEKS + 1) + 1, last))
    slots = store_slots(settings.database_url, last - 7 * (WEEKS + 1) + 1, last)
    freed = slots[slots["outcome"].isin(["cancelled", "no_show"])]
    freed_minutes = int(((freed["ends_at"] - freed["starts_at"]).dt.total_seconds() // 60).sum())
    print(f"freed {freed_minutes} min, refilled {sum(direct.values())} min; page {total.groups()}")
    assert (int(total.group(1)), int(total.group(2))) == (freed_minutes, sum(direct.values()))
    assert sum(direct.values()) > 1_000 and len(practice.overbooked) > 100
    # And the patients booked into accepted overbookings, and those who came, are the simulation's.
    taken = [v for v in practice.overbooked if v["starts_at"][:10] <= days[-2].isoformat()]
    said = re.search(r"Of (\d+) patients booked into the (\d+) accepted overbookings, (\d+) came", page)
    assert tuple(map(int, said.groups())) == (len(taken), len(taken), len(practice.overbooked_came))
