"""The built-in ``current_datetime`` tool: what time it is for the user."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.errors import ToolError
from helpers.tools.context import ToolContext
from helpers.tools.registry import tool

__all__ = ["current_datetime"]

# English names on purpose: strftime("%A") follows the process locale.
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@tool
async def current_datetime(ctx: ToolContext, timezone: str | None = None) -> dict[str, str]:
    """Get the current date, time and weekday, in the user's timezone unless another is asked for.

    Args:
        timezone: An IANA timezone name such as "Europe/Berlin" or "America/New_York"; leave it
            out for the user's own timezone.
    """
    name = (timezone or "").strip() or ctx.timezone
    try:
        zone = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ToolError(
            f"unknown timezone {name!r}; use an IANA name such as 'Europe/London', "
            "'America/New_York' or 'Asia/Tokyo'"
        ) from None
    now = ctx.clock.now().astimezone(zone)
    return {
        "timezone": name,
        "date": now.date().isoformat(),
        "time": now.strftime("%H:%M"),
        "weekday": _WEEKDAYS[now.weekday()],
        "iso": now.isoformat(timespec="seconds"),
    }
