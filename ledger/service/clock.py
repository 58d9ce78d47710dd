"""The clock: the one place that reads the real time.

Everything else is handed a ``Clock`` (or the ``now`` it returned) by its caller, so tests can
move time by hand; the composition roots (the CLI, ``cli.site.create_app``) pass ``utc_now``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The real time, timezone-aware in UTC."""
    return datetime.now(UTC)
