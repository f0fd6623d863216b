"""When a failed delivery is tried again. Pure: no Django.

Exponential at first (a receiver restarting is back within seconds, one deploying within
minutes), then hourly, until WEBHOOK_RETRY_SECONDS (a day) after the first attempt: about thirty
attempts in all. `scale` shortens every delay alike (the tests run a day's schedule in seconds)."""

from __future__ import annotations

# Seconds after the 1st, 2nd, 3rd ... failed attempt; the last repeats.
DELAYS = (5, 30, 120, 600, 1800, 3600)


def delay_after(attempts: int, *, scale: float = 1.0) -> float:
    """Seconds to wait after the `attempts`-th failed attempt (1 for the first)."""
    return DELAYS[min(max(attempts, 1), len(DELAYS)) - 1] * scale


def gives_up(seconds_since_first: float, *, retry_seconds: float) -> bool:
    """A delivery failing for this long is not tried again."""
    return seconds_since_first >= retry_seconds
