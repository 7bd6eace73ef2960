"""The data interval a task's run stands for, also in Airflow 3 runs that have no logical date.

A run triggered without a logical date (``airflow dags trigger DAG`` without ``-l``, or REST
``"logical_date": null``) has no ``data_interval_start``/``data_interval_end`` in its context. It
then exports what a scheduled run would have: the DAG timetable's most recent complete interval
before the run, as the timetable itself infers it for manual runs.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from datetime import datetime
from typing import Any

INTERVAL_KEYS = ("data_interval_start", "data_interval_end")


def run_interval(context: MutableMapping[str, Any]) -> tuple[datetime | None, datetime | None]:
    """
    ``(data_interval_start, data_interval_end)`` for the task's run.

    The context's own interval when it has one; else the timetable's most recent complete
    interval before the run's ``run_after``; ``(None, None)`` when the context names no DAG or
    run to infer it from (a bare ``execute({})`` call).
    """
    start, end = (context.get(key) for key in INTERVAL_KEYS)
    if start is not None and end is not None:
        return start, end
    dag, dag_run = context.get("dag"), context.get("dag_run")
    run_after = getattr(dag_run, "run_after", None)
    if dag is None or run_after is None:
        return start, end
    interval = _core_timetable(dag.timetable).infer_manual_data_interval(run_after=_as_pendulum(run_after))
    return interval.start, interval.end


def fill_run_interval(context: MutableMapping[str, Any]) -> None:
    """Put the run's interval into a context that lacks one, so that templates can use it."""
    start, end = run_interval(context)
    if start is not None and end is not None:
        context["data_interval_start"], context["data_interval_end"] = start, end


class InferredIntervalTemplates:
    """
    Operator mixin: in a run without a logical date, templates render with the inferred interval.

    ``{{ data_interval_start | ds }}`` then names the day the task exports, as in a scheduled run.
    """

    def render_template_fields(self, context: Any, jinja_env: Any = None) -> None:
        fill_run_interval(context)
        super().render_template_fields(context, jinja_env)  # type: ignore[misc]

    def _do_render_template_fields(
        self, parent: Any, template_fields: Any, context: Any, jinja_env: Any, seen_oids: Any
    ) -> None:
        # A mapped task (.partial().expand()) renders its unmapped copy through here only.
        if parent is self:
            fill_run_interval(context)
        super()._do_render_template_fields(  # type: ignore[misc]
            parent, template_fields, context, jinja_env, seen_oids
        )


def _core_timetable(timetable: Any) -> Any:
    # A DAG file's timetable is the Task SDK's declaration; the scheduler's class of the same name
    # holds the arithmetic. Imported here: airflow-core is heavy, and only such runs need it.
    if hasattr(timetable, "infer_manual_data_interval"):
        return timetable
    from airflow.serialization.encoders import coerce_to_core_timetable

    return coerce_to_core_timetable(timetable)


def _as_pendulum(moment: datetime) -> Any:
    from airflow.sdk import timezone

    return timezone.coerce_datetime(moment)
