"""The one request type: a window of one or more events, its pages, their query parameters, and the join.

A :class:`SeriesRequest` is checked when it is built, before anything is sent, and its ``ending_at``
is pinned once, so every page of every event agrees. Each of its pages is a ``SeriesRequest`` too:
one event, at most 100 buckets, sent as one ``GET /events/data_series``. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from airflow_provider_events._checks import check_window, format_ending_at, parse_ending_at
from airflow_provider_events._paging import KeyedPoint, Window, join_pages, split_window
from airflow_provider_events._protocol import SERIES_ENDPOINT
from airflow_provider_events.exceptions import EventsAnalyticsConfigError, EventsAnalyticsError


@dataclass(frozen=True)
class SeriesRequest:
    """
    The same window for one or more events, with the app and segment they are limited to.

    ``window.ending_at`` is always set (pinned at :meth:`build`). With ``window.day`` set (a local
    day of 23 or 25 hours, asked as its hours), each event's series is summed into the one day
    point ``{"time": "YYYY-MM-DD", "count": total}`` as soon as it is joined.
    """

    events: tuple[str, ...]
    window: Window
    app_id: str | None = None
    segment_id: str | None = None

    @classmethod
    def build(
        cls,
        events: Sequence[str],
        *,
        length: int,
        unit: str = "day",
        ending_at: str | datetime | None = None,
        app_id: str | None = None,
        segment_id: str | None = None,
        day: date | None = None,
    ) -> SeriesRequest:
        """Check the arguments (a config error names the bad one) and pin ``ending_at``."""
        check_window(
            events, length=length, unit=unit, ending_at=ending_at, app_id=app_id, segment_id=segment_id
        )
        if day is not None and (unit != "hour" or ending_at is None):
            raise EventsAnalyticsConfigError(
                f"day={day} sums hours into that day: it needs unit='hour' and an ending_at, "
                f"got unit={unit!r}, ending_at={ending_at!r}"
            )
        window = Window(length, parse_ending_at(ending_at), unit, day)
        return cls(tuple(dict.fromkeys(events)), window, app_id, segment_id)

    @classmethod
    def for_window(
        cls, events: Sequence[str], window: Window, app_id: str | None, segment_id: str | None
    ) -> SeriesRequest:
        """:meth:`build` for a window planned by :mod:`._run`."""
        return cls.build(
            events,
            length=window.length,
            unit=window.unit,
            ending_at=window.ending_at,
            app_id=app_id,
            segment_id=segment_id,
            day=window.day,
        )

    @property
    def ending_at(self) -> datetime:
        """The instant the last bucket holds, pinned at :meth:`build`."""
        assert self.window.ending_at is not None
        return self.window.ending_at

    def pages(self, event: str) -> list[SeriesRequest]:
        """One event's pages, oldest first: each one request of at most 100 buckets."""
        return [
            replace(self, events=(event,), window=replace(page, day=None))
            for page in split_window(self.window.length, self.window.unit, self.ending_at)
        ]

    def params(self) -> dict[str, str]:
        """The query parameters of this request, which must be one page of one event."""
        assert len(self.events) == 1, "only a page of one event is sent"
        optional = {"app_id": self.app_id, "segment_id": self.segment_id}
        return {
            "event": self.events[0],
            "length": str(self.window.length),
            "unit": self.window.unit,
            "ending_at": format_ending_at(self.ending_at),
            **{key: value for key, value in optional.items() if value is not None},
        }

    def describe(self) -> str:
        """The events and the window, as an error about this request names them."""
        events = ", ".join(map(repr, self.events))
        window = self.window
        return (
            f"event {events}, {window.length} {window.unit}(s) ending at {format_ending_at(self.ending_at)}"
        )

    def join(self, event: str, pages: Sequence[list[KeyedPoint]]) -> list[dict[str, Any]]:
        """One event's checked pages, in the order of :meth:`pages`, joined into its series."""
        try:
            series = join_pages(pages, self.window.unit, self.window.length)
        except ValueError as err:
            raise EventsAnalyticsError(f"GET {SERIES_ENDPOINT} for {event!r}: {err}") from None
        if self.window.day is None:
            return series
        # The API writes a day as its date: a summed day looks exactly like any other day point.
        return [{"time": self.window.day.isoformat(), "count": sum(point["count"] for point in series)}]
