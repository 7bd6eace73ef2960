"""From an Airflow connection to where requests go and what key they carry: pure, no I/O."""

from __future__ import annotations

import dataclasses
import ipaddress
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_events import CONN_TYPE, __version__
from airflow_provider_events._checks import parse_flag
from airflow_provider_events._tls import Verify, resolve_verify
from airflow_provider_events.exceptions import EventsAnalyticsConfigError

USER_AGENT = f"airflow-provider-events/{__version__}"
_EXAMPLE = "https://rest.iad-01.example.com"


@dataclass(frozen=True)
class ApiTarget:
    """The instance's base URL, the REST API key (kept out of ``repr``) and the certificates to trust."""

    base_url: str
    api_key: str = field(repr=False)
    verify: Verify = True

    def headers(self) -> dict[str, str]:
        """Headers every request carries."""
        return {
            "Authorization": f"Bearer {self.api_key}",
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
        }


def _is_loopback(hostname: str) -> bool:
    if hostname == "localhost" or hostname.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


def resolve_target(
    conn_id: str,
    *,
    host: str | None,
    password: str | None,
    schema: str | None = None,
    port: int | None = None,
    extra: dict[str, Any] | None = None,
    conn_type: str | None = None,
) -> ApiTarget:
    """
    Build the :class:`ApiTarget` of a connection, or raise a config error saying what to fix.

    ``host`` is the instance URL; without a scheme it means https (or the connection's
    ``schema`` field when that says ``http``). The key is never sent over plain http to a host
    outside the loopback range unless the extra ``allow_insecure_http`` is true. A connection of
    another type (``http``, ``postgres``...) is refused: its fields mean other things.
    """
    if conn_type and conn_type != CONN_TYPE:
        raise EventsAnalyticsConfigError(
            f"Connection {conn_id!r} is of type {conn_type!r}, not {CONN_TYPE!r}: create an "
            f"{CONN_TYPE} connection (Instance URL and REST API key) and pass its id as events_conn_id"
        )
    host = (host or "").strip()
    if not host:
        raise EventsAnalyticsConfigError(
            f"Connection {conn_id!r} has no host: set it to the instance URL, e.g. {_EXAMPLE}"
        )
    if not password:
        raise EventsAnalyticsConfigError(
            f"Connection {conn_id!r} has no REST API key: set it as the connection's password"
        )
    if "://" not in host:
        wanted = (schema or "").strip().lower()
        host = f"{wanted if wanted in ('http', 'https') else 'https'}://{host}"
    parts = urlsplit(host)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise EventsAnalyticsConfigError(
            f"Connection {conn_id!r} has an invalid instance URL {host!r}; expected e.g. {_EXAMPLE}"
        )
    netloc = parts.netloc
    if port and parts.port is None:
        netloc = f"{netloc}:{port}"
    insecure_allowed = parse_flag((extra or {}).get("allow_insecure_http"), default=False)
    if parts.scheme == "http" and not _is_loopback(parts.hostname) and not insecure_allowed:
        raise EventsAnalyticsConfigError(
            f"Connection {conn_id!r} would send the REST API key over plain http to {parts.hostname}. "
            "Use https, or set the extra 'allow_insecure_http' to true if the network is trusted."
        )
    return ApiTarget(base_url=f"{parts.scheme}://{netloc}{parts.path.rstrip('/')}", api_key=password)


def load_target(conn_id: str, get_connection: Callable[[str], Any]) -> ApiTarget:
    """Look a connection up and resolve it; an undefined id is a config error that says how to define it."""
    from airflow.exceptions import AirflowNotFoundException

    try:
        conn = get_connection(conn_id)
    except AirflowNotFoundException:
        conn = None
    return _resolved(conn_id, conn)


async def aload_target(conn_id: str, get_connection: Callable[[str], Awaitable[Any]]) -> ApiTarget:
    """:func:`load_target` for async code (the triggerer), with an awaitable lookup."""
    from airflow.exceptions import AirflowNotFoundException

    try:
        conn = await get_connection(conn_id)
    except AirflowNotFoundException:
        conn = None
    return _resolved(conn_id, conn)


def _resolved(conn_id: str, conn: Any) -> ApiTarget:
    # Raised here, not in the lookup's except block: the lookup's own error would only repeat the id.
    if conn is None:
        raise EventsAnalyticsConfigError(
            f"Connection {conn_id!r} is not defined: create it as type {CONN_TYPE!r} (Admin > "
            f"Connections), or set AIRFLOW_CONN_{conn_id.upper()} to its JSON, e.g. "
            f'{{"conn_type": "{CONN_TYPE}", "host": "{_EXAMPLE}", "password": "<REST API key>"}}'
        )
    return target_from_connection(conn)


def target_from_connection(conn: Any) -> ApiTarget:
    """Resolve an Airflow ``Connection`` and register its key with Airflow's secret masker."""
    target = resolve_target(
        conn.conn_id,
        host=conn.host,
        password=conn.password,
        schema=conn.schema,
        port=conn.port,
        extra=conn.extra_dejson,
        conn_type=conn.conn_type,
    )
    # Decided once, here, for both transports: requests and aiohttp would each read another variable.
    target = dataclasses.replace(target, verify=resolve_verify(conn.conn_id, conn.extra_dejson, os.environ))
    from airflow.sdk.log import mask_secret

    mask_secret(target.api_key)
    return target
