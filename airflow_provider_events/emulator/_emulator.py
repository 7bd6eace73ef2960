"""The emulator itself: its settings, the counts it serves (generated and recorded), serving and scripting.

:class:`EventsEmulator` is public through the package. It answers requests through
:class:`~airflow_provider_events.emulator._pipeline.RequestPipeline`, served by the transport in
``_http``; neither imports this module.
"""

from __future__ import annotations

import bisect
import json
import os
import ssl
import threading
from datetime import date, datetime, timezone
from typing import Any

from airflow_provider_events.emulator._http import EmulatorServer
from airflow_provider_events.emulator._messages import Fault, RecordedRequest
from airflow_provider_events.emulator._pipeline import RequestPipeline
from airflow_provider_events.emulator._protocol import (
    UNITS,
    SeriesKey,
    as_fixed,
    base_counts,
    bucket_starts,
    floor_bucket,
    format_bucket,
    parse_ending_at,
    parse_offset,
    series_key,
    shift,
)

DEFAULT_EVENTS = ["add_to_cart", "app_open", "checkout_started", "purchase", "signup"]
DEFAULT_API_KEY = "emulator-key"


class EventsEmulator:
    """
    An in-process server speaking the Custom Events Analytics API on ``host:port``.

    :param api_key: the only key accepted, as ``Authorization: Bearer <api_key>``.
    :param events: names served by ``/events/list``; an int N gives ``event_0000`` .. ``event_{N-1}``.
        Any other name counts zero in every bucket, recorded events included: what the real
        service answers for a name it does not know is not documented, and zeros are the answer
        that hides a typo best, which is what a client must not trust.
    :param latency: seconds from a request's arrival to its answer (may be changed while running);
        the emulator's own work happens within it.
    :param rate_limit: requests allowed per window, shared by all endpoints not in ``rate_limits``.
    :param rate_limits: requests allowed per window for one path, counted apart from the others,
        e.g. ``{"/events/list": 1000}`` (the real listing's limit is far below the series').
    :param rate_window: window length in seconds, aligned to multiples of it in epoch time.
    :param response_offset: render hourly time strings in this fixed offset (e.g. ``"-05:00"``);
        None renders them in the offset of ``ending_at``.
    :param host: address to bind.
    :param port: port to bind; 0 picks a free one.
    :param verbose: log one line per request (method, path, status; never headers) to stderr.
    :param tls_cert: serve HTTPS with this PEM certificate (chain); the emulator's URL is then https.
    :param tls_key: the PEM private key of ``tls_cert``; None when ``tls_cert`` holds it too.
    :param background: serve the generated counts, deterministic but different from hour to hour;
        False serves only what was recorded (:meth:`record`, ``POST /_emulator/events``), zero
        elsewhere: a threshold on "the last N hours" then holds whatever the hour of day.
    """

    def __init__(
        self,
        api_key: str = DEFAULT_API_KEY,
        *,
        events: list[str] | int | None = None,
        latency: float = 0.0,
        rate_limit: int = 250_000,
        rate_window: int = 3600,
        rate_limits: dict[str, int] | None = None,
        response_offset: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        verbose: bool = False,
        tls_cert: str | os.PathLike[str] | None = None,
        tls_key: str | os.PathLike[str] | None = None,
        background: bool = True,
    ) -> None:
        if rate_window < 1 or rate_limit < 0:
            raise ValueError("rate_window must be >= 1 second and rate_limit >= 0")
        if tls_key is not None and tls_cert is None:
            raise ValueError("tls_key needs tls_cert: pass the certificate the key belongs to")
        self.api_key = api_key
        if isinstance(events, int):
            events = [f"event_{index:04d}" for index in range(events)]
        self.events: list[str] = list(DEFAULT_EVENTS if events is None else events)
        self.latency = latency
        self.rate_limit = rate_limit
        self.rate_window = rate_window
        self.rate_limits = dict(rate_limits or {})
        self.response_tz = parse_offset(response_offset) if response_offset else None
        self.host = host
        self.verbose = verbose
        self.tls_cert, self.tls_key = tls_cert, tls_key
        self.background = background
        self._requested_port = port
        self._server: EmulatorServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # guards _recorded; the pipeline guards its own state
        self._recorded: dict[SeriesKey, tuple[list[float], list[int]]] = {}
        self._pipeline = RequestPipeline(self)

    # lifecycle

    def start(self) -> EventsEmulator:
        """Serve in a daemon thread until :meth:`stop`; returns self."""
        if self._server is not None:
            raise RuntimeError("the emulator is already running")
        tls = self._tls_context()  # before binding: a bad certificate or key fails without a stray socket
        self._server = EmulatorServer((self.host, self._requested_port), self._pipeline)
        if tls is not None:
            # The handshake happens in the handler's thread: a slow or failing client cannot stall accept().
            self._server.socket = tls.wrap_socket(
                self._server.socket, server_side=True, do_handshake_on_connect=False
            )
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.name = f"events-emulator-{self.port}"
        self._thread.start()
        return self

    def _tls_context(self) -> ssl.SSLContext | None:
        if self.tls_cert is None:
            return None
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.tls_cert, self.tls_key)
        return context

    def stop(self) -> None:
        """Stop serving, drop open connections and close the socket; safe to call twice."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.drop_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> EventsEmulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the emulator is not running: call start() or use it as a context manager")
        return int(self._server.server_address[1])

    @property
    def connections_opened(self) -> int:
        """TCP connections clients have opened to the emulator since it started (keep-alive reuses one)."""
        return 0 if self._server is None else self._server.connections_accepted

    @property
    def url(self) -> str:
        scheme = "http" if self.tls_cert is None else "https"
        return f"{scheme}://{self.host}:{self.port}"

    def connection_json(self, conn_type: str = "events_analytics") -> str:
        """JSON for an ``AIRFLOW_CONN_*`` environment variable pointing at this emulator."""
        return json.dumps({"conn_type": conn_type, "host": self.url, "password": self.api_key})

    # data

    def count(
        self,
        event: str,
        bucket_start: datetime | date,
        unit: str,
        app_id: str | None = None,
        segment_id: str | None = None,
    ) -> int:
        """Count of the ``unit`` bucket holding ``bucket_start`` (naive = UTC), recorded events included."""
        if unit not in UNITS:
            raise ValueError(f'unit must be "day" or "hour", got {unit!r}')
        start = floor_bucket(as_fixed(bucket_start), unit)
        if event not in self.events:
            return 0
        return self._bucket_counts(series_key(event, app_id, segment_id), [start], unit)[0]

    def _bucket_counts(self, key: SeriesKey, starts: list[datetime], unit: str) -> list[int]:
        counts = base_counts(key, starts, unit) if self.background else [0] * len(starts)
        with self._lock:
            entry = self._recorded.get(key)
            if entry is None:
                return counts
            for index, start in enumerate(starts):
                counts[index] += _recorded_in(entry, start, unit)
        return counts

    def record(
        self,
        event: str,
        n: int = 1,
        *,
        at: datetime | None = None,
        app_id: str | None = None,
        segment_id: str | None = None,
    ) -> None:
        """
        Add ``n`` occurrences at ``at`` (default now; naive = UTC); a negative ``n`` takes events back.

        They count in the hour and day buckets holding ``at``, in series asked with the same
        ``app_id`` and ``segment_id`` (None and "" both meaning none). Taking back more than the
        (UTC) hour holding ``at`` counts raises ValueError and changes nothing: no count goes below 0.
        """
        if isinstance(n, bool) or not isinstance(n, int) or n == 0:
            raise ValueError(f"n must be a non-zero integer (negative takes events back), got {n!r}")
        moment = as_fixed(at) if at is not None else datetime.now(timezone.utc)
        key = series_key(event, app_id, segment_id)
        hour = floor_bucket(moment.astimezone(timezone.utc), "hour")
        # The generated part is computed outside the lock; the check and the insert happen under it,
        # so two concurrent take-backs cannot both pass on the same count.
        generated = base_counts(key, [hour], "hour")[0] if self.background else 0
        with self._lock:
            times, counts = self._recorded.setdefault(key, ([], []))
            if n < 0:
                held = generated + _recorded_in((times, counts), hour, "hour")
                if held + n < 0:
                    raise ValueError(
                        f"cannot take back {-n} {event!r} events: the hour from {hour.isoformat()}"
                        f" holds {held}"
                    )
            index = bisect.bisect_right(times, moment.timestamp())
            times.insert(index, moment.timestamp())
            counts.insert(index, n)

    def series(
        self,
        event: str,
        length: int,
        unit: str = "day",
        ending_at: str | datetime | None = None,
        app_id: str | None = None,
        segment_id: str | None = None,
    ) -> list[dict[str, Any]]:
        """The ``data`` one request for this window would return, without the cap of 100 on ``length``."""
        if not event or length < 1 or unit not in UNITS:
            raise ValueError("series() needs a non-empty event, length >= 1 and unit 'day' or 'hour'")
        if ending_at is None:
            moment = datetime.now(timezone.utc)
        else:
            moment = parse_ending_at(ending_at) if isinstance(ending_at, str) else as_fixed(ending_at)
        starts = bucket_starts(moment, length, unit)
        listed = event in self.events  # once a request: the list may hold thousands of names
        key = series_key(event, app_id, segment_id)
        counts = self._bucket_counts(key, starts, unit) if listed else [0] * len(starts)
        return [
            {"time": format_bucket(start, unit, self.response_tz), "count": count}
            for start, count in zip(starts, counts, strict=True)
        ]

    # scripting and inspection

    def enqueue(self, *faults: Fault, times: int = 1) -> None:
        """Queue faults (each ``times`` times in a row), consumed first in, first out."""
        self._pipeline.enqueue(faults, times)

    def clear_faults(self) -> None:
        self._pipeline.clear_faults()

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, in arrival order (status -1 while one is still being answered)."""
        return self._pipeline.requests()

    def request_count(self, path: str | None = None) -> int:
        return self._pipeline.request_count(path)

    def reset(self) -> None:
        """Forget the request log, queued faults, recorded events and rate-limit usage."""
        self._pipeline.reset()
        with self._lock:
            self._recorded.clear()


def _recorded_in(entry: tuple[list[float], list[int]], start: datetime, unit: str) -> int:
    """What was recorded in the bucket from ``start``, given a series' sorted times and their counts."""
    times, counts = entry
    first = bisect.bisect_left(times, start.timestamp())
    end = bisect.bisect_left(times, shift(start, unit, 1).timestamp())
    return sum(counts[first:end])
