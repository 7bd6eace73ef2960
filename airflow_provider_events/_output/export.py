"""An export in progress: series routed to their files as they arrive, made visible whole at the end.

``{event}`` and ``{day}`` in the output path split the records into one file per event and/or
per day; ``{day}`` is the bucket's calendar day in the export's zone (the DAG timetable's), for
hours as for days. Every file is staged (see :class:`~airflow_provider_events._output.staging.StagedFiles`)
and they all become visible together when the export commits; a failure leaves none of them.

Series come event by event, each oldest first, so a file is finished as soon as a record for
another file arrives: one file is open at a time, whatever the number of days. A ``{day}`` without
``{event}`` gathers every event of a day, so its files can only be written once the last series
is in: those records wait in a :class:`~airflow_provider_events._output.spool.DaySpool` on local
disk, and each day's file is written whole at the commit, one after the other.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone, tzinfo
from typing import IO, Any
from urllib.parse import quote

from airflow_provider_events._checks import partition_fields
from airflow_provider_events._output.formats import RecordWriter, open_writer, require_pyarrow
from airflow_provider_events._output.spool import DaySpool
from airflow_provider_events._output.staging import StagedFiles, check_writable


def event_segment(event: str) -> str:
    """An event name as one safe path segment: percent-encoded, so ``/`` or ``..`` cannot escape."""
    text = quote(event, safe=" -_")
    return text.replace(".", "%2E")


def bucket_day(time_text: str, unit: str, zone: tzinfo | None) -> str:
    """
    The calendar day (``YYYY-MM-DD``) of a bucket in ``zone`` (UTC when None).

    A day point is that day already (days are asked in the zone's offset); an hour is the day its
    start falls on in the zone, whatever offset the API wrote it in.
    """
    from airflow_provider_events._paging import point_key

    moment = point_key(time_text, unit)
    if isinstance(moment, datetime):
        return moment.astimezone(zone or timezone.utc).date().isoformat()
    return moment.isoformat()


class Export:
    """
    Records of one export, written to their files as series arrive, in order (event, then time).

    Use as a context manager: leaving it normally commits every file, an error discards them.
    Check the target with :func:`open_export` before any request.

    :param path: the output path or URL, with optional ``{event}`` and ``{day}`` placeholders
    :param output_format: ``csv``, ``json``, ``jsonl`` or ``parquet``
    :param unit: ``day`` or ``hour``: Parquet's ``time`` column is a date or a UTC timestamp
    :param zone: the zone whose calendar days ``{day}`` names (the DAG timetable's); None is UTC
    """

    def __init__(self, path: str, output_format: str, unit: str, zone: tzinfo | None = None) -> None:
        self.path = path
        self.output_format = output_format
        self.unit = unit
        self.zone = zone
        self.fields = partition_fields(path)
        self.rows = 0
        self.locations: list[str] = []
        self._files = StagedFiles()
        self._open: tuple[str, RecordWriter, IO[bytes]] | None = None
        self._finished: set[str] = set()
        self._spool = DaySpool() if self.fields == ("day",) else None

    def __enter__(self) -> Export:
        return self

    def __exit__(self, exc_type: object, *exc_info: object) -> None:
        if exc_type is None:
            self.commit()
        else:
            self._discard()

    def write(self, event: str, points: Sequence[dict[str, Any]]) -> None:
        """Append one event's points (oldest first) to the file(s) they belong in."""
        for path_or_day, chunk in self._split(event, points):
            if self._spool is not None:
                self._spool.add(event, path_or_day, chunk)
            else:
                self._writer(path_or_day).write(event, chunk)
        self.rows += len(points)

    def commit(self) -> list[str]:
        """Finish every file and make them all visible; returns their locations."""
        try:
            if not self.fields and not self.locations:
                self._writer(self.path)  # an empty export is still a file, with its header
            if self._spool is not None:
                self._write_spooled_days(self._spool)
            self._finish_open()
            self._files.commit()
        except BaseException:
            self._discard()
            raise
        if self._spool is not None:
            self._spool.close()
        return self.locations

    def _split(self, event: str, points: Sequence[dict[str, Any]]) -> list[tuple[str, Sequence[dict]]]:
        """``(path, points)`` in order; with a spool, ``(day, points)``."""
        if not self.fields:
            return [(self.path, points)]
        segment = event_segment(event)
        if "day" not in self.fields:
            return [(self.path.format(event=segment), points)]
        days: dict[str, list[dict[str, Any]]] = {}
        for point in points:
            days.setdefault(bucket_day(point["time"], self.unit, self.zone), []).append(point)
        if self._spool is not None:
            return list(days.items())
        return [(self.path.format(event=segment, day=day), chunk) for day, chunk in days.items()]

    def _writer(self, path: str) -> RecordWriter:
        """The writer of ``path``, started when new; the file open before it is finished first."""
        if self._open is not None:
            if self._open[0] == path:
                return self._open[1]
            self._finish_open()  # records come in (event, time) order: nothing more can go there
        if path in self._finished:
            raise RuntimeError(f"{path!r} was already finished: records must come event by event")
        location, handle = self._files.open(path)
        writer = open_writer(handle, self.output_format, self.unit)
        self._open = (path, writer, handle)
        self.locations.append(location)
        return writer

    def _finish_open(self) -> None:
        if self._open is not None:
            path, writer, handle = self._open
            self._open = None
            writer.finish()
            self._files.close(handle)
            self._finished.add(path)

    def _write_spooled_days(self, spool: DaySpool) -> None:
        for day in spool.days():
            writer = self._writer(self.path.format(day=day))
            for event, points in spool.read(day):
                writer.write(event, points)

    def _discard(self) -> None:
        self._open = None
        self._files.discard()
        if self._spool is not None:
            self._spool.close()


def open_export(path: str, output_format: str, unit: str, zone: tzinfo | None = None) -> Export:
    """
    An :class:`Export` to ``path``, after checking everything that can fail before a request.

    Raises :class:`EventsAnalyticsConfigError` for an unknown placeholder, Parquet without
    pyarrow, or a target that cannot be written (checked last: it creates a local folder).
    """
    partition_fields(path)
    if output_format == "parquet":
        require_pyarrow()
    check_writable(path)
    return Export(path, output_format, unit, zone)
