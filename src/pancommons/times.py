"""Acquisition times as beamlines write them.

NeXus asks for ISO 8601, but real files carry ``2001-02-07T08:54:21-0600``,
``04/19/2022 14:41:59`` (APS, month first), ``2013-09-28T04-50-47.877``
(SOLEIL), SPEC's ``Thu Jul 17 02:37:32 2003`` and RFC 2822 dates.  A time
without an offset is read in the facility's zone.  What cannot be read as a
complete date is kept as text only; it never becomes "today".
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo

from dateutil import parser as dateutil_parser

# SOLEIL writes the time part with dashes: 2013-09-28T04-50-47.877
_DASHED_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ](\d{2})-(\d{2})-(\d{2}(?:\.\d+)?)(.*)$")
# Month-first US form written by EPICS areaDetector at APS.
_US_FORMATS = ("%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M:%S.%f", "%m/%d/%Y %H:%M", "%m/%d/%Y")
_SENTINELS = (datetime(1, 1, 1, 0, 0, 0), datetime(2, 2, 2, 1, 1, 1))
# Zone abbreviations with one meaning only (CST, IST, BST, MST name several zones: not guessed).
_ZONE_ABBREVIATIONS = {
    name: hours * 3600
    for name, hours in {
        "UTC": 0, "GMT": 0, "Z": 0, "WET": 0, "WEST": 1, "CET": 1, "CEST": 2, "EET": 2, "EEST": 3, "MSK": 3,
        "EST": -5, "EDT": -4, "PST": -8, "PDT": -7, "MDT": -6, "JST": 9, "KST": 9, "AEST": 10, "AEDT": 11,
    }.items()
}
# "UTC+2" means two hours ahead of UTC; dateutil reads it the POSIX way, backwards.
_UTC_PLUS = re.compile(r"\s*(?:UTC|GMT)\s*([+-])(\d{1,2})(?::?(\d{2}))?$", re.IGNORECASE)
_MAX_TEXT = 64
# Years outside this range are placeholders ("0001-01-01", "9999-12-31") or typos,
# never acquisition times; taking them would open or lock data by accident.
PLAUSIBLE_YEARS = range(1900, 2201)


@dataclass(frozen=True, slots=True)
class AcquisitionTime:
    raw: str
    value: datetime | None  # timezone-aware, in the offset the file gave (or the facility's zone)
    zone_written: bool  # False when the file gave no offset and the facility zone was assumed


def plausible(moment: datetime) -> bool:
    """Not a placeholder: within the years data exist, and not the Unix epoch itself."""
    if moment.year not in PLAUSIBLE_YEARS:
        return False
    return moment.replace(tzinfo=None) != datetime(1970, 1, 1)


@lru_cache(maxsize=32)
def facility_zone(name: str) -> tzinfo:
    return UTC if name.upper() == "UTC" else ZoneInfo(name)


def parse_time(text: str, zone: str = "UTC") -> AcquisitionTime:
    raw = text.strip()
    parsed = _parse(raw) if 0 < len(raw) <= _MAX_TEXT else None
    if parsed is None or not plausible(parsed):
        return AcquisitionTime(raw, None, False)
    if parsed.tzinfo is None:
        return AcquisitionTime(raw, parsed.replace(tzinfo=facility_zone(zone)), False)
    return AcquisitionTime(raw, parsed, True)


def _parse(raw: str) -> datetime | None:
    try:
        return datetime.fromisoformat(raw)
    except ValueError:
        pass
    dashed = _DASHED_TIME.match(raw)
    if dashed:
        day, hh, mm, rest, tail = dashed.groups()
        try:
            return datetime.fromisoformat(f"{day}T{hh}:{mm}:{rest}{tail}")
        except ValueError:
            return None
    for fmt in _US_FORMATS:
        try:
            return datetime.strptime(raw, fmt)
        except ValueError:
            continue
    return _parse_loosely(raw)


def _parse_loosely(raw: str) -> datetime | None:
    """dateutil for the remaining forms, accepted only when it found a full date.

    dateutil fills missing parts from its default; parsing twice with two
    different defaults shows which parts came from the text.
    """
    offset = _UTC_PLUS.search(raw)
    if offset:
        sign, hours, minutes = offset.groups()
        if int(hours) > 14 or int(minutes or 0) > 59:
            return None  # no zone is that far from UTC
        raw = f"{raw[: offset.start()]} {sign}{int(hours):02d}:{minutes or '00'}"
    results = []
    for default in _SENTINELS:
        with warnings.catch_warnings():
            warnings.simplefilter("error", dateutil_parser.UnknownTimezoneWarning)
            try:
                results.append(
                    dateutil_parser.parse(raw, default=default, dayfirst=False, fuzzy=False, tzinfos=_ZONE_ABBREVIATIONS)
                )
            except (ValueError, OverflowError, TypeError, dateutil_parser.UnknownTimezoneWarning):
                return None  # an unknown zone name: the time cannot be placed
    first, second = results
    if (first.year, first.month, first.day) != (second.year, second.month, second.day):
        return None
    if (first.hour, first.minute) != (second.hour, second.minute):
        # a date without a time of day: midnight, not the sentinel's hour
        return first.replace(hour=0, minute=0, second=0, microsecond=0)
    return first
