"""Gmail tools: search and read the owner's mail, and send mail after the user's "yes".

``send_email`` never sends: it checks the message, resolves the attachments among the chat's
recent files, and stores the whole message as a pending action; the person's "yes" in the
same chat sends it (``bot.confirmations``).
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import parseaddr
from typing import Any

from bot.errors import ToolError
from helpers.google.client import TOOL_TIMEOUT
from helpers.google.service import GoogleTools, Outcome, google
from helpers.tools.context import ToolContext
from helpers.tools.registry import tool

MAX_RESULTS = 20
#: Longest body handed to the model, in characters.
MAX_BODY = 8000
#: Largest total of attachments (Gmail refuses messages over 25 MB, base64 included).
MAX_ATTACHMENTS = 18 * 1024 * 1024
_HEADERS = ("From", "To", "Subject", "Date")


def _header(message: dict[str, Any], name: str) -> str:
    for header in message.get("payload", {}).get("headers", []):
        if str(header.get("name", "")).lower() == name.lower():
            return str(header.get("value", ""))
    return ""


def _decode(data: str) -> str:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)).decode("utf-8", "replace")


def _walk(part: dict[str, Any]) -> list[dict[str, Any]]:
    """Every MIME part of a message, depth first."""
    found = [part]
    for child in part.get("parts", []) or []:
        found += _walk(child)
    return found


def body_text(message: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """The plain-text body (HTML stripped when there is no plain part) and the attachments."""
    parts = _walk(message.get("payload", {}))
    attachments = [
        {"name": p["filename"], "mimetype": p.get("mimeType", ""), "size": p["body"].get("size", 0)}
        for p in parts
        if p.get("filename") and p.get("body")
    ]
    for mimetype in ("text/plain", "text/html"):
        for p in parts:
            data = p.get("body", {}).get("data")
            if p.get("mimeType") == mimetype and data and not p.get("filename"):
                text = _decode(data)
                if mimetype == "text/html":
                    text = html.unescape(re.sub(r"<[^>]+>", " ", text))
                    text = re.sub(r"[ \t]+", " ", text)
                return text.strip(), attachments
    return message.get("snippet", ""), attachments


@tool(timeout=TOOL_TIMEOUT)
async def read_emails(ctx: ToolContext, query: str = "", max_results: int = 5) -> dict[str, Any]:
    """Search the owner's Gmail; answers sender, subject, date, snippet and id of each mail.

    Args:
        query: Gmail search syntax, e.g. "is:unread newer_than:2d" or "from:anna invoice".
        max_results: How many mails at most (1-20).
    """
    g = google(ctx)
    count = max(1, min(max_results, MAX_RESULTS))
    found = await g.client.call(
        "gmail",
        lambda s: s.users().messages().list(userId="me", q=query, maxResults=count),
        what="search the mail",
    )
    mails = []
    for ref in found.get("messages", [])[:count]:
        mid = ref["id"]
        meta = await g.client.call("gmail", _metadata(mid), what="read a mail")
        mails.append(
            {
                "id": mid,
                "from": _header(meta, "From"),
                "subject": _header(meta, "Subject"),
                "date": _header(meta, "Date"),
                "snippet": html.unescape(meta.get("snippet", "")),
            }
        )
    return {"emails": mails}


def _metadata(mid: str) -> Callable[[Any], Any]:
    """The request for one mail's headers and snippet."""
    return lambda s: (
        s.users()
        .messages()
        .get(userId="me", id=mid, format="metadata", metadataHeaders=list(_HEADERS))
    )


@tool(timeout=TOOL_TIMEOUT)
async def read_email(ctx: ToolContext, id: str) -> dict[str, Any]:
    """Read one mail: its body as text, and the names of its attachments.

    Args:
        id: The mail's id from read_emails.
    """
    g = google(ctx)
    message = await g.client.call(
        "gmail",
        lambda s: s.users().messages().get(userId="me", id=id, format="full"),
        what="read the mail",
    )
    text, attachments = body_text(message)
    if len(text) > MAX_BODY:
        text = text[:MAX_BODY] + " [...]"
    return {
        "id": id,
        "from": _header(message, "From"),
        "to": _header(message, "To"),
        "subject": _header(message, "Subject"),
        "date": _header(message, "Date"),
        "body": text,
        "attachments": attachments,
    }


@tool(timeout=TOOL_TIMEOUT)
async def send_email(
    ctx: ToolContext,
    to: list[str],
    subject: str,
    body: str,
    attach_recent_files: list[str] | None = None,
) -> dict[str, Any]:
    """Prepare a mail from the owner's Gmail; it is sent only after the user replies "yes".

    Args:
        to: Recipient email addresses.
        subject: The subject line.
        body: The message text.
        attach_recent_files: Names of files this chat sent or received recently to attach
            ("latest" = the newest one).
    """
    g = google(ctx)
    recipients = [a.strip() for a in to if a.strip()]
    bad = [a for a in recipients if "@" not in parseaddr(a)[1]]
    if not recipients or bad:
        raise ToolError(f"not an email address: {', '.join(bad) or '(none given)'}")
    files = await _attachments(g, ctx, attach_recent_files or [])
    arguments = {
        "to": recipients,
        "subject": subject,
        "body": body,
        "files": [
            {"name": f.name, "mimetype": f.mimetype, "data": base64.b64encode(f.data).decode()}
            for f in files
        ],
    }
    attached = f" with {', '.join(f.name for f in files)}" if files else ""
    summary = f'send "{subject}" to {", ".join(recipients)}{attached}'
    return await g.ask_first(ctx, "send_email", arguments, summary)


async def _attachments(g: GoogleTools, ctx: ToolContext, names: list[str]) -> list[Any]:
    recent = await g.files.recent(ctx.chat, ctx.clock.now())
    chosen = []
    for name in names:
        match = (
            recent[:1]
            if name.strip().lower() == "latest"
            else [f for f in recent if f.name == name.strip()][:1]
        )
        if not match:
            known = ", ".join(f.name for f in recent) or "none"
            raise ToolError(f"no recent file named {name!r} in this chat; recent files: {known}")
        chosen.append(match[0])
    if sum(len(f.data) for f in chosen) > MAX_ATTACHMENTS:
        raise ToolError("the attachments are too large for one mail (18 MB at most)")
    return chosen


def mime_message(arguments: dict[str, Any]) -> EmailMessage:
    """The stored pending mail as a MIME message."""
    message = EmailMessage()
    message["To"] = ", ".join(arguments["to"])
    message["Subject"] = arguments["subject"]
    message.set_content(arguments["body"])
    for f in arguments.get("files", []):
        main, _, sub = str(f["mimetype"]).partition("/")
        message.add_attachment(
            base64.b64decode(f["data"]),
            maintype=main or "application",
            subtype=sub or "octet-stream",
            filename=f["name"],
        )
    return message


async def _send(g: GoogleTools, arguments: dict[str, Any]) -> Outcome:
    raw = base64.urlsafe_b64encode(mime_message(arguments).as_bytes()).decode()
    sent = await g.client.call(
        "gmail",
        lambda s: s.users().messages().send(userId="me", body={"raw": raw}),
        what="send the mail",
    )
    return Outcome(
        sent.get("id"), f'Sent "{arguments["subject"]}" to {", ".join(arguments["to"])}.'
    )


EXECUTORS = {"send_email": _send}
TOOLS = (read_emails, read_email, send_email)
