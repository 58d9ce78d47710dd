"""The views' text times: fixed width, sorting as the times do, read back exactly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from ledger.projections.base import parse_ts, ts

moments = st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2200, 1, 1),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=-3)), timezone(timedelta(hours=9))]),
)


@given(moments)
def test_a_time_reads_back_equal_in_utc(moment: datetime) -> None:
    text = ts(moment)
    assert len(text) == len("2026-03-02T09:00:00.000000Z")
    assert parse_ts(text) == moment and parse_ts(text).tzinfo == UTC


@given(moments, moments)
def test_text_times_sort_as_the_times(a: datetime, b: datetime) -> None:
    assert (ts(a) < ts(b)) == (a < b)
