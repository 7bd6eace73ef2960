"""Serialise event records to CSV, JSON or JSON Lines and write them whole, never half a file.

Local paths (plain or ``file://``) are written to a temporary file in the target's folder and
moved into place with ``os.replace``, so readers see either the old file or the complete new one.
Other URLs go through :class:`airflow.sdk.ObjectStoragePath` in a single write of the whole
bytes. Heavy imports stay inside the functions: DAG files import this module at every parse.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

from airflow_provider_events.exceptions import EventsAnalyticsConfigError

FORMATS = ("csv", "json", "jsonl")
FIELDS = ("event", "time", "count")
_SUFFIXES = {".csv": "csv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl"}


def check_format(output_format: str | None) -> None:
    """Raise a config error unless ``output_format`` is None or one of :data:`FORMATS`."""
    if output_format is not None and output_format not in FORMATS:
        raise EventsAnalyticsConfigError(
            f"output_format must be one of {', '.join(FORMATS)} or None, got {output_format!r}"
        )


def resolve_format(path: str, output_format: str | None) -> str:
    """The format to write ``path`` in: ``output_format`` if given, else the one its suffix names."""
    check_format(output_format)
    if output_format is not None:
        return output_format
    suffix = os.path.splitext(_local_path(path) or urlsplit(path).path)[1].lower()
    if suffix not in _SUFFIXES:
        raise EventsAnalyticsConfigError(
            f"output_path {path!r} has the suffix {suffix or '(none)'!r}, which names no output format: "
            f"use {', '.join(_SUFFIXES)} or pass output_format ({', '.join(FORMATS)})"
        )
    return _SUFFIXES[suffix]


def serialise(records: Sequence[Mapping[str, Any]], output_format: str) -> bytes:
    """UTF-8 bytes: CSV with an ``event,time,count`` header, one JSON array, or one object per line."""
    import csv
    import io
    import json

    if output_format == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(FIELDS)
        # tuples, not DictWriter: a year of hourly rows for hundreds of events is millions of rows
        writer.writerows([record[field] for field in FIELDS] for record in records)
        text = buffer.getvalue()
    elif output_format == "json":
        text = json.dumps(list(records), ensure_ascii=False, separators=(",", ":")) + "\n"
    elif output_format == "jsonl":
        text = "".join(
            json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n" for record in records
        )
    else:
        raise ValueError(f"output_format must be one of {', '.join(FORMATS)}, got {output_format!r}")
    return text.encode("utf-8")


def write_output(path: str, data: bytes) -> str:
    """
    Write ``data`` to ``path`` whole and return where it went.

    A local target comes back as an absolute path, anything else as its object-storage URL.
    """
    local = _local_path(path)
    if local is None:
        from airflow.sdk import ObjectStoragePath

        target = ObjectStoragePath(path)
        target.write_bytes(data)
        return str(target)
    _replace_atomically(local, data)
    return local


def check_writable(path: str) -> None:
    """
    Raise :class:`EventsAnalyticsConfigError` unless a file can be created in a local target's folder.

    Called before any request, so that a folder the worker cannot write fails the task before the
    export, not after it. The folder is created (as the write would) and a probe file created and
    removed; placeholders such as ``{event}`` in the folder are left for the write to fill in.
    """
    local = _local_path(path)
    if local is None:
        return
    folder = os.path.dirname(local)
    while "{" in folder:
        folder = os.path.dirname(folder)
    problem = _probe_folder(folder)
    if problem:
        raise EventsAnalyticsConfigError(
            f"output_path {path!r} cannot be written: creating a file in {folder} failed with {problem}. "
            "Choose a folder the worker can write to."
        )


def _probe_folder(folder: str) -> str | None:
    """What stops a new file in ``folder`` (None: nothing): permission bits alone do not tell root."""
    probe = os.path.join(folder, f".probe-{uuid.uuid4().hex}.tmp")
    try:
        os.makedirs(folder, exist_ok=True)
        with open(probe, "xb"):
            pass
        os.unlink(probe)
    except OSError as err:
        return f"{type(err).__name__} ({err.strerror or err})"
    return None


def lineage_dataset(path: str) -> tuple[str, str]:
    """OpenLineage ``(namespace, name)`` of an output: ``file`` and the absolute path for local files."""
    local = _local_path(path)
    if local is not None:
        return "file", local
    from airflow.sdk import ObjectStoragePath

    target = ObjectStoragePath(path)
    return target.namespace, target.key


def _local_path(path: str) -> str | None:
    """The absolute filesystem path of a local target (plain or ``file://``), else None."""
    parts = urlsplit(path)
    if parts.scheme.lower() != "file":
        # One letter is a Windows drive, not a scheme.
        return os.path.abspath(path) if len(parts.scheme) <= 1 else None
    if parts.netloc not in ("", "localhost"):
        raise EventsAnalyticsConfigError(
            f"output_path {path!r} names a remote host; a file:// URL must be local"
        )
    return os.path.abspath(url2pathname(parts.path))


def _replace_atomically(target: str, data: bytes) -> None:
    folder = os.path.dirname(target)
    os.makedirs(folder, exist_ok=True)
    # Same folder, so os.replace is an atomic rename; "x" mode creates the file with the umask's
    # permissions, unlike mkstemp's 0600.
    temp = os.path.join(folder, f".{os.path.basename(target)}.{uuid.uuid4().hex}.tmp")
    try:
        with open(temp, "xb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
