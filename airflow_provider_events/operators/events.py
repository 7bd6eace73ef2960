"""Export custom event series to XCom or to a file, aligned with the run's data interval."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_provider_events import DEFAULT_CONN_ID
from airflow_provider_events._checks import (
    ALL_EVENTS,
    check_format,
    check_hook_params,
    check_length_or_none,
    check_literal_window,
    check_output_path,
    event_names,
    is_literal,
)
from airflow_provider_events._run import InferredIntervalTemplates, export_windows, timetable_zone
from airflow_provider_events._types import EventRecord, Series, Unit

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage
    from airflow.sdk import Context

    from airflow_provider_events._output.export import Export
    from airflow_provider_events._paging import Window
    from airflow_provider_events._request import SeriesRequest
    from airflow_provider_events.hooks.events import EventsAnalyticsHook

XCOM_WARN_ROWS = 10_000
XCOM_WARN_BYTES = 1_000_000


class EventSeriesOperator(InferredIntervalTemplates, BaseOperator):
    """
    Fetch the counts of one, several or every custom event and return them or write them to a file.

    Each record is ``{"event": str, "time": str, "count": int}``, ordered by event (in the order
    given, or listed by the API for ``"*"``) then time, oldest first; ``time`` is passed on as the
    API wrote it. Pages are fetched concurrently by
    :meth:`~airflow_provider_events.hooks.events.EventsAnalyticsHook.iter_series` (one window per
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
        in it write one file per event and/or per day (the task then returns the list of files);
        ``{day}`` is the bucket's calendar day in the DAG timetable's zone (UTC without one), for
        hours too, so a local-zone daily run's hours land in one file named for its local day.
        One file is open at a time, whatever the number of days. None returns the records
        through XCom instead. A target that cannot be written (a local folder, or a bucket the
        connection cannot upload to) fails the task before any request; a failed task leaves no
        partial file. Templated.
    :param output_format: ``"csv"``, ``"json"`` (one array), ``"jsonl"`` (one object a line) or
        ``"parquet"`` (needs ``airflow-provider-events[parquet]``). None takes it from the suffix
        of ``output_path``: ``.csv``, ``.json``, ``.jsonl``, ``.ndjson``, ``.parquet``.
    :param events_conn_id: the ``events_analytics`` connection to use.
    :param hook_params: keyword arguments for
        :class:`~airflow_provider_events.hooks.events.EventsAnalyticsHook`, e.g.
        ``{"timeout": 60, "retry_limit": 8, "max_concurrency": 8}``.
    :param check_event_names: list the API's event names once before fetching (the map indexes
        of a mapped task share one listing per DAG run through XCom), and fail with
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
        check_length_or_none(length)
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
        windows = export_windows(context, self.length, self.unit, self.ending_at)  # type: ignore[arg-type]
        self._requests(names or [ALL_EVENTS], windows)  # checks the rendered window before any request
        # Last of the checks (placeholders, pyarrow, then the folder, which it creates).
        export = self._open_export(output_format, timetable_zone(context))
        with self._hook() as hook:
            events = self._listed(hook, names, context)
            if export is None:
                records: list[EventRecord] = []
                for event, points in self._series(hook, events, windows):
                    records.extend({"event": event, "time": p["time"], "count": p["count"]} for p in points)
                self._warn_if_large(records)
                return records
            return self._write(export, hook, events, windows)

    # -- arguments, all checked before the first request -------------------------------------------

    def _resolve_format(self) -> str | None:
        from airflow_provider_events._output.formats import resolve_format

        if self.output_path is None:
            return None
        return resolve_format(check_output_path(self.output_path), self.output_format)

    def _requests(self, events: list[str], windows: list[Window]) -> list[SeriesRequest]:
        from airflow_provider_events._request import SeriesRequest

        return [SeriesRequest.for_window(events, window, self.app_id, self.segment_id) for window in windows]

    def _hook(self) -> EventsAnalyticsHook:
        from airflow_provider_events.hooks.events import EventsAnalyticsHook

        return EventsAnalyticsHook(self.events_conn_id, **self.hook_params)

    def _listed(self, hook: EventsAnalyticsHook, names: list[str] | None, context: Context) -> list[str]:
        """
        ``names`` (every listed name for ``"*"``), once the API's listing has shown each to exist.

        One listing per task; the map indexes of a mapped task share one per DAG run (see
        :mod:`airflow_provider_events._listing`).
        """
        if names is not None and not self.check_event_names:
            return names
        from airflow_provider_events._listing import task_listing

        listed = task_listing(hook, context, names)
        if names is None:
            return listed
        from airflow_provider_events._names import require_listed

        require_listed(names, listed)
        return names

    # -- fetching and output -----------------------------------------------------------------------

    def _open_export(self, output_format: str | None, zone: tzinfo | None) -> Export | None:
        from airflow_provider_events._output.export import open_export

        if self.output_path is None or output_format is None:
            return None
        # {day} names the bucket's day in the zone the run's days are counted in.
        return open_export(self.output_path, output_format, self.unit, zone)

    def _series(
        self, hook: EventsAnalyticsHook, events: list[str], windows: list[Window]
    ) -> Iterator[tuple[str, Series]]:
        if not events:
            self.log.warning("The API lists no custom events: there is nothing to export")
            return iter(())
        # Each event's windows come out one after the other: records stay in (event, time) order,
        # and a day asked as its hours is summed into its one day point before it is handed on.
        return hook.iter_series(self._requests(events, windows))

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
        self, export: Export, hook: EventsAnalyticsHook, events: list[str], windows: list[Window]
    ) -> str | list[str]:
        with export:  # every file appears whole at the end, or none does
            for event, points in self._series(hook, events, windows):
                export.write(event, points)
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
        from airflow_provider_events._output.staging import lineage_dataset

        if not self.output_path:
            return OperatorLineage()
        namespace, name = lineage_dataset(self.output_path)
        return OperatorLineage(outputs=[Dataset(namespace=namespace, name=name)])
