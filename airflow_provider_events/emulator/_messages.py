"""The emulator's messages as plain values: a reply and its bytes, a scripted Fault, a logged request."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from airflow_provider_events.emulator._protocol import EmulatorQuery

MANGLES = frozenset({"short", "long", "no_count", "no_data", "not_json", "disconnect"})


@dataclass
class Fault:
    """
    One scripted answer, consumed by the next request it matches (see :meth:`EventsEmulator.enqueue`).

    A fault with another status or a body replaces the response, before the rate limit and the key
    are checked, and carries only the headers given here. A fault with status 200 and no body keeps
    the normal response (rate limit, key and parameter checks included) and adds ``headers``,
    ``delay`` and ``mangle`` to it; a mangle other than ``disconnect`` only alters a 200.

    :param status: HTTP status to answer.
    :param body: dict (sent as JSON), str or bytes (sent as text/plain); None gives the normal body
        for 200 and ``{"message": <reason>, "errors": [<reason>]}`` otherwise.
    :param headers: extra response headers, sent with their case as given.
    :param delay: seconds to wait before answering, e.g. to provoke a client read timeout.
    :param mangle: ``short`` drops the oldest point, ``long`` appends the next bucket, ``no_count``
        drops one point's count, ``no_data`` drops ``data`` (or ``events``), ``not_json`` sends HTML,
        ``disconnect`` sends half the body and closes the connection.
    :param path: consume the fault only on this path; None matches any request.
    """

    status: int = 200
    body: bytes | str | dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    mangle: str | None = None
    path: str | None = None

    def __post_init__(self) -> None:
        if not 100 <= self.status <= 599:
            raise ValueError(f"status must be an HTTP status code, got {self.status!r}")
        if self.mangle is not None and self.mangle not in MANGLES:
            raise ValueError(f"mangle must be one of {sorted(MANGLES)}, got {self.mangle!r}")


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the emulator received it, and the status it answered (0 for a disconnect)."""

    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str] = field(repr=False)
    status: int
    at: float


@dataclass
class Reply:
    """
    One answer on its way out.

    :param latency: seconds from the request's arrival to the answer, the emulator's work included.
    :param delay: seconds more, scripted by a :class:`Fault`.
    :param disconnect: send half the body, then close the connection.
    :param query: the series request it answers, for a mangle that appends a bucket.
    """

    status: int
    payload: dict[str, Any] | None = None
    raw: bytes = b""
    content_type: str = "application/json"
    headers: list[tuple[str, str]] = field(default_factory=list)
    latency: float = 0.0
    delay: float = 0.0
    disconnect: bool = False
    query: EmulatorQuery | None = None

    def render(self, close: bool) -> tuple[bytes, bytes]:
        """The status line and headers, and the body, as the bytes to send."""
        body = (
            json.dumps(self.payload, separators=(",", ":")).encode() if self.payload is not None else self.raw
        )
        lines = [f"HTTP/1.1 {self.status} {reason_phrase(self.status)}", f"Content-Length: {len(body)}"]
        if not any(name.lower() == "content-type" for name, _ in self.headers):
            lines.append(f"Content-Type: {self.content_type}")
        lines += [f"{name}: {value}" for name, value in self.headers]
        if close:
            lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"), body

    def add_headers(self, extra: dict[str, str]) -> None:
        """Add headers, replacing ours of the same name in any case (Content-Length is always ours)."""
        names = {name.lower() for name in extra}
        kept = [(name, value) for name, value in self.headers if name.lower() not in names]
        self.headers = kept + [(n, v) for n, v in extra.items() if n.lower() != "content-length"]


def reason_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def error_reply(status: int, message: str, errors: list[str] | None = None) -> Reply:
    """The API's error body: a message, and the list of every error found."""
    return Reply(status, {"message": message, "errors": errors or [message]})


def scripted_reply(fault: Fault) -> Reply:
    """The answer of a fault that replaces the normal response."""
    if fault.body is None:
        return error_reply(fault.status, reason_phrase(fault.status))
    if isinstance(fault.body, dict):
        return Reply(fault.status, fault.body)
    raw = fault.body.encode() if isinstance(fault.body, str) else fault.body
    return Reply(fault.status, raw=raw, content_type="text/plain; charset=utf-8")
