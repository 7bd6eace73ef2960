"""Output targets: files that appear only when whole, on local disk or object storage.

Local paths (plain or ``file://``) are written to a temporary file in the target's folder and
moved into place with ``os.replace``, so readers see either the old file or the complete new one.
Other URLs go through :class:`airflow.sdk.ObjectStoragePath`'s filesystem inside an fsspec
transaction, so an upload becomes visible only when it is committed (on S3, the multipart upload
completes then). Heavy imports stay inside the functions: DAG files import this module at every parse.
"""

from __future__ import annotations

import contextlib
import io
import os
import uuid
from typing import IO, Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

from airflow_provider_events.exceptions import EventsAnalyticsConfigError


class StagedFiles:
    """
    Files written out of sight and made visible together by :meth:`commit`, or never by :meth:`discard`.

    Local files go to a hidden temporary file beside the target, renamed into place on commit;
    object-storage files are opened inside a transaction of their filesystem. A file closed with
    :meth:`close` holds no open descriptor and, on S3 (s3fs 2024.10 or later), none of its bytes:
    closing uploads them as the part of a multipart upload that the commit completes.
    """

    def __init__(self) -> None:
        self._local: dict[str, tuple[str, Any]] = {}  # target -> (temp path, handle)
        self._remote: list[tuple[Any, Any]] = []  # (filesystem, handle)
        self._filesystems: list[Any] = []

    def open(self, path: str) -> tuple[str, IO[bytes]]:
        """``(location, binary handle)`` of a new file at ``path``: absolute path or object-storage URL."""
        local = local_path(path)
        if local is not None:
            folder = os.path.dirname(local)
            os.makedirs(folder, exist_ok=True)
            # Same folder, so os.replace is an atomic rename; "x" mode creates the file with the
            # umask's permissions, unlike mkstemp's 0600.
            temp = os.path.join(folder, f".{os.path.basename(local)}.{uuid.uuid4().hex}.tmp")
            handle = open(temp, "xb")  # noqa: SIM115  # closed by close_file, commit or discard
            self._local[local] = (temp, handle)
            return local, handle
        from airflow.sdk import ObjectStoragePath

        from airflow_provider_events._airflow_compat import storage_filesystem

        target = ObjectStoragePath(path)
        fs, key = storage_filesystem(target)  # also fsspec's own, where no provider registers one
        if not any(fs is known for known in self._filesystems):
            fs.start_transaction()
            self._filesystems.append(fs)
        handle = fs.open(key, "wb")
        self._remote.append((fs, handle))
        return str(target), handle

    def close(self, handle: IO[bytes]) -> None:
        """Close one file's handle (local files reach the disk first); it is still committed later."""
        if not handle.closed:
            if isinstance(handle, io.BufferedWriter):
                handle.flush()
                os.fsync(handle.fileno())
            handle.close()

    def commit(self) -> None:
        """Make every file visible: rename local ones into place, complete the uploads."""
        for _, handle in [*self._local.values(), *self._remote]:
            self.close(handle)
        for target, (temp, _) in list(self._local.items()):
            os.replace(temp, target)
            del self._local[target]
        while self._filesystems:
            self._filesystems.pop().end_transaction()
        self._remote.clear()

    def discard(self) -> None:
        """Remove every temporary file and abandon every upload; never raises for a missing file."""
        for temp, handle in self._local.values():
            with contextlib.suppress(OSError):
                handle.close()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
        self._local.clear()
        for _, handle in self._remote:
            with contextlib.suppress(Exception):
                handle.close()
        while self._filesystems:
            fs = self._filesystems.pop()
            with contextlib.suppress(Exception):
                fs.transaction.complete(commit=False)
        self._remote.clear()


def check_writable(path: str) -> None:
    """
    Raise :class:`EventsAnalyticsConfigError` unless a file can be created in a local target's folder.

    Called before any request, so that a folder the worker cannot write fails the task before the
    export, not after it. The folder is created (as the write would) and a probe file created and
    removed; placeholders such as ``{event}`` in the folder are left for the write to fill in.
    An object-storage target is probed as it will be written: an upload that is never committed
    (on S3, a multipart upload started and aborted), so a missing bucket or credentials that
    cannot write fail the task here, and no object ever appears.
    """
    local = local_path(path)
    if local is None:
        problem = _probe_remote(path)
        if problem:
            raise EventsAnalyticsConfigError(
                f"output_path {path!r} cannot be written: starting an upload there failed with {problem}. "
                "Check the bucket and the connection's credentials."
            )
        return
    if "{" not in local and os.path.isdir(local):
        raise EventsAnalyticsConfigError(
            f"output_path {path!r} is a folder: name a file in it, e.g. {os.path.join(local, 'events.csv')!r}"
        )
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


def _probe_remote(path: str) -> str | None:
    """What stops an upload beside ``path`` on object storage (None: nothing), left uncommitted."""
    from airflow.sdk import ObjectStoragePath

    from airflow_provider_events._airflow_compat import storage_filesystem

    folder = path.split("{", 1)[0].rsplit("/", 1)[0]
    fs, key = storage_filesystem(ObjectStoragePath(f"{folder}/.probe-{uuid.uuid4().hex}.tmp"))
    # The export's own path: a file in a transaction of the filesystem, here never committed.
    fs.start_transaction()
    try:
        fs.open(key, "wb").close()
    except Exception as err:
        return f"{type(err).__name__} ({err})"
    finally:
        with contextlib.suppress(Exception):
            fs.transaction.complete(commit=False)
    return None


def lineage_dataset(path: str) -> tuple[str, str]:
    """OpenLineage ``(namespace, name)`` of an output: ``file`` and the absolute path for local files."""
    local = local_path(path)
    if local is not None:
        return "file", local
    from airflow.sdk import ObjectStoragePath

    target = ObjectStoragePath(path)
    return target.namespace, target.key


def local_path(path: str) -> str | None:
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
