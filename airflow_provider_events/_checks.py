"""Every argument check, and the parsing of what DAG authors pass in: one set of rules for every entry point.

The hooks, the operator, the sensor and both triggers call these before any request. At
construction, and so when the DAG file is parsed, every argument that rendering templates cannot
change is checked; the rendered values are checked again at run time. Each check raises
:class:`~airflow_provider_events.exceptions.EventsAnalyticsConfigError` (also a ``ValueError``)
naming the argument and the value. Pure and cheap to import: DAG files import this at every parse.
"""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from airflow_provider_events.exceptions import EventsAnalyticsConfigError

UNITS = ("day", "hour")
ALL_EVENTS = "*"
# EventsAnalyticsHook's keyword arguments; a test holds this equal to its signature.
HOOK_PARAMS = ("timeout", "retry_limit", "retry_delay", "max_concurrency", "max_retry_wait")
FORMATS = ("csv", "json", "jsonl", "parquet")
PLACEHOLDERS = ("event", "day")
_JINJA = ("{{", "{%", "{#")
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


# -- plain values ---------------------------------------------------------------------------------------


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_int(name: str, value: object, minimum: int) -> int:
    """``value`` if it is an integer (not a bool) >= ``minimum``, else a config error naming ``name``."""
    if not _is_int(value) or value < minimum:  # type: ignore[operator]
        raise EventsAnalyticsConfigError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value  # type: ignore[return-value]


def check_seconds(name: str, value: object, *, positive: bool = False) -> float:
    """``value`` as seconds: a number >= 0 (> 0 when ``positive``), else a config error naming ``name``."""
    if not _is_number(value) or value < 0 or (positive and value == 0):  # type: ignore[operator]
        bound = "> 0" if positive else ">= 0"
        raise EventsAnalyticsConfigError(f"{name} must be a number of seconds {bound}, got {value!r}")
    return float(value)  # type: ignore[arg-type]


def parse_flag(value: object, default: bool) -> bool:
    """A boolean extra: a bool or its text (``true``, ``0``, ``on``...); else ``default``."""
    if isinstance(value, bool):
        return value
    text = "" if value is None else str(value).strip().lower()
    if not text:
        return default
    if text in _TRUE | _FALSE:
        return text in _TRUE
    return default


def is_flag(value: object) -> bool:
    """Whether :func:`parse_flag` reads ``value`` as a boolean rather than falling back to the default."""
    return value is None or isinstance(value, bool) or str(value).strip().lower() in _TRUE | _FALSE | {""}


def is_literal(value: object) -> bool:
    """Whether rendering templates leaves ``value`` as it is, so that it can be checked now."""
    if isinstance(value, str):
        return not any(mark in value for mark in _JINJA)
    if isinstance(value, list | tuple):
        return all(is_literal(item) for item in value)
    # Anything else (an XComArg, a custom object) is resolved at run time: check it then.
    return value is None or isinstance(value, int | float | datetime)


# -- the window: events, length, unit, ending_at, app and segment ------------------------------------


def parse_ending_at(value: str | datetime | None, now: datetime | None = None) -> datetime:
    """
    Return ``value`` as an aware datetime in a fixed offset.

    ``None`` means ``now`` (default: the current time in UTC); naive datetimes and strings
    without an offset are taken as UTC. A zone with DST is pinned to its offset at that instant,
    so that stepping back by days stays in one offset, as the API does.
    """
    if value is None:
        moment = now or datetime.now(timezone.utc)
    elif isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise EventsAnalyticsConfigError(
                f"ending_at must be an ISO 8601 date-time such as 2024-01-31T23:00:00+00:00, got {value!r}"
            ) from None
    else:
        raise EventsAnalyticsConfigError(
            f"ending_at must be an ISO 8601 string, a datetime or None, got {value!r}"
        )
    offset = moment.utcoffset()
    if offset is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone(offset))


def format_ending_at(moment: datetime) -> str:
    """ISO 8601 with an explicit offset, as the API is always sent (``+00:00``, never naive)."""
    return moment.isoformat(timespec="seconds")


def check_series_args(event: object, length: object, unit: object) -> None:
    """Raise a config error naming the first bad one of a series' event, length and unit."""
    if not isinstance(event, str) or not event.strip():
        raise EventsAnalyticsConfigError(f"event must be a non-empty string, got {event!r}")
    check_int("length", length, 1)
    if unit not in UNITS:
        raise EventsAnalyticsConfigError(f"unit must be 'day' or 'hour', got {unit!r}")


def check_length_or_none(length: object) -> None:
    """The operator's and the sensor's ``length``: an integer >= 1, or None for the run's data interval."""
    if length is not None and (not _is_int(length) or length < 1):  # type: ignore[operator]
        raise EventsAnalyticsConfigError(
            f"length must be an integer >= 1, or None for the run's data interval, got {length!r}"
        )


def check_filters(app_id: object, segment_id: object) -> None:
    """``app_id`` and ``segment_id``: each None or a non-empty string."""
    for name, value in (("app_id", app_id), ("segment_id", segment_id)):
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise EventsAnalyticsConfigError(f"{name} must be a non-empty string or None, got {value!r}")


def check_window(
    events: Sequence[object],
    *,
    length: object,
    unit: object,
    ending_at: object,
    app_id: object,
    segment_id: object,
) -> None:
    """Every argument of a series request, as it will be sent."""
    if isinstance(events, str) or not events:
        raise EventsAnalyticsConfigError(f"events must be a non-empty list of event names, got {events!r}")
    for event in events:
        check_series_args(event, length, unit)
    parse_ending_at(ending_at)  # type: ignore[arg-type]
    check_filters(app_id, segment_id)


def check_literal_window(events: Sequence[object], **window: object) -> None:
    """:func:`check_window` at parse time: values that templates may change are left for run time."""
    check_window(
        [event if is_literal(event) else "templated" for event in events],
        **{name: value if is_literal(value) else None for name, value in window.items()},  # type: ignore[arg-type]
    )


def event_names(event: object) -> list[str] | None:
    """The names an ``event`` argument asks for, de-duplicated in order; None for every event (``"*"``)."""
    if event == ALL_EVENTS:
        return None
    names = [event] if isinstance(event, str) else event
    if not isinstance(names, list | tuple) or not names:
        raise EventsAnalyticsConfigError(
            f"event must be a name, a non-empty list of names, or '*', got {event!r}"
        )
    for name in names:
        if not isinstance(name, str) or not name.strip():
            raise EventsAnalyticsConfigError(
                f"event names must be non-empty strings, got {name!r} in {event!r}"
            )
        if name == ALL_EVENTS:
            raise EventsAnalyticsConfigError(
                "event='*' means every custom event: pass it alone, not inside a list"
            )
    return list(dict.fromkeys(names))


# -- waiting: thresholds and poll intervals -------------------------------------------------------------


def coerce_threshold(value: object) -> int:
    """A sensor's threshold as an int (templates render strings such as ``"500"``), or a config error."""
    text = value.strip() if isinstance(value, str) else None
    if text is not None and text.isascii() and text.isdigit():
        return int(text)
    # 0 is allowed: a sensor with nothing to wait for succeeds at its first check.
    return check_int("threshold", value, 0)


def check_crossing_threshold(value: object) -> int:
    """A crossing's threshold: at least 1, since no total is below 0, so 0 could never be crossed."""
    return check_int("threshold", value, 1)


# -- the hook's settings --------------------------------------------------------------------------------


def check_retry_settings(retry_limit: object, retry_delay: object, max_retry_wait: object) -> None:
    """The retry policy's settings: a count of retries and two durations."""
    check_int("retry_limit", retry_limit, 0)
    check_seconds("retry_delay", retry_delay)
    check_seconds("max_retry_wait", max_retry_wait)


def check_hook_settings(
    *,
    timeout: object = None,
    max_concurrency: object = None,
    retry_limit: object = None,
    retry_delay: object = None,
    max_retry_wait: object = None,
) -> None:
    """Raise a config error naming the first bad hook setting (None: not given)."""
    if timeout is not None and (not _is_number(timeout) or timeout <= 0):  # type: ignore[operator]
        raise EventsAnalyticsConfigError(f"timeout must be a positive number of seconds, got {timeout!r}")
    if max_concurrency is not None:
        check_int("max_concurrency", max_concurrency, 1)
    check_retry_settings(
        0 if retry_limit is None else retry_limit,
        0 if retry_delay is None else retry_delay,
        0 if max_retry_wait is None else max_retry_wait,
    )


def check_hook_params(hook_params: object) -> dict[str, Any]:
    """``hook_params`` as a dict of known, valid :class:`EventsAnalyticsHook` settings, or a config error."""
    if hook_params is None:
        return {}
    if not isinstance(hook_params, dict):
        raise EventsAnalyticsConfigError(
            f"hook_params must be a dict of EventsAnalyticsHook arguments, got {hook_params!r}"
        )
    unknown = sorted(set(hook_params) - set(HOOK_PARAMS), key=str)
    if unknown:
        raise EventsAnalyticsConfigError(
            f"hook_params has unknown key(s) {', '.join(map(str, unknown))}; EventsAnalyticsHook accepts "
            f"{', '.join(sorted(HOOK_PARAMS))} (pass the connection as events_conn_id)"
        )
    check_hook_settings(**hook_params)
    return dict(hook_params)


# -- output -----------------------------------------------------------------------------------------------


def check_format(output_format: object) -> None:
    """Raise a config error unless ``output_format`` is None or one of :data:`FORMATS`."""
    if output_format is not None and output_format not in FORMATS:
        raise EventsAnalyticsConfigError(
            f"output_format must be one of {', '.join(FORMATS)} or None, got {output_format!r}"
        )


def check_output_path(path: object) -> str:
    """``output_path`` as a non-empty string, or a config error."""
    if not isinstance(path, str) or not path.strip():
        raise EventsAnalyticsConfigError(
            f"output_path must be a non-empty path or URL, or None, got {path!r}"
        )
    return path


def partition_fields(path: str) -> tuple[str, ...]:
    """The placeholders of ``path`` in order; a config error for any but ``{event}`` and ``{day}``."""
    try:
        fields = [field for _, field, _, _ in string.Formatter().parse(path) if field is not None]
    except ValueError as err:
        raise EventsAnalyticsConfigError(
            f"output_path {path!r} has unbalanced braces ({err}): only {{event}} and {{day}} may appear"
        ) from None
    unknown = [field for field in fields if field not in PLACEHOLDERS]
    if unknown:
        raise EventsAnalyticsConfigError(
            f"output_path {path!r} has the placeholder {{{unknown[0]}}}: only {{event}} and {{day}} split "
            "an export into files (Jinja templates such as {{ ds }} are rendered before)"
        )
    return tuple(dict.fromkeys(fields))


def check_crossing_args(arguments: Mapping[str, Any]) -> None:
    """:class:`EventCountCrossingTrigger`'s arguments, each error prefixed with the trigger's name."""
    try:
        check_series_args(arguments["event"], arguments["length"], arguments["unit"])
        check_hook_params(arguments["hook_params"])
        check_crossing_threshold(arguments["threshold"])
        check_seconds("poke_interval", arguments["poke_interval"], positive=True)
    except EventsAnalyticsConfigError as err:
        raise EventsAnalyticsConfigError(f"EventCountCrossingTrigger: {err}") from None
