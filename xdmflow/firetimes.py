"""Fire times of a flow's schedule — pure functions, tested with a frozen clock.

Fire times are ``startTime + k · interval`` (seconds). ``once`` fires at ``startTime`` only.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdmflow.errors import BadRequestError

__all__ = [
    "Schedule",
    "FREQUENCY_SECONDS",
    "parse_schedule",
    "fires_between",
    "count_fires_between",
    "next_fire_after",
]

FREQUENCY_SECONDS = {"minute": 60, "hour": 3600, "day": 86_400, "week": 604_800}
_FREQUENCIES = ("once", *FREQUENCY_SECONDS)


@dataclass(frozen=True)
class Schedule:
    start_time: int
    frequency: str
    interval: int = 1
    backfill: bool = True

    @property
    def period(self) -> int | None:
        """Seconds between fires, ``None`` for ``once``."""
        if self.frequency == "once":
            return None
        return FREQUENCY_SECONDS[self.frequency] * self.interval


def _as_int(value: object, name: str) -> int:
    if isinstance(value, bool):
        raise BadRequestError(f"scheduleParams.{name} must be an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    raise BadRequestError(f"scheduleParams.{name} must be an integer (seconds since the epoch for startTime)")


def _as_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise BadRequestError("scheduleParams.backfill must be true or false")


def parse_schedule(params: dict[str, object]) -> Schedule:
    """A schedule from ``scheduleParams`` (numbers may arrive as strings, as the tutorials send them)."""
    freq = str(params.get("frequency", "")).lower()
    if freq not in _FREQUENCIES:
        raise BadRequestError(f"scheduleParams.frequency must be one of {', '.join(_FREQUENCIES)}")
    if "startTime" not in params:
        raise BadRequestError("scheduleParams.startTime (epoch seconds) is required")
    start = _as_int(params["startTime"], "startTime")
    if start > 10**11:  # milliseconds sent by mistake
        raise BadRequestError("scheduleParams.startTime must be epoch seconds, not milliseconds")
    if freq == "once":
        if "interval" in params or "backfill" in params:
            raise BadRequestError(
                "scheduleParams.interval and backfill are not allowed with frequency 'once'"
            )
        return Schedule(start, freq)
    if "interval" not in params:
        raise BadRequestError(f"scheduleParams.interval is required with frequency '{freq}'")
    interval = _as_int(params["interval"], "interval")
    minimum = 15 if freq == "minute" else 1
    if interval < minimum:
        raise BadRequestError(f"scheduleParams.interval must be at least {minimum} with frequency '{freq}'")
    backfill = _as_bool(params.get("backfill", True))
    return Schedule(start, freq, interval, backfill)


def next_fire_after(s: Schedule, t: int) -> int | None:
    """The first fire time strictly after ``t`` (``None`` when there is none)."""
    if s.period is None:
        return s.start_time if s.start_time > t else None
    if t < s.start_time:
        return s.start_time
    k = (t - s.start_time) // s.period + 1
    return s.start_time + k * s.period


def fires_between(s: Schedule, after: int | None, until: int, *, last: int | None = None) -> list[int]:
    """Fire times in ``(after, until]`` (``after=None``: from the start), oldest first.

    ``last`` keeps only the newest ``last`` of them (computed arithmetically, so a schedule with
    years of missed minutes costs nothing).
    """
    first = next_fire_after(s, after if after is not None else s.start_time - 1)
    if first is None or first > until:
        return []
    if s.period is None:
        return [first]
    count = (until - first) // s.period + 1
    if last is not None and count > last:
        first += (count - last) * s.period
        count = last
    return [first + i * s.period for i in range(count)]


def count_fires_between(s: Schedule, after: int | None, until: int) -> int:
    """How many fire times fall in ``(after, until]``."""
    first = next_fire_after(s, after if after is not None else s.start_time - 1)
    if first is None or first > until:
        return 0
    if s.period is None:
        return 1
    return (until - first) // s.period + 1
