"""An export in progress: series routed to their files as they arrive, made visible whole at the end.

``{event}`` and ``{day}`` in the output path split the records into one file per event and/or
per day. Every file is staged (see :class:`~airflow_provider_events._output.staging.StagedFiles`) and
they all become visible together when the export commits; a failure leaves none of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import IO, Any
from urllib.parse import quote

from airflow_provider_events._checks import partition_fields
from airflow_provider_events._output.formats import RecordWriter, open_writer, require_pyarrow
from airflow_provider_events._output.staging import StagedFiles, check_writable

# Rows that Parquet writers of one export may buffer between row groups, all files together: a
# year of days split by day keeps 365 files open at once.
MAX_BUFFERED_ROWS = 200_000


def event_segment(event: str) -> str:
    """An event name as one safe path segment: percent-encoded, so ``/`` or ``..`` cannot escape."""
    text = quote(event, safe=" -_")
    return text.replace(".", "%2E")


class Export:
    """
    Records of one export, written to their files as series arrive, in order (event, then time).

    Use as a context manager: leaving it normally commits every file, an error discards them.
    Check the target with :func:`open_export` before any request.

    :param path: the output path or URL, with optional ``{event}`` and ``{day}`` placeholders
    :param output_format: ``csv``, ``json``, ``jsonl`` or ``parquet``
    :param unit: ``day`` or ``hour``: Parquet's ``time`` column is a date or a UTC timestamp
    """

    def __init__(self, path: str, output_format: str, unit: str) -> None:
        self.path = path
        self.output_format = output_format
        self.unit = unit
        self.fields = partition_fields(path)
        self.rows = 0
        self.locations: list[str] = []
        self._files = StagedFiles()
        self._open: dict[str, tuple[RecordWriter, IO[bytes]]] = {}
        self._finished: set[str] = set()
        self._event: str | None = None

    def __enter__(self) -> Export:
        return self

    def __exit__(self, exc_type: object, *exc_info: object) -> None:
        if exc_type is None:
            self.commit()
        else:
            self._files.discard()

    def write(self, event: str, points: Sequence[dict[str, Any]]) -> None:
        """Append one event's points (oldest first) to the file(s) they belong in."""
        if "event" in self.fields and event != self._event:
            self._finish_open()  # records come event by event: the previous event's files are done
        self._event = event
        for path, chunk in self._split(event, points):
            writer = self._open[path][0] if path in self._open else self._start(path)
            writer.write(event, chunk)
        self.rows += len(points)
        if sum(writer.buffered() for writer, _ in self._open.values()) > MAX_BUFFERED_ROWS:
            for writer, _ in self._open.values():
                writer.flush()

    def commit(self) -> list[str]:
        """Finish every file and make them all visible; returns their locations."""
        try:
            if not self.fields and not self.locations:
                self._start(self.path)  # an empty export is still a file, with its header
            self._finish_open()
            self._files.commit()
        except BaseException:
            self._files.discard()
            raise
        return self.locations

    def _split(self, event: str, points: Sequence[dict[str, Any]]) -> list[tuple[str, Sequence[dict]]]:
        if not self.fields:
            return [(self.path, points)]
        if "day" not in self.fields:
            return [(self.path.format(event=event_segment(event)), points)]
        days: dict[str, list[dict[str, Any]]] = {}
        for point in points:
            # The bucket's date as the API wrote it: the first 10 characters of both time formats.
            days.setdefault(point["time"][:10], []).append(point)
        return [(self.path.format(event=event_segment(event), day=day), chunk) for day, chunk in days.items()]

    def _start(self, path: str) -> RecordWriter:
        if path in self._finished:
            raise RuntimeError(f"{path!r} was already finished: records must come event by event")
        location, handle = self._files.open(path)
        writer = open_writer(handle, self.output_format, self.unit)
        self._open[path] = (writer, handle)
        self.locations.append(location)
        return writer

    def _finish_open(self) -> None:
        for path, (writer, handle) in self._open.items():
            writer.finish()
            self._files.close(handle)
            self._finished.add(path)
        self._open.clear()


def open_export(path: str, output_format: str, unit: str) -> Export:
    """
    An :class:`Export` to ``path``, after checking everything that can fail before a request.

    Raises :class:`EventsAnalyticsConfigError` for an unknown placeholder, Parquet without
    pyarrow, or a local target that cannot be written (checked last: it creates the folder).
    """
    partition_fields(path)
    if output_format == "parquet":
        require_pyarrow()
    check_writable(path)
    return Export(path, output_format, unit)
