"""The bad-input table of scripts/bad_inputs.py, asserted: each mistake fails where it should, saying what.

"parse" is the constructor (the DAG file's import), "before any request" is ``execute`` before the
emulator saw a request. The waits are shorter than the script's; the stages do not depend on them.
"""

from __future__ import annotations

import pytest

from airflow_provider_events.exceptions import (
    EventsAnalyticsAuthError,
    EventsAnalyticsConfigError,
    EventsAnalyticsError,
    EventsAnalyticsServerError,
    EventsAnalyticsTLSError,
)
from scripts.bad_inputs import KEY, Case, cases, run

FAST = {"timeout": 0.3, "retry_limit": 1, "retry_delay": 0.01}
BEFORE = "before any request"
# case name -> (stage, error class, words of the first line).
EXPECTED: dict[str, tuple[str, type[EventsAnalyticsError], str]] = {
    "wrong key": ("after 1 request(s)", EventsAnalyticsAuthError, "GET /events/list answered HTTP 401"),
    "unknown conn id": (BEFORE, EventsAnalyticsConfigError, "Connection 'no_such_conn' is not defined"),
    "conn of another type (postgres)": (BEFORE, EventsAnalyticsConfigError, "is of type 'postgres'"),
    "conn of another type (http)": (BEFORE, EventsAnalyticsConfigError, "is of type 'http'"),
    "plain http to a non-loopback host": (BEFORE, EventsAnalyticsConfigError, "over plain http"),
    "length 0": ("parse", EventsAnalyticsConfigError, "length must be an integer >= 1"),
    "unit week": ("parse", EventsAnalyticsConfigError, "unit must be 'day' or 'hour', got 'week'"),
    'ending_at "yesterday"': ("parse", EventsAnalyticsConfigError, "ending_at must be an ISO 8601"),
    'event ""': ("parse", EventsAnalyticsConfigError, "non-empty string"),
    'event ["a", "*"]': ("parse", EventsAnalyticsConfigError, "event"),
    "unknown event Purchase": (
        "after 1 request(s)",
        EventsAnalyticsConfigError,
        "closest listed: 'purchase'",
    ),
    ".parquet without the extra": (BEFORE, EventsAnalyticsConfigError, "airflow-provider-events[parquet]"),
    "unwritable folder": (BEFORE, EventsAnalyticsConfigError, "cannot be written"),
    'hook_params {"bogus": 1}': ("parse", EventsAnalyticsConfigError, "hook_params has unknown key(s) bogus"),
    'threshold "abc"': ("parse", EventsAnalyticsConfigError, "threshold must be an integer >= 0"),
    # A TLS hello to a plain server is no HTTP request: the stage counts the one connection.
    "TLS against a plain server": ("after 1 connection(s)", EventsAnalyticsTLSError, "did not answer in TLS"),
    "read timeout": ("after", EventsAnalyticsServerError, "got no answer within 0.3 s"),
    "server killed mid-export": ("after", EventsAnalyticsServerError, "got no answer"),
}
CASES = [
    pytest.param(case, kind, id=f"{kind}: {case.name}")
    for case in cases()
    for kind in ("operator", "sensor")
    if getattr(case, kind) is not None
]


def test_every_case_has_an_expectation() -> None:
    assert {case.name for case in cases()} == set(EXPECTED)


@pytest.mark.parametrize(("case", "kind"), CASES)
def test_a_bad_input_fails_where_it_should_and_says_what(case: Case, kind: str, monkeypatch) -> None:
    outcome = run(case, kind, hook=FAST)

    assert isinstance(outcome.error, EventsAnalyticsError), outcome.error
    assert KEY not in str(outcome.error)
    assert outcome.left == []  # nothing half-written, not even a temporary file
    stage, error_class, words = EXPECTED[case.name]
    assert outcome.stage.startswith(stage)
    assert type(outcome.error) is error_class
    assert words in outcome.first_line
    if error_class is EventsAnalyticsServerError:  # a series page: which event, which window
        assert "[event '" in outcome.first_line and " ending at " in outcome.first_line
    # No unrelated exception chained on: at most the stdlib's own reason, suppressed from display.
    assert outcome.error.__context__ is None or outcome.error.__suppress_context__
