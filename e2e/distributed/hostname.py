"""``[core] hostname_callable`` of the distributed suite: one machine plays several hosts by name."""

from __future__ import annotations

import os
import socket


def hostname() -> str:
    """``E2E_HOSTNAME`` (``worker-a``, ``triggerer-1``, ...), else the machine's name."""
    return os.environ.get("E2E_HOSTNAME") or socket.getfqdn()
