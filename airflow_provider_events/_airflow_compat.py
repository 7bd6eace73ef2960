"""Where this package meets Airflow beyond its public API: every such use, in one place, checked.

Everywhere else the package uses Airflow's public API (``airflow.sdk``, ``airflow.sdk.io``, the
providers' public classes). What is here has no public equivalent, so each function reads the one
private name it needs and raises :class:`~airflow_provider_events.exceptions.EventsAnalyticsConfigError`,
naming the Airflow release, when that name is gone or holds something else: an upgrade that moves
one fails the task that needs it, it never changes what the task does. ``tests/test_airflow_compat.py``
pins each of them against the installed Airflow, so the suite fails first.

Private names used here:

- ``airflow.serialization.encoders.coerce_to_core_timetable`` (airflow-core): the scheduler's
  timetable for a DAG file's, whose ``infer_manual_data_interval`` a run without a logical date needs.
- ``_timezone`` of the scheduler's cron timetables (``airflow.timetables``), and ``_timetables`` of
  its ``MultipleCronTriggerTimetable``: a DAG file may still pass those classes as its schedule.
- ``HttpHook._set_base_url``, ``_configure_session_from_auth`` and ``_configure_session_from_extra``
  (the HTTP provider): :class:`HttpSessionOverrides` replaces them, or HttpHook would send the
  connection's extras as request headers and authenticate only with a login.
"""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

from airflow_provider_events.exceptions import EventsAnalyticsConfigError

#: The private methods of ``HttpHook.get_conn`` that :class:`HttpSessionOverrides` replaces.
HTTP_HOOK_SESSION_STEPS = ("_set_base_url", "_configure_session_from_auth", "_configure_session_from_extra")


def _changed(what: str, fix: str) -> EventsAnalyticsConfigError:
    from airflow import __version__ as airflow_version

    return EventsAnalyticsConfigError(
        f"{what} in Apache Airflow {airflow_version}: this release of airflow-provider-events does not "
        f"support it yet. {fix}"
    )


# -- timetables -------------------------------------------------------------------------------------


def core_timetable(timetable: Any) -> Any:
    """
    The scheduler's timetable for ``timetable`` (a DAG file's, from ``airflow.sdk``), or itself.

    Only the scheduler's classes infer intervals (``infer_manual_data_interval``); Airflow's own
    ``dag.test()`` converts with the same private function.
    """
    if hasattr(timetable, "infer_manual_data_interval"):
        return timetable
    try:
        from airflow.serialization.encoders import coerce_to_core_timetable
    except ImportError:
        raise _changed(
            "airflow.serialization.encoders.coerce_to_core_timetable is gone",
            "A run without a logical date cannot infer its data interval: trigger it with a logical "
            "date, or pass length.",
        ) from None
    core = coerce_to_core_timetable(timetable)
    if not hasattr(core, "infer_manual_data_interval"):
        raise _changed(
            f"coerce_to_core_timetable gave a {type(core).__qualname__} without infer_manual_data_interval",
            "Trigger the run with a logical date, or pass length.",
        )
    return core


def scheduler_timetable_zone(timetable: Any) -> tzinfo | None:
    """
    The zone of one of the scheduler's cron timetables (``airflow.timetables``), read from its
    private attributes; None for any other timetable.

    ``AssetOrTimeSchedule`` is looked through to its time-based timetable, and
    ``MultipleCronTriggerTimetable`` to its first cron timetable (they share one zone, and Airflow
    serialises that one's). Raises instead of guessing: a day counted in the wrong zone exports
    the wrong hours.
    """
    if not any(cls.__module__.startswith("airflow.timetables.") for cls in type(timetable).__mro__):
        return None  # the Task SDK's or a custom class: no need to import heavy airflow-core
    from airflow.timetables.assets import AssetOrTimeSchedule
    from airflow.timetables.interval import CronDataIntervalTimetable
    from airflow.timetables.trigger import CronTriggerTimetable, MultipleCronTriggerTimetable

    if isinstance(timetable, AssetOrTimeSchedule):
        timetable = timetable.timetable
    if isinstance(timetable, MultipleCronTriggerTimetable):
        crons = getattr(timetable, "_timetables", None)
        if not isinstance(crons, list | tuple) or not crons:
            raise _changed(
                "MultipleCronTriggerTimetable no longer holds its cron timetables in _timetables", _ZONE_FIX
            )
        timetable = crons[0]
    if not isinstance(timetable, CronDataIntervalTimetable | CronTriggerTimetable):
        return None
    zone = getattr(timetable, "_timezone", None)
    if not isinstance(zone, tzinfo):
        raise _changed(
            f"{type(timetable).__qualname__} no longer keeps its time zone in _timezone", _ZONE_FIX
        )
    return zone


_ZONE_FIX = (
    "The days of this DAG's timetable cannot be told: schedule it with airflow.sdk's timetable "
    "classes (e.g. airflow.sdk.CronDataIntervalTimetable), whose zone is public."
)


# -- HttpHook ---------------------------------------------------------------------------------------


class HttpSessionOverrides:
    """
    Mixin before ``HttpHook``: its ``get_conn`` session, without what is wrong for this API.

    HttpHook builds the session through private steps: the base URL from the connection's host,
    Basic auth only with a login, every unknown extra as a request header. These overrides set the
    base URL and the Bearer auth of the hook's checked target instead and ignore the extras (they
    are this provider's options). :func:`check_http_session` then checks that they took effect.
    The class using it defines ``target`` and ``_session_auth()``.
    """

    target: Any
    base_url: str

    def _session_auth(self) -> Any:
        """The ``requests`` auth of every request (the Bearer key)."""
        raise NotImplementedError

    def _set_base_url(self, connection: Any) -> None:
        self.base_url = self.target.base_url

    def _configure_session_from_auth(self, session: Any, connection: Any) -> Any:
        # As session.auth, so that a ~/.netrc entry for the host cannot replace it with Basic auth.
        session.auth = self._session_auth()
        return session

    def _configure_session_from_extra(self, session: Any, connection: Any, extra_options: dict) -> Any:
        return session


def check_http_hook() -> None:
    """Raise unless ``HttpHook.get_conn`` still builds its session through the steps overridden above."""
    from airflow.providers.http.hooks.http import HttpHook

    called = set(getattr(getattr(HttpHook.get_conn, "__code__", None), "co_names", ()))
    missing = [
        step
        for step in HTTP_HOOK_SESSION_STEPS
        if not callable(getattr(HttpHook, step, None)) or step not in called
    ]
    if missing:
        raise _changed(
            f"HttpHook.get_conn no longer calls {', '.join(missing)} (apache-airflow-providers-http "
            f"{_http_provider_version()})",
            "Without them the connection's extras would be sent as request headers: install the "
            "HTTP provider release this package was tested with.",
        )


def check_http_session(session: Any, auth: Any, expected_headers: set[str]) -> None:
    """Raise unless ``session`` carries ``auth`` and no header but ``expected_headers`` (in any case)."""
    unexpected = {name for name in session.headers if name.lower() not in expected_headers}
    if session.auth is not auth or unexpected:
        problem = "a header from the connection's extras" if unexpected else "other credentials"
        raise _changed(
            f"HttpHook.get_conn gave a session with {problem} (apache-airflow-providers-http "
            f"{_http_provider_version()})",
            "Install the HTTP provider release this package was tested with.",
        )


def _http_provider_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("apache-airflow-providers-http")
    except PackageNotFoundError:
        return "unknown"


# -- object storage ---------------------------------------------------------------------------------


def storage_filesystem(target: Any) -> tuple[Any, str]:
    """
    ``(fsspec filesystem, path in it)`` of an ``ObjectStoragePath``.

    Airflow's filesystem for the scheme (with the path's connection) where a provider registers
    one, as ``ObjectStoragePath.open`` uses; fsspec's own for the schemes no provider registers
    (``memory://``, or ``s3://`` without the Amazon provider), which ``open`` refuses.
    """
    from airflow.sdk.io import has_fs

    protocol = target.protocol or "file"
    if has_fs(protocol):
        return target.fs, target.path
    if target.conn_id is not None:
        raise EventsAnalyticsConfigError(
            f"output_path {str(target)!r} names the connection {target.conn_id!r}, but no installed "
            f"provider registers a filesystem for {protocol}:// that could use it: install the "
            "provider for that storage, or drop the connection from the URL"
        )
    from fsspec.core import url_to_fs

    return url_to_fs(str(target))
