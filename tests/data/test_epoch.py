"""Epoch seconds: the fast path for a request's datetimes agrees with numpy's conversion."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from data.epoch import as_seconds

MOMENTS = st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 1, 1))


@given(st.lists(st.one_of(st.none(), MOMENTS), max_size=30))
def test_naive_datetimes_give_numpys_seconds(values: list[datetime | None]) -> None:
    by_numpy = as_seconds(np.array(values, dtype=object))  # an array takes numpy's conversion
    assert np.array_equal(as_seconds(values), by_numpy, equal_nan=True)
    assert np.array_equal(as_seconds(tuple(values)), by_numpy, equal_nan=True)


def test_a_second_is_floored_before_and_after_the_epoch() -> None:
    half = timedelta(microseconds=500_000)
    assert as_seconds([datetime(1970, 1, 1) - half, datetime(1970, 1, 1) + half]).tolist() == [-1.0, 0.0]


def test_dates_numpy_times_and_aware_datetimes_count_as_numpy_counts_them() -> None:
    aware = datetime(2026, 9, 14, 10, 0, tzinfo=UTC)
    mixed = [datetime(2026, 9, 14, 10, 0), date(2026, 9, 14), np.datetime64("2026-09-14T10:00:00"), None]
    seconds = as_seconds(mixed)
    assert seconds[0] == seconds[2] == 1789380000.0 and seconds[1] == 1789344000.0 and np.isnan(seconds[3])
    plus_two = aware.astimezone(timezone(timedelta(hours=2)))
    assert as_seconds([aware, plus_two]).tolist() == [1789380000.0] * 2
