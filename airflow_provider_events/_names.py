"""Event names checked against ``/events/list``: which are unknown and which listed names are closest.

Pure, no I/O: the caller lists the names once per task and hands them in. Names are taken as given,
case and surrounding spaces included, as the API takes them.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

from airflow_provider_events.exceptions import EventsAnalyticsConfigError

_CLOSEST = 3
_NAMED = 10


def closest_names(name: str, listed: Sequence[str]) -> list[str]:
    """Up to three listed names closest to ``name``, a difference of case or spaces first."""
    # The likeliest slip is "Purchase" or " purchase ": difflib alone may rank another name higher.
    folded = [candidate for candidate in listed if candidate.casefold() == name.strip().casefold()]
    similar = difflib.get_close_matches(name, listed, n=_CLOSEST, cutoff=0.6)
    return list(dict.fromkeys(folded + similar))[:_CLOSEST]


def unknown_names(requested: Iterable[str], listed: Sequence[str]) -> dict[str, list[str]]:
    """Each requested name the listing lacks, with its closest listed names, in the order requested."""
    known = set(listed)
    return {name: closest_names(name, listed) for name in dict.fromkeys(requested) if name not in known}


def require_listed(requested: Iterable[str], listed: Sequence[str]) -> None:
    """Raise :class:`EventsAnalyticsConfigError` naming every requested name that is not listed."""
    unknown = unknown_names(requested, listed)
    if not unknown:
        return
    parts = [
        f"{name!r} (closest listed: {', '.join(map(repr, near))})" if near else f"{name!r} (nothing close)"
        for name, near in list(unknown.items())[:_NAMED]
    ]
    more = f" and {len(unknown) - _NAMED} more" if len(unknown) > _NAMED else ""
    listing = f"{len(listed)} name{'' if len(listed) == 1 else 's'}" if listed else "no names at all"
    raise EventsAnalyticsConfigError(
        f"Unknown event name(s) {'; '.join(parts)}{more}: /events/list holds {listing}, and names are "
        "case-sensitive and taken as given. Fix the name, or pass check_event_names=False to fetch "
        "names the API does not list."
    )
