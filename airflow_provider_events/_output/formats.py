"""Output formats: which format a path names, and a writer per format streaming series into a file.

A writer never holds more than one row group (Parquet) or one series (the text formats) in
memory. The text formats give the same bytes as serialising the whole list at once.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Mapping, Sequence
from typing import IO, Any, Protocol
from urllib.parse import urlsplit

from airflow_provider_events._checks import FORMATS, check_format
from airflow_provider_events._output.staging import local_path
from airflow_provider_events.exceptions import EventsAnalyticsConfigError

FIELDS = ("event", "time", "count")
_SUFFIXES = {".csv": "csv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}
PARQUET_ROW_GROUP = 64_000


def resolve_format(path: str, output_format: str | None) -> str:
    """The format to write ``path`` in: ``output_format`` if given, else the one its suffix names."""
    check_format(output_format)
    if output_format is not None:
        return output_format
    suffix = os.path.splitext(local_path(path) or urlsplit(path).path)[1].lower()
    if suffix not in _SUFFIXES:
        raise EventsAnalyticsConfigError(
            f"output_path {path!r} has the suffix {suffix or '(none)'!r}, which names no output format: "
            f"use {', '.join(_SUFFIXES)} or pass output_format ({', '.join(FORMATS)})"
        )
    return _SUFFIXES[suffix]


class RecordWriter(Protocol):
    """Writes records ``{"event", "time", "count"}`` of one file, in the order given."""

    rows: int

    def write(self, event: str, points: Sequence[Mapping[str, Any]]) -> None: ...

    def flush(self) -> None: ...

    def finish(self) -> None: ...


class _TextWriter:
    """UTF-8 text on a binary handle; ``finish`` writes the format's tail and leaves the handle open."""

    def __init__(self, handle: IO[bytes]) -> None:
        self.text = io.TextIOWrapper(handle, encoding="utf-8", newline="")  # type: ignore[type-var]
        self.rows = 0

    def flush(self) -> None:
        self.text.flush()

    def finish(self) -> None:
        self.text.flush()
        self.text.detach()  # the caller commits and closes the handle


class CsvWriter(_TextWriter):
    """``event,time,count`` header, then one row a point."""

    def __init__(self, handle: IO[bytes]) -> None:
        import csv

        super().__init__(handle)
        self.csv = csv.writer(self.text, lineterminator="\n")
        self.csv.writerow(FIELDS)

    def write(self, event: str, points: Sequence[Mapping[str, Any]]) -> None:
        self.csv.writerows((event, point["time"], point["count"]) for point in points)
        self.rows += len(points)


class JsonLinesWriter(_TextWriter):
    """One JSON object a line."""

    def write(self, event: str, points: Sequence[Mapping[str, Any]]) -> None:
        self.text.writelines(_json(event, point) + "\n" for point in points)
        self.rows += len(points)


class JsonWriter(_TextWriter):
    """One JSON array, written item by item."""

    def __init__(self, handle: IO[bytes]) -> None:
        super().__init__(handle)
        self.text.write("[")

    def write(self, event: str, points: Sequence[Mapping[str, Any]]) -> None:
        for point in points:
            self.text.write(("," if self.rows else "") + _json(event, point))
            self.rows += 1

    def finish(self) -> None:
        self.text.write("]\n")
        super().finish()


class ParquetWriter:
    """
    Columns ``event`` (string), ``time`` (UTC timestamp for hours, date for days), ``count`` (int64).

    Rows are buffered up to :data:`PARQUET_ROW_GROUP` and written as one row group at a time.
    """

    def __init__(self, handle: IO[bytes], unit: str) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        time_type = pa.date32() if unit == "day" else pa.timestamp("us", tz="UTC")
        self.schema = pa.schema([("event", pa.string()), ("time", time_type), ("count", pa.int64())])
        self.unit = unit
        self.parquet = pq.ParquetWriter(handle, self.schema)
        self.columns: tuple[list[str], list[Any], list[int]] = ([], [], [])
        self.rows = 0

    def write(self, event: str, points: Sequence[Mapping[str, Any]]) -> None:
        from airflow_provider_events._paging import point_key

        events, times, counts = self.columns
        for point in points:
            events.append(event)
            times.append(point_key(point["time"], self.unit))  # a date, or an aware datetime
            counts.append(point["count"])
        self.rows += len(points)
        if len(events) >= PARQUET_ROW_GROUP:
            self.flush()

    def flush(self) -> None:
        import pyarrow as pa

        if self.columns[0]:
            self.parquet.write_table(pa.table(list(self.columns), schema=self.schema))
            self.columns = ([], [], [])

    def finish(self) -> None:
        self.flush()
        self.parquet.close()


def require_pyarrow() -> None:
    """Raise :class:`EventsAnalyticsConfigError` naming the extra when pyarrow cannot be imported."""
    import importlib.util

    if importlib.util.find_spec("pyarrow") is None:
        raise EventsAnalyticsConfigError(
            "output_format 'parquet' needs pyarrow, which is not installed: "
            "pip install 'airflow-provider-events[parquet]' on the workers, or write csv, json or jsonl"
        )


def open_writer(handle: IO[bytes], output_format: str, unit: str) -> RecordWriter:
    """The writer of ``output_format`` on ``handle`` (a binary file open for writing)."""
    if output_format == "csv":
        return CsvWriter(handle)
    if output_format == "json":
        return JsonWriter(handle)
    if output_format == "jsonl":
        return JsonLinesWriter(handle)
    if output_format == "parquet":
        return ParquetWriter(handle, unit)
    raise ValueError(f"no writer for output_format {output_format!r}")


def _json(event: str, point: Mapping[str, Any]) -> str:
    record = {"event": event, "time": point["time"], "count": point["count"]}
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))
