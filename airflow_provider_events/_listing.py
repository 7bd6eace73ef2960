"""The API's event names as a task checks them: listed once per DAG run by mapped tasks, not once each.

``/events/list`` has a rate limit far below the series': a mapped export of a few hundred events
must not list a few hundred times. A map index that lists leaves the names in its XCom (names are
not secret); the other map indexes of the same run read them from there (one XCom request for all
map indexes), through the task instance: the Task SDK's public API, so it works on workers
without database access. A map index lists itself only when no sibling has listed yet (map
indexes that start together before any listing is in each list once), or when a name it wants is
missing from the shared listing (an event created since).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

#: The XCom key under which a map index leaves its listing for its siblings.
LISTING_KEY = "events_analytics_listing"


def task_listing(hook: Any, context: Mapping[str, Any] | None, requested: Sequence[str] | None) -> list[str]:
    """
    The listing to check ``requested`` against (``None``: every name is wanted, as for ``"*"``).

    :param hook: an ``EventsAnalyticsHook``: ``list_events`` and ``events_conn_id``
    :param context: the task's context; without a task instance in it the names are listed
    :param requested: the names the task asks for
    """
    ti = (context or {}).get("ti")
    map_index = getattr(ti, "map_index", None)
    if ti is None or not isinstance(map_index, int) or map_index < 0:
        return hook.list_events()
    shared = _shared_listing(ti, hook.events_conn_id)
    if shared is not None and requested is not None and set(requested) <= set(shared):
        hook.log.info(
            "Checked the event names against the listing a sibling map index of %s fetched for this "
            "run (%d names)",
            ti.task_id,
            len(shared),
        )
        return shared
    names = hook.list_events()
    ti.xcom_push(key=LISTING_KEY, value={"conn_id": hook.events_conn_id, "names": names})
    return names


def _shared_listing(ti: Any, conn_id: str) -> list[str] | None:
    """The first listing a map index of this task left for this connection in this run, if any."""
    pulled = ti.xcom_pull(task_ids=ti.task_id, key=LISTING_KEY)  # every map index, in one request
    values = pulled if isinstance(pulled, list) else [pulled]
    for value in values:
        if not isinstance(value, Mapping) or value.get("conn_id") != conn_id:
            continue  # not listed, or for another connection
        names = value.get("names")
        if isinstance(names, list) and all(isinstance(name, str) for name in names):
            return names
    return None
