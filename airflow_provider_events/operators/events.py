"""Export custom event series to XCom or to a file, aligned with the run's data interval."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_provider_events import DEFAULT_CONN_ID
from airflow_provider_events._output import check_format
from airflow_provider_events._run_interval import InferredIntervalTemplates, run_interval
from airflow_provider_events._window import UNIT_STEP, UNITS, interval_window, parse_ending_at

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage
    from airflow.sdk import Context

    from airflow_provider_events.hooks.events import EventsAnalyticsHook

ALL_EVENTS = "*"
XCOM_WARN_ROWS = 10_000
XCOM_WARN_BYTES = 1_000_000


class EventSeriesOperator(InferredIntervalTemplates, BaseOperator):
    """
    Fetch the counts of one, several or every custom event and return them or write them to a file.

    Each record is ``{"event": str, "time": str, "count": int}``, ordered by event (in the order
    given, or listed by the API for ``"*"``) then time, oldest first; ``time`` is passed on as the
    API wrote it. Every page of every event is fetched concurrently by one
    :meth:`~airflow_provider_events.hooks.events.EventsAnalyticsHook.get_series_many` call, and
    nothing is written until all of them have arrived.

    The window is, by default, exactly the run's data interval: the buckets of ``unit`` that
    start inside ``[data_interval_start, data_interval_end)``, so a daily run for 2024-01-01 with
    ``unit="hour"`` gives 24 points, 00:00 to 23:00. Reruns and backfills fetch the same window.
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
        object-storage URL such as ``s3://aws_conn_id@bucket/key.csv``. None returns the records
        through XCom instead. A failed task leaves no partial file. Templated.
    :param output_format: ``"csv"``, ``"json"`` (one array) or ``"jsonl"`` (one object a line).
        None takes it from the suffix of ``output_path``: ``.csv``, ``.json``, ``.jsonl``, ``.ndjson``.
    :param events_conn_id: the ``events_analytics`` connection to use.
    :param hook_params: keyword arguments for
        :class:`~airflow_provider_events.hooks.events.EventsAnalyticsHook`, e.g.
        ``{"timeout": 60, "retry_limit": 8, "max_concurrency": 8}``.
    """

    template_fields: Sequence[str] = ("event", "ending_at", "app_id", "segment_id", "output_path")
    ui_color = "#e8f4fd"

    def __init__(
        self,
        *,
        event: str | list[str],
        length: int | None = None,
        unit: str = "day",
        ending_at: str | datetime | None = None,
        app_id: str | None = None,
        segment_id: str | None = None,
        output_path: str | None = None,
        output_format: str | None = None,
        events_conn_id: str = DEFAULT_CONN_ID,
        hook_params: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if length is not None and (isinstance(length, bool) or not isinstance(length, int) or length < 1):
            raise ValueError(
                f"length must be an integer >= 1, or None for the run's data interval, got {length!r}"
            )
        if unit not in UNITS:
            raise ValueError(f"unit must be 'day' or 'hour', got {unit!r}")
        check_format(output_format)
        if hook_params is not None and not isinstance(hook_params, dict):
            raise ValueError(
                f"hook_params must be a dict of EventsAnalyticsHook arguments, got {hook_params!r}"
            )
        self.event = event
        self.length = length
        self.unit = unit
        self.ending_at = ending_at
        self.app_id = app_id
        self.segment_id = segment_id
        self.output_path = output_path
        self.output_format = output_format
        self.events_conn_id = events_conn_id
        self.hook_params = dict(hook_params or {})

    def execute(self, context: Context) -> list[dict[str, Any]] | str:
        """Check every argument, fetch every series, then return the records or write them."""
        names = self._event_names()
        output_format = self._resolve_format()
        length, ending_at = self._window(context)
        self._check_query(names, length, ending_at)
        hook = self._hook()

        events = names if names is not None else hook.list_events()
        records = self._fetch(hook, events, length, ending_at)
        if self.output_path is None or output_format is None:
            self._warn_if_large(records)
            return records
        return self._write(records, self.output_path, output_format)

    # -- arguments, all checked before the first request -------------------------------------------

    def _event_names(self) -> list[str] | None:
        """The names to fetch, de-duplicated in order; None for every custom event (``"*"``)."""
        event = self.event
        if event == ALL_EVENTS:
            return None
        names = [event] if isinstance(event, str) else event
        if not isinstance(names, list | tuple) or not names:
            raise ValueError(f"event must be a name, a non-empty list of names, or '*', got {event!r}")
        for name in names:
            if not isinstance(name, str) or not name.strip():
                raise ValueError(f"event names must be non-empty strings, got {name!r} in {event!r}")
            if name == ALL_EVENTS:
                raise ValueError("event='*' means every custom event: pass it alone, not inside a list")
        return list(dict.fromkeys(names))

    def _resolve_format(self) -> str | None:
        from airflow_provider_events._output import resolve_format

        if self.output_path is None:
            return None
        if not isinstance(self.output_path, str) or not self.output_path.strip():
            raise ValueError(
                f"output_path must be a non-empty path or URL, or None, got {self.output_path!r}"
            )
        return resolve_format(self.output_path, self.output_format)

    def _window(self, context: Context) -> tuple[int, datetime | None]:
        """``(length, ending_at)`` of the window; ``ending_at`` None means now."""
        start, end = run_interval(context)  # type: ignore[arg-type]
        if self.length is None:
            if self.ending_at is not None:
                raise ValueError(
                    "ending_at needs length: pass length (the number of buckets ending at ending_at), "
                    "or leave both unset to export exactly the run's data interval"
                )
            if start is None or end is None:
                raise ValueError("this run has no data interval: pass length (and optionally ending_at)")
            try:
                return interval_window(start, end, self.unit)
            except ValueError as err:
                raise ValueError(
                    f"{err}, so the run's data interval holds no {self.unit}: pass length, or schedule the "
                    "DAG with data intervals, e.g. CronDataIntervalTimetable('@daily', timezone='UTC')"
                ) from None
        if self.ending_at is not None:
            return self.length, parse_ending_at(self.ending_at)
        if start is None or end is None:
            return self.length, None
        # The last bucket starting before the (exclusive) end, in the offset interval_window uses:
        # the same ending_at as a length=None run over the same interval.
        end_at = parse_ending_at(end).astimezone(parse_ending_at(start).tzinfo)
        return self.length, interval_window(end_at - UNIT_STEP[self.unit], end_at, self.unit)[1]

    def _check_query(self, names: list[str] | None, length: int, ending_at: datetime | None) -> None:
        from airflow_provider_events._series import SeriesQuery

        # The hook checks the same way, but only after "*" has been listed: check before any request.
        SeriesQuery.build(
            names or ["*"],
            length=length,
            unit=self.unit,
            ending_at=ending_at,
            app_id=self.app_id,
            segment_id=self.segment_id,
        )

    def _hook(self) -> EventsAnalyticsHook:
        import inspect

        from airflow_provider_events.hooks.events import EventsAnalyticsHook

        accepted = set(inspect.signature(EventsAnalyticsHook).parameters) - {"events_conn_id"}
        unknown = sorted(set(self.hook_params) - accepted)
        if unknown:
            raise ValueError(
                f"hook_params has unknown key(s) {', '.join(unknown)}; EventsAnalyticsHook accepts "
                f"{', '.join(sorted(accepted))} (pass the connection as events_conn_id)"
            )
        return EventsAnalyticsHook(self.events_conn_id, **self.hook_params)

    # -- fetching and output -----------------------------------------------------------------------

    def _fetch(
        self, hook: EventsAnalyticsHook, events: list[str], length: int, ending_at: datetime | None
    ) -> list[dict[str, Any]]:
        if not events:
            self.log.warning("The API lists no custom events: there is nothing to export")
            return []
        series = hook.get_series_many(
            events,
            length=length,
            unit=self.unit,
            ending_at=ending_at,
            app_id=self.app_id,
            segment_id=self.segment_id,
        )
        return [
            {"event": event, "time": point["time"], "count": point["count"]}
            for event in events
            for point in series[event]
        ]

    def _warn_if_large(self, records: list[dict[str, Any]]) -> None:
        import json

        self.log.info("Returning %d record(s) through XCom", len(records))
        if len(records) > XCOM_WARN_ROWS or len(json.dumps(records)) > XCOM_WARN_BYTES:
            self.log.warning(
                "Returning %d records through XCom, which keeps them in the metadata database and "
                "loads them whole into every task that pulls them: pass output_path to write them "
                "to a file or object storage instead",
                len(records),
            )

    def _write(self, records: list[dict[str, Any]], path: str, output_format: str) -> str:
        from airflow_provider_events._output import serialise, write_output

        location = write_output(path, serialise(records, output_format))
        self.log.info("Wrote %d row(s) as %s to %s", len(records), output_format, location)
        return location

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
