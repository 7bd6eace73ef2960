"""Export custom event series to XCom or to a file, aligned with the run's data interval."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_provider_events import DEFAULT_CONN_ID
from airflow_provider_events._args import (
    ALL_EVENTS,
    check_hook_params,
    check_literal_window,
    event_names,
    is_literal,
)
from airflow_provider_events._output import check_format
from airflow_provider_events._run_interval import InferredIntervalTemplates, run_interval
from airflow_provider_events._timezone import timetable_zone
from airflow_provider_events._types import EventRecord, Unit
from airflow_provider_events._window import Request, interval_requests, parse_ending_at, trailing_requests
from airflow_provider_events.exceptions import EventsAnalyticsConfigError

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage
    from airflow.sdk import Context

    from airflow_provider_events._export import Export
    from airflow_provider_events._series import SeriesQuery
    from airflow_provider_events.hooks.events import EventsAnalyticsHook

XCOM_WARN_ROWS = 10_000
XCOM_WARN_BYTES = 1_000_000
# Requests in order, oldest first; ending_at None means now.
Window = list[Request]


class EventSeriesOperator(InferredIntervalTemplates, BaseOperator):
    """
    Fetch the counts of one, several or every custom event and return them or write them to a file.

    Each record is ``{"event": str, "time": str, "count": int}``, ordered by event (in the order
    given, or listed by the API for ``"*"``) then time, oldest first; ``time`` is passed on as the
    API wrote it. Pages are fetched concurrently by
    :meth:`~airflow_provider_events.hooks.events.EventsAnalyticsHook.stream_series` (one window per
    stretch of constant UTC offset, see below), and each event's series is written as soon as it
    and every one before it are in: memory is bounded by the pages in flight, not by the size of
    the export. Files appear only whole, at the end.

    The window is, by default, exactly the run's data interval: the buckets of ``unit`` that
    start inside ``[data_interval_start, data_interval_end)``, so a daily run for 2024-01-01 with
    ``unit="hour"`` gives 24 points, 00:00 to 23:00. Reruns and backfills fetch the same window.
    Days are the local days of the DAG timetable's time zone (UTC without one): a DAG scheduled in
    ``America/New_York`` exports New York days, each sent in its own UTC offset so that it ends
    when the local day ends; a window of days across a DST change is fetched as one request per
    stretch of constant offset and joined in order. A day on which the clocks change (23 or 25
    hours) is no API day: it is fetched as its hours and summed into one record dated that day,
    which looks like any other day's, so every local day's count is exact. Hours are exact
    instants, 23, 24 or 25 a local day.
    Note that in Airflow 3 ``schedule="@daily"`` gives runs an empty data interval unless
    ``[scheduler] create_cron_data_intervals`` is on: use
    ``schedule=CronDataIntervalTimetable("@daily", timezone="UTC")``, or pass ``length``.

    :param event: a custom event name, a list of names (duplicates are dropped, order kept), or
        ``"*"`` for every custom event, listed once per task. Templated.
    :param length: number of buckets. None (the default) means exactly the run's data interval,
        which needs a run with a data interval and no ``ending_at``.
    :param unit: ``"day"`` or ``"hour"``.
    :param ending_at: only with ``length``: the last bucket is the one holding this instant (ISO
        8601 string or datetime, naive means UTC). None means the last bucket that starts before
        the end of the data interval, or now in a run without one. Templated.
    :param app_id: limit the counts to one app. Templated.
    :param segment_id: limit the counts to one analytics-enabled segment. Templated.
    :param output_path: where to write the records: a local path, a ``file://`` URL, or an
        object-storage URL such as ``s3://aws_conn_id@bucket/key.csv``. ``{event}`` and ``{day}``
        in it write one file per event and/or per day (the task then returns the list of files).
        None returns the records through XCom instead. A local target that cannot be written
        fails the task before any request; a failed task leaves no partial file. Templated.
    :param output_format: ``"csv"``, ``"json"`` (one array), ``"jsonl"`` (one object a line) or
        ``"parquet"`` (needs ``airflow-provider-events[parquet]``). None takes it from the suffix
        of ``output_path``: ``.csv``, ``.json``, ``.jsonl``, ``.ndjson``, ``.parquet``.
    :param events_conn_id: the ``events_analytics`` connection to use.
    :param hook_params: keyword arguments for
        :class:`~airflow_provider_events.hooks.events.EventsAnalyticsHook`, e.g.
        ``{"timeout": 60, "retry_limit": 8, "max_concurrency": 8}``.
    :param check_event_names: list the API's event names once before fetching, and fail with
        :class:`~airflow_provider_events.exceptions.EventsAnalyticsConfigError` naming each
        unknown name and the listed names closest to it, instead of exporting what the API
        answers for a name it does not know. Names are case-sensitive.

    Arguments that templates cannot change are checked when the DAG is parsed; the rendered ones
    before the first request. Every bad argument raises ``EventsAnalyticsConfigError``, a
    ``ValueError``.
    """

    template_fields: Sequence[str] = ("event", "ending_at", "app_id", "segment_id", "output_path")
    ui_color = "#e8f4fd"

    def __init__(
        self,
        *,
        event: str | list[str],
        length: int | None = None,
        unit: Unit = "day",
        ending_at: str | datetime | None = None,
        app_id: str | None = None,
        segment_id: str | None = None,
        output_path: str | None = None,
        output_format: str | None = None,
        events_conn_id: str = DEFAULT_CONN_ID,
        hook_params: dict[str, Any] | None = None,
        check_event_names: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if length is not None and (isinstance(length, bool) or not isinstance(length, int) or length < 1):
            raise EventsAnalyticsConfigError(
                f"length must be an integer >= 1, or None for the run's data interval, got {length!r}"
            )
        names = event_names(event) if is_literal(event) else ["templated"]
        check_literal_window(
            names or [ALL_EVENTS],
            length=1 if length is None else length,
            unit=unit,
            ending_at=ending_at,
            app_id=app_id,
            segment_id=segment_id,
        )
        check_format(output_format)
        self.hook_params = check_hook_params(hook_params)
        self.check_event_names = check_event_names
        self.event = event
        self.length = length
        self.unit = unit
        self.ending_at = ending_at
        self.app_id = app_id
        self.segment_id = segment_id
        self.output_path = output_path
        self.output_format = output_format
        self.events_conn_id = events_conn_id

    def execute(self, context: Context) -> list[EventRecord] | str | list[str]:
        """Check every argument and the destination, then stream every series to XCom or the file(s)."""
        names = event_names(self.event)
        output_format = self._resolve_format()
        window = self._window(context)
        self._check_query(names, window)
        # Last of the checks (placeholders, pyarrow, then the folder, which it creates).
        export = self._open_export(output_format)
        hook = self._hook()

        events = hook.list_events() if names is None else self._listed(hook, names)
        if export is None:
            records: list[EventRecord] = []
            self._fetch(hook, events, window, lambda event, points: records.extend(
                {"event": event, "time": point["time"], "count": point["count"]} for point in points
            ))  # fmt: skip
            self._warn_if_large(records)
            return records
        return self._write(export, hook, events, window)

    # -- arguments, all checked before the first request -------------------------------------------

    def _resolve_format(self) -> str | None:
        from airflow_provider_events._output import resolve_format

        if self.output_path is None:
            return None
        if not isinstance(self.output_path, str) or not self.output_path.strip():
            raise EventsAnalyticsConfigError(
                f"output_path must be a non-empty path or URL, or None, got {self.output_path!r}"
            )
        return resolve_format(self.output_path, self.output_format)

    def _window(self, context: Context) -> Window:
        """
        The window as requests, oldest first; ``ending_at`` None means now.

        Days are the local days of the DAG timetable's zone (UTC without one), one request per
        stretch of constant UTC offset, and the hours of each day the clocks change; any other
        window is one request.
        """
        start, end = run_interval(context)  # type: ignore[arg-type]
        zone = timetable_zone(context)
        if self.length is None:
            if self.ending_at is not None:
                raise EventsAnalyticsConfigError(
                    "ending_at needs length: pass length (the number of buckets ending at ending_at), "
                    "or leave both unset to export exactly the run's data interval"
                )
            if start is None or end is None:
                raise EventsAnalyticsConfigError(
                    "this run has no data interval: pass length (and optionally ending_at)"
                )
            try:
                return interval_requests(start, end, self.unit, zone)
            except ValueError as err:
                raise EventsAnalyticsConfigError(
                    f"{err}, so the run's data interval holds no {self.unit}: pass length, or schedule the "
                    "DAG with data intervals, e.g. CronDataIntervalTimetable('@daily', timezone='UTC')"
                ) from None
        if self.ending_at is not None:
            return [Request(self.length, parse_ending_at(self.ending_at), self.unit)]
        if start is None or end is None:
            return [Request(self.length, None, self.unit)]
        # The same last bucket as a length=None run over the same interval, in the same offset.
        return trailing_requests(self.length, self.unit, start, end, zone)

    def _check_query(self, names: list[str] | None, window: Window) -> None:
        # The hook checks the same way, but only after "*" has been listed: check before any request.
        self._queries(names or ["*"], window)

    def _queries(self, events: list[str], window: Window) -> list[SeriesQuery]:
        from airflow_provider_events._series import SeriesQuery

        return [
            SeriesQuery.build(
                events,
                length=request.length,
                unit=request.unit,
                ending_at=request.ending_at,
                app_id=self.app_id,
                segment_id=self.segment_id,
                day=request.day,
            )
            for request in window
        ]

    def _hook(self) -> EventsAnalyticsHook:
        from airflow_provider_events.hooks.events import EventsAnalyticsHook

        return EventsAnalyticsHook(self.events_conn_id, **self.hook_params)

    def _listed(self, hook: EventsAnalyticsHook, names: list[str]) -> list[str]:
        """``names``, once the API's listing (one per task) has shown each of them to exist."""
        if self.check_event_names:
            from airflow_provider_events._names import require_listed

            require_listed(names, hook.list_events())
        return names

    # -- fetching and output -----------------------------------------------------------------------

    def _open_export(self, output_format: str | None) -> Export | None:
        from airflow_provider_events._export import open_export

        if self.output_path is None or output_format is None:
            return None
        return open_export(self.output_path, output_format, self.unit)

    def _fetch(
        self,
        hook: EventsAnalyticsHook,
        events: list[str],
        window: Window,
        on_series: Callable[[str, list[dict[str, Any]]], None],
    ) -> None:
        if not events:
            self.log.warning("The API lists no custom events: there is nothing to export")
            return
        # Each event's windows come out one after the other: records stay in (event, time) order,
        # and a day asked as its hours is summed into its one day point before on_series sees it.
        hook.stream_series(self._queries(events, window), on_series)

    def _warn_if_large(self, records: list[EventRecord]) -> None:
        import json

        self.log.info("Returning %d record(s) through XCom", len(records))
        if len(records) > XCOM_WARN_ROWS or len(json.dumps(records)) > XCOM_WARN_BYTES:
            self.log.warning(
                "Returning %d records through XCom, which keeps them in the metadata database and "
                "loads them whole into every task that pulls them: pass output_path to write them "
                "to a file or object storage instead",
                len(records),
            )

    def _write(
        self, export: Export, hook: EventsAnalyticsHook, events: list[str], window: Window
    ) -> str | list[str]:
        with export:  # every file appears whole at the end, or none does
            self._fetch(hook, events, window, export.write)
        where = export.locations[0] if len(export.locations) == 1 else f"{len(export.locations)} file(s)"
        self.log.info("Wrote %d row(s) as %s to %s", export.rows, export.output_format, where)
        return export.locations if export.fields else export.locations[0]

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage | None:
        """The file written, as an OpenLineage output dataset (None without the openlineage provider)."""
        try:
            from airflow.providers.common.compat.openlineage.facet import Dataset
            from airflow.providers.openlineage.extractors import OperatorLineage
        except ImportError:
            return None
        from airflow_provider_events._output import lineage_dataset

        if not self.output_path:
            return OperatorLineage()
        namespace, name = lineage_dataset(self.output_path)
        return OperatorLineage(outputs=[Dataset(namespace=namespace, name=name)])
