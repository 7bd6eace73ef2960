"""A series request for one or more events, planned as pages and joined back: pure, no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from airflow_provider_events._window import (
    KeyedPoint,
    Page,
    check_series_args,
    format_ending_at,
    join_pages,
    parse_ending_at,
    split_window,
)
from airflow_provider_events.exceptions import EventsAnalyticsConfigError, EventsAnalyticsError

SERIES_ENDPOINT = "/events/data_series"
LIST_ENDPOINT = "/events/list"
EVENTS_PAGE_SIZE = 250


@dataclass(frozen=True)
class PageRequest:
    """One request of a plan: which event, which page, and the query parameters to send."""

    event: str
    page: Page
    params: dict[str, str]

    def describe(self) -> str:
        """The event and the page's window, as an error about this request names them."""
        unit = self.params["unit"]
        return f"event {self.event!r}, {self.page.length} {unit}(s) ending at {self.params['ending_at']}"


@dataclass(frozen=True)
class SeriesQuery:
    """
    The same window for several events, checked before any request is sent.

    ``ending_at`` is fixed once (``None`` means now), so every page of every event agrees. With
    ``day`` set (a local day of 23 or 25 hours, asked as its hours), each event's series is summed
    into the one day point ``{"time": "YYYY-MM-DD", "count": total}`` as soon as it is joined.
    """

    events: tuple[str, ...]
    length: int
    unit: str
    ending_at: datetime
    app_id: str | None = None
    segment_id: str | None = None
    day: date | None = None

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
    ) -> SeriesQuery:
        """Validate the arguments (a config error names the bad one) and pin ``ending_at``."""
        if isinstance(events, str) or not events:
            raise EventsAnalyticsConfigError(
                f"events must be a non-empty list of event names, got {events!r}"
            )
        for event in events:
            check_series_args(event, length, unit)
        for name, value in (("app_id", app_id), ("segment_id", segment_id)):
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise EventsAnalyticsConfigError(f"{name} must be a non-empty string or None, got {value!r}")
        unique = tuple(dict.fromkeys(events))
        if day is not None and (unit != "hour" or ending_at is None):
            raise EventsAnalyticsConfigError(
                f"day={day} sums hours into that day: it needs unit='hour' and an ending_at, "
                f"got unit={unit!r}, ending_at={ending_at!r}"
            )
        return cls(unique, length, unit, parse_ending_at(ending_at), app_id, segment_id, day)

    def event_requests(self, event: str) -> list[PageRequest]:
        """The requests of one event's pages, oldest first."""
        optional = {"app_id": self.app_id, "segment_id": self.segment_id}
        extra = {key: value for key, value in optional.items() if value is not None}
        return [
            PageRequest(
                event,
                page,
                {
                    "event": event,
                    "length": str(page.length),
                    "unit": self.unit,
                    "ending_at": format_ending_at(page.ending_at),
                    **extra,
                },
            )
            for page in split_window(self.length, self.unit, self.ending_at)
        ]

    def join(self, event: str, pages: Sequence[list[KeyedPoint]]) -> list[dict[str, Any]]:
        """One event's checked pages, in the order of :meth:`event_requests`, joined into its series."""
        try:
            series = join_pages(pages, self.unit, self.length)
        except ValueError as err:
            raise EventsAnalyticsError(f"GET {SERIES_ENDPOINT} for {event!r}: {err}") from None
        if self.day is None:
            return series
        # The API writes a day as its date: a summed day looks exactly like any other day point.
        return [{"time": self.day.isoformat(), "count": sum(point["count"] for point in series)}]


def window_args(waiter: Any) -> dict[str, Any]:
    """The series arguments of a sensor or a trigger past the event: its window, app and segment."""
    return {
        "length": waiter.length,
        "unit": waiter.unit,
        "ending_at": waiter.ending_at,
        "app_id": waiter.app_id,
        "segment_id": waiter.segment_id,
    }


def events_page_params(page: int) -> dict[str, str]:
    """Query parameters of one page of ``/events/list``."""
    return {"page": str(page)}


def is_last_events_page(names: Sequence[str]) -> bool:
    """The last page of ``/events/list`` is the first one with fewer than 250 names."""
    return len(names) < EVENTS_PAGE_SIZE
