"""What the emulated API means, free of I/O: buckets in fixed offsets, the generated counts, the checks.

Pure functions over plain values, so that the server modules only move bytes and keep state. It
deliberately shares no code with the client's ``_window`` module, so that the emulator checks the
client rather than repeating it.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

MAX_LENGTH = 100
PAGE_SIZE = 250
UNITS = ("day", "hour")
_STEP = {"day": timedelta(days=1), "hour": timedelta(hours=1)}
_QUARTER_SECONDS = 900
# Mean events per quarter hour: an hour holds 4 * 125 +- 125, a day about 12,000.
_QUARTER_RATE = 125
_OFFSET = r"(Z|[+-]\d{2}(?::?\d{2})?)"
_OFFSET_RE = re.compile(_OFFSET, re.ASCII | re.IGNORECASE)
_DATETIME_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?" + _OFFSET + "?",
    re.ASCII | re.IGNORECASE,
)
_ENDING_AT_ERROR = (
    "ending_at must be an ISO 8601 date-time with an explicit offset or Z, e.g. 2014-12-10T23:59:59-05:00"
    " (a '+' in a query string must be sent as %2B)"
)
_EVENT_ERROR = "event is required and must be a non-empty string"
_RECORD_FIELDS = frozenset({"event", "count", "at", "app_id", "segment_id"})
SeriesKey = tuple[str, str | None, str | None]


# --- bucket arithmetic ----------------------------------------------------------------------------


def parse_offset(text: str) -> timezone:
    """``"Z"``, ``"+05:30"``, ``"-0700"`` or ``"+05"`` as a fixed-offset timezone, else ``ValueError``."""
    if not _OFFSET_RE.fullmatch(text):
        raise ValueError(f"not a UTC offset: {text!r}")
    if text.upper() == "Z":
        return timezone.utc
    digits = text[1:].replace(":", "")
    delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:] or 0))
    return timezone(-delta if text[0] == "-" else delta)


def parse_ending_at(text: str) -> datetime:
    """Parse an ISO 8601 date-time that carries an offset; naive or malformed values raise ``ValueError``."""
    match = _DATETIME_RE.fullmatch(text)
    if not match or match.group(8) is None:
        raise ValueError(_ENDING_AT_ERROR)
    year, month, day, hour, minute, second = (int(g or 0) for g in match.groups()[:6])
    micros = int((match.group(7) or "0")[:6].ljust(6, "0"))
    try:
        return datetime(year, month, day, hour, minute, second, micros, parse_offset(match.group(8)))
    except ValueError:
        raise ValueError(_ENDING_AT_ERROR) from None


def as_fixed(moment: datetime | date) -> datetime:
    """An aware datetime in a fixed offset: naive and plain dates are UTC, zones with DST are pinned."""
    if not isinstance(moment, datetime):
        return datetime(moment.year, moment.month, moment.day, tzinfo=timezone.utc)
    if isinstance(moment.tzinfo, timezone):
        # Already fixed: converting would only risk an overflow at the ends of the calendar.
        return moment
    offset = moment.utcoffset()
    if offset is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone(offset))


def floor_bucket(moment: datetime, unit: str) -> datetime:
    """Start of the bucket that contains ``moment``, in ``moment``'s own offset."""
    if unit == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def shift(start: datetime, unit: str, buckets: int) -> datetime:
    """Move a bucket start by ``buckets`` units (negative: back); offsets are fixed, so a day is 24 h."""
    return start + _STEP[unit] * buckets


def bucket_starts(ending_at: datetime, length: int, unit: str) -> list[datetime]:
    """The ``length`` bucket starts ending with the bucket that contains ``ending_at``, oldest first."""
    last = floor_bucket(ending_at, unit)
    return [shift(last, unit, index - length + 1) for index in range(length)]


def format_bucket(start: datetime, unit: str, out_tz: timezone | None = None) -> str:
    """``YYYY-MM-DD`` for days; for hours ISO 8601 extended with offset, in ``out_tz`` if given."""
    if unit == "day":
        return start.date().isoformat()
    return (start.astimezone(out_tz) if out_tz else start).isoformat()


# --- generated counts -----------------------------------------------------------------------------


def series_key(event: str, app_id: str | None, segment_id: str | None) -> SeriesKey:
    """Which series a count belongs to: None and "" both mean no app or segment."""
    return (event, app_id or None, segment_id or None)


def quarter_index(moment: datetime) -> int:
    """The quarter hour since the epoch holding ``moment``; every UTC offset is a whole number of them."""
    return int(moment.timestamp() // _QUARTER_SECONDS)


def cumulative_count(key: SeriesKey, quarter: int) -> int:
    """
    Events of a series before the start of ``quarter``: ``q * M + h(key, q) % M``, never decreasing.

    Any bucket ``[a, b)`` then holds ``P(b) - P(a) >= 0`` events, so a day is the sum of its 24 hours
    in the same offset and every count costs two hashes, whatever the bucket's size. blake2b keeps
    the counts stable across processes, unlike hash().
    """
    text = "\x1f".join((key[0], key[1] or "", key[2] or "", str(quarter)))
    digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
    return quarter * _QUARTER_RATE + int.from_bytes(digest, "big") % _QUARTER_RATE


def base_counts(key: SeriesKey, starts: list[datetime], unit: str) -> list[int]:
    """Generated counts of consecutive buckets starting at ``starts``: one hash per bucket boundary."""
    if not starts:
        return []
    bounds = [quarter_index(start) for start in starts]
    bounds.append(quarter_index(shift(starts[-1], unit, 1)))
    totals = [cumulative_count(key, quarter) for quarter in bounds]
    return [later - earlier for earlier, later in itertools.pairwise(totals)]


# --- parameter and body checks --------------------------------------------------------------------


@dataclass(frozen=True)
class EmulatorQuery:
    """The parameters of one ``/events/data_series`` request, checked."""

    event: str
    length: int
    unit: str
    ending_at: datetime
    app_id: str | None = None
    segment_id: str | None = None


def parse_count(text: str | None) -> int | None:
    """A whole number written in ASCII digits (no sign, no spaces), else None."""
    return int(text) if text is not None and text.isascii() and text.isdigit() else None


def parse_series_query(params: dict[str, str], now: datetime) -> tuple[EmulatorQuery | None, list[str]]:
    """The query of a ``/events/data_series`` request, or the errors that name each bad parameter."""
    errors = []
    event = params.get("event", "")
    if not event:
        errors.append(_EVENT_ERROR)
    length = parse_count(params.get("length"))
    if length is None or not 1 <= length <= MAX_LENGTH:
        errors.append(f"length must be an integer between 1 and {MAX_LENGTH}")
    unit = params.get("unit", "day")
    if unit not in UNITS:
        errors.append('unit must be "day" or "hour"')
    ending_at = now
    if "ending_at" in params:
        try:
            ending_at = parse_ending_at(params["ending_at"])
        except ValueError as exc:
            errors.append(str(exc))
    if errors or length is None:
        return None, errors
    query = EmulatorQuery(event, length, unit, ending_at, params.get("app_id"), params.get("segment_id"))
    return query, []


def parse_record_body(raw: bytes) -> tuple[dict[str, Any] | None, list[str]]:
    """
    Check the JSON body of ``POST /_emulator/events``.

    The body is ``{"event": str, "count": non-zero int (default 1; negative takes events back),
    "at": ISO 8601 (default now), "app_id": str, "segment_id": str}``. Returns the keyword arguments of
    :meth:`EventsEmulator.record` (``at`` parsed), or the errors.
    """
    try:
        body = json.loads(raw or b"null")
    except ValueError:
        return None, ['the body must be JSON, e.g. {"event": "purchase", "count": 50}']
    if not isinstance(body, dict):
        return None, ['the body must be a JSON object, e.g. {"event": "purchase", "count": 50}']
    errors = [f"unknown field {name!r}" for name in sorted(set(body) - _RECORD_FIELDS)]
    event, count = body.get("event"), body.get("count", 1)
    if not isinstance(event, str) or not event:
        errors.append(_EVENT_ERROR)
    if isinstance(count, bool) or not isinstance(count, int) or count == 0:
        errors.append("count must be a non-zero integer (a negative count takes events back)")
    at = None
    if body.get("at") is not None:
        try:
            at = parse_ending_at(str(body["at"]))
        except ValueError:
            errors.append("at must be an ISO 8601 date-time with an offset or Z, e.g. 2024-01-01T12:00:00Z")
    for name in ("app_id", "segment_id"):
        if body.get(name) is not None and not isinstance(body[name], str):
            errors.append(f"{name} must be a string")
    if errors:
        return None, errors
    scope = {name: body.get(name) for name in ("app_id", "segment_id")}
    return {"event": event, "n": count, "at": at, **scope}, []
