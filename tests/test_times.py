from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from pancommons.times import parse_time


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2001-02-07T08:54:21-0600", datetime(2001, 2, 7, 8, 54, 21, tzinfo=timezone(timedelta(hours=-6)))),
        ("2024-03-01T10:00:00Z", datetime(2024, 3, 1, 10, tzinfo=timezone.utc)),
        ("2013-09-28T04:50:48+0100", datetime(2013, 9, 28, 4, 50, 48, tzinfo=timezone(timedelta(hours=1)))),
    ],
)
def test_iso_times_keep_their_offset(text, expected):
    parsed = parse_time(text, "Europe/Paris")
    assert parsed.value == expected and parsed.value.utcoffset() == expected.utcoffset()
    assert parsed.zone_written


@pytest.mark.parametrize(
    "text, naive",
    [
        ("2019-02-14T14:25:57", datetime(2019, 2, 14, 14, 25, 57)),
        ("04/19/2022 14:41:59", datetime(2022, 4, 19, 14, 41, 59)),  # APS: month first
        ("2013-09-28T04-50-47.877", datetime(2013, 9, 28, 4, 50, 47, 877000)),  # SOLEIL dashed time
        ("Thu Jul 17 02:37:32 2003", datetime(2003, 7, 17, 2, 37, 32)),  # SPEC
        ("Mon, 07 Dec 1998", datetime(1998, 12, 7)),  # RFC 2822 date
        ("2016-06-03 17:41:19", datetime(2016, 6, 3, 17, 41, 19)),
        ("07-Feb-2001 08:54:21", datetime(2001, 2, 7, 8, 54, 21)),
    ],
)
def test_times_without_offset_are_read_in_the_facility_zone(text, naive):
    parsed = parse_time(text, "Europe/Paris")
    assert parsed.value == naive.replace(tzinfo=ZoneInfo("Europe/Paris"))
    assert not parsed.zone_written


@pytest.mark.parametrize("text", ["{experiment-type}", "3", "", "12:30", "yesterday", "x" * 500, "July"])
def test_text_that_is_not_a_full_date_never_becomes_one(text):
    parsed = parse_time(text)
    assert parsed.value is None and parsed.raw == text.strip()


@pytest.mark.parametrize(
    "text, utc",
    [
        ("2022-04-19 14:41:59 EST", datetime(2022, 4, 19, 19, 41, 59, tzinfo=timezone.utc)),
        ("Thu Jul 17 02:37:32 CEST 2003", datetime(2003, 7, 17, 0, 37, 32, tzinfo=timezone.utc)),
        ("2022-04-19 14:41:59 UTC+2", datetime(2022, 4, 19, 12, 41, 59, tzinfo=timezone.utc)),
        ("2022-04-19 14:41:59 GMT-05:30", datetime(2022, 4, 19, 20, 11, 59, tzinfo=timezone.utc)),
    ],
)
def test_written_zone_names_and_offsets_are_honoured(text, utc):
    parsed = parse_time(text, "Europe/Berlin")
    assert parsed.zone_written and parsed.value == utc


@pytest.mark.parametrize("text", ["2022-04-19 14:41:59 CST", "2022-04-19 14:41:59 XYZT"])
def test_ambiguous_or_unknown_zone_names_are_not_guessed(text):
    assert parse_time(text, "Europe/Berlin").value is None


@pytest.mark.parametrize("text", ["2024-03-01 10:00:00 UTC+25", "1970-01-01T00:00:00", "1970-01-01T00:00:00Z"])
def test_impossible_offsets_and_the_epoch_are_not_times(text):
    assert parse_time(text).value is None
