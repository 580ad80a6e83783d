"""Google Calendar tools: list, create, update and delete events, in the user's timezone.

Times the model sends without an offset are read in ``timezone`` (the one the user named) or
TIMEZONE; times are answered in that zone. Creating or changing an event with attendees
emails them invitations, and deleting cannot be undone: those wait for the person's "yes".
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.errors import ToolError
from helpers.google.client import TOOL_TIMEOUT
from helpers.google.service import GoogleTools, Outcome, google
from helpers.tools.context import ToolContext
from helpers.tools.registry import tool

MAX_EVENTS = 50


def zone_of(name: str, default: str) -> ZoneInfo:
    """The IANA zone ``name`` (or ``default`` when empty); a ToolError for an unknown one."""
    try:
        return ZoneInfo((name or default).strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ToolError(f"unknown timezone {name!r}; use an IANA name like Europe/Berlin") from None


def parse_time(text: str, zone: ZoneInfo) -> datetime | date:
    """ISO 8601 date or date-time; a date-time without an offset is read in ``zone``."""
    value = text.strip()
    try:
        if len(value) == 10:
            return date.fromisoformat(value)
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ToolError(
            f"could not read the time {text!r}; use ISO 8601 like 2026-12-01T15:00"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def _google_time(value: datetime | date, zone: ZoneInfo) -> dict[str, str]:
    if isinstance(value, datetime):
        return {"dateTime": value.isoformat(), "timeZone": zone.key}
    return {"date": value.isoformat()}


def _shown(when: dict[str, Any] | None, zone: ZoneInfo) -> str:
    """An event time from Google, in ``zone`` (all-day events as their date)."""
    if not when:
        return ""
    if "dateTime" in when:
        moment = datetime.fromisoformat(str(when["dateTime"]).replace("Z", "+00:00"))
        return moment.astimezone(zone).isoformat()
    return str(when.get("date", ""))


def _event(item: dict[str, Any], zone: ZoneInfo) -> dict[str, Any]:
    return {
        "id": item.get("id"),
        "summary": item.get("summary", "(no title)"),
        "start": _shown(item.get("start"), zone),
        "end": _shown(item.get("end"), zone),
        "location": item.get("location", ""),
        "attendees": [a.get("email") for a in item.get("attendees", []) if a.get("email")],
    }


def _body(
    zone: ZoneInfo,
    *,
    summary: str = "",
    start: str = "",
    end: str = "",
    description: str = "",
    location: str = "",
    attendees: list[str] | None = None,
) -> dict[str, Any]:
    """The event fields that were given, in Google's shape."""
    body: dict[str, Any] = {}
    if summary:
        body["summary"] = summary
    if description:
        body["description"] = description
    if location:
        body["location"] = location
    begin = parse_time(start, zone) if start else None
    finish = parse_time(end, zone) if end else None
    if begin is not None and finish is not None:
        if type(begin) is not type(finish):
            raise ToolError("start and end must both be dates or both be date-times")
        if finish <= begin:
            raise ToolError("the end must be after the start")
    if begin is not None:
        body["start"] = _google_time(begin, zone)
    if finish is not None:
        body["end"] = _google_time(finish, zone)
    if attendees:
        body["attendees"] = [{"email": a.strip()} for a in attendees if a.strip()]
    return body


def _describe(verb: str, body: dict[str, Any], zone: ZoneInfo) -> str:
    parts = [f'{verb} "{body.get("summary", "the event")}"']
    if "start" in body:
        parts.append(f"from {_shown(body['start'], zone)} to {_shown(body.get('end'), zone)}")
    if body.get("attendees"):
        emails = ", ".join(a["email"] for a in body["attendees"])
        parts.append(f"and email invitations to {emails}")
    return " ".join(parts)


@tool(timeout=TOOL_TIMEOUT)
async def list_events(
    ctx: ToolContext,
    time_min: str = "",
    time_max: str = "",
    max_results: int = 10,
    calendar_id: str = "primary",
    timezone: str = "",
) -> dict[str, Any]:
    """List calendar events between two times, soonest first.

    Args:
        time_min: Start of the window, ISO 8601 (default: now). Local time if no offset.
        time_max: End of the window, ISO 8601 (default: no end).
        max_results: How many events at most (1-50).
        calendar_id: Which calendar; "primary" is the owner's main one.
        timezone: IANA zone the user named (default: the bot's TIMEZONE).
    """
    g = google(ctx)
    zone = zone_of(timezone, ctx.timezone)
    start = parse_time(time_min, zone) if time_min else ctx.clock.now()
    params: dict[str, Any] = {
        "calendarId": calendar_id or "primary",
        "timeMin": _rfc3339(start, zone),
        "maxResults": max(1, min(max_results, MAX_EVENTS)),
        "singleEvents": True,
        "orderBy": "startTime",
        "timeZone": zone.key,
    }
    if time_max:
        params["timeMax"] = _rfc3339(parse_time(time_max, zone), zone)
    found = await g.client.call(
        "calendar", lambda s: s.events().list(**params), what="list the events"
    )
    return {"timezone": zone.key, "events": [_event(i, zone) for i in found.get("items", [])]}


@tool(timeout=TOOL_TIMEOUT)
async def create_event(
    ctx: ToolContext,
    summary: str,
    start: str,
    end: str,
    description: str = "",
    location: str = "",
    attendees: list[str] | None = None,
    calendar_id: str = "primary",
    timezone: str = "",
) -> dict[str, Any]:
    """Create a calendar event. With attendees, invitations are emailed after the user confirms.

    Args:
        summary: The event's title.
        start: ISO 8601 start (a date like 2026-12-01 for an all-day event). Local if no offset.
        end: ISO 8601 end (for all-day events, the day after the last day).
        description: Notes for the event.
        location: Where it takes place.
        attendees: Email addresses to invite (each gets an invitation email).
        calendar_id: Which calendar; "primary" is the owner's main one.
        timezone: IANA zone the user named (default: the bot's TIMEZONE).
    """
    g = google(ctx)
    zone = zone_of(timezone, ctx.timezone)
    body = _body(
        zone,
        summary=summary,
        start=start,
        end=end,
        description=description,
        location=location,
        attendees=attendees,
    )
    if "start" not in body or "end" not in body:
        raise ToolError("an event needs a start and an end")
    arguments = {"calendar_id": calendar_id or "primary", "body": body, "zone": zone.key}
    if body.get("attendees"):
        return await g.ask_first(ctx, "create_event", arguments, _describe("create", body, zone))
    outcome = await _insert(g, arguments)
    await g.record(ctx.chat, ctx.sender, "create_event", _describe("create", body, zone), outcome)
    return {"created": outcome.result_id, "done": outcome.text}


@tool(timeout=TOOL_TIMEOUT)
async def update_event(
    ctx: ToolContext,
    event_id: str,
    summary: str = "",
    start: str = "",
    end: str = "",
    description: str = "",
    location: str = "",
    attendees: list[str] | None = None,
    calendar_id: str = "primary",
    timezone: str = "",
) -> dict[str, Any]:
    """Change an event: only the fields given change. New attendees wait for the user's yes.

    Args:
        event_id: The event's id from list_events.
        summary: New title.
        start: New ISO 8601 start (local if no offset).
        end: New ISO 8601 end.
        description: New notes.
        location: New place.
        attendees: The full new list of invitees (they are emailed).
        calendar_id: Which calendar; "primary" is the owner's main one.
        timezone: IANA zone the user named (default: the bot's TIMEZONE).
    """
    g = google(ctx)
    zone = zone_of(timezone, ctx.timezone)
    body = _body(
        zone,
        summary=summary,
        start=start,
        end=end,
        description=description,
        location=location,
        attendees=attendees,
    )
    if not body:
        raise ToolError("nothing to change: give at least one field")
    if ("start" in body) != ("end" in body):
        # Moving one end alone would leave the other where it was: ask for both.
        raise ToolError("give both start and end when moving an event")
    arguments = {
        "calendar_id": calendar_id or "primary",
        "event_id": event_id,
        "body": body,
        "zone": zone.key,
    }
    said = _describe(f"change event {event_id}:", body, zone)
    if body.get("attendees"):
        return await g.ask_first(ctx, "update_event", arguments, said)
    outcome = await _patch(g, arguments)
    await g.record(ctx.chat, ctx.sender, "update_event", said, outcome)
    return {"updated": outcome.result_id, "done": outcome.text}


@tool(timeout=TOOL_TIMEOUT)
async def delete_event(
    ctx: ToolContext, event_id: str, calendar_id: str = "primary"
) -> dict[str, Any]:
    """Delete an event (after the user confirms; attendees are told it is cancelled).

    Args:
        event_id: The event's id from list_events.
        calendar_id: Which calendar; "primary" is the owner's main one.
    """
    g = google(ctx)
    calendar = calendar_id or "primary"
    event = await g.client.call(
        "calendar",
        lambda s: s.events().get(calendarId=calendar, eventId=event_id),
        what="find the event",
    )
    zone = zone_of("", ctx.timezone)
    shown = _event(event, zone)
    summary = f'delete "{shown["summary"]}" ({shown["start"]})'
    arguments = {"calendar_id": calendar, "event_id": event_id}
    return await g.ask_first(ctx, "delete_event", arguments, summary)


async def _insert(g: GoogleTools, arguments: dict[str, Any]) -> Outcome:
    body, calendar = arguments["body"], arguments["calendar_id"]
    notify = "all" if body.get("attendees") else "none"
    made = await g.client.call(
        "calendar",
        lambda s: s.events().insert(calendarId=calendar, body=body, sendUpdates=notify),
        what="create the event",
    )
    zone = ZoneInfo(arguments.get("zone", "UTC"))
    return Outcome(made.get("id"), _describe("Created", body, zone).replace(" and email", ", sent"))


async def _patch(g: GoogleTools, arguments: dict[str, Any]) -> Outcome:
    body, calendar, event_id = arguments["body"], arguments["calendar_id"], arguments["event_id"]
    notify = "all" if body.get("attendees") else "none"
    made = await g.client.call(
        "calendar",
        lambda s: s.events().patch(
            calendarId=calendar, eventId=event_id, body=body, sendUpdates=notify
        ),
        what="change the event",
    )
    zone = ZoneInfo(arguments.get("zone", "UTC"))
    return Outcome(made.get("id"), _event_line("Updated", made, zone))


async def _delete(g: GoogleTools, arguments: dict[str, Any]) -> Outcome:
    calendar, event_id = arguments["calendar_id"], arguments["event_id"]
    await g.client.call(
        "calendar",
        lambda s: s.events().delete(calendarId=calendar, eventId=event_id, sendUpdates="all"),
        what="delete the event",
    )
    return Outcome(event_id, "Deleted the event.")


def _event_line(verb: str, item: dict[str, Any], zone: ZoneInfo) -> str:
    shown = _event(item, zone)
    return f'{verb} "{shown["summary"]}" ({shown["start"]} to {shown["end"]}).'


def _rfc3339(value: datetime | date, zone: ZoneInfo) -> str:
    """A window bound as RFC 3339 (a date is its local midnight)."""
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day, tzinfo=zone)
    return value.isoformat()


EXECUTORS = {"create_event": _insert, "update_event": _patch, "delete_event": _delete}
TOOLS = (list_events, create_event, update_event, delete_event)
