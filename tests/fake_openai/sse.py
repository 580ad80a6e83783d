"""Server-sent events: open a stream, write validated events, survive a client that hung up."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from .wire import core_of, elapsed_ms


class EventStream:
    """One `text/event-stream` response; writes stop quietly once the client has gone."""

    def __init__(self, request: web.Request) -> None:
        """Prepare to stream the answer to `request`."""
        self.request = request
        self.core = core_of(request)
        self.response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream; charset=utf-8",
                "Cache-Control": "no-cache",
            }
        )
        self.client_gone = False
        self.sent = 0

    async def open(self) -> None:
        """Send the status line and headers."""
        self.response.headers["x-fake-server-ms"] = elapsed_ms(self.request)
        self.response.headers["x-request-id"] = self.core.new_id("req_", 32)
        await self.response.prepare(self.request)

    async def send(
        self,
        data: Any,
        *,
        event: str | None = None,
        schema: str | None = None,
        envelope: bool = False,
    ) -> None:
        """Write one event; validate `data` (or `{"event", "data"}` with `envelope`) first."""
        if schema is not None:
            self.core.check(schema, {"event": event, "data": data} if envelope else data)
        payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
        head = f"event: {event}\n" if event is not None else ""
        await self._write(f"{head}data: {payload}\n\n")

    async def done(self, *, event: str | None = None, schema: str | None = None) -> None:
        """Write the closing `[DONE]` sentinel (named `done` for Assistants streams)."""
        await self.send("[DONE]", event=event, schema=schema, envelope=event is not None)

    async def finish(self) -> web.StreamResponse:
        """End the response body and return the response for aiohttp."""
        if not self.client_gone:
            try:
                await self.response.write_eof()
            except (ConnectionError, RuntimeError):
                self.client_gone = True
        return self.response

    async def _write(self, text: str) -> None:
        if self.client_gone:
            return
        try:
            await self.response.write(text.encode())
            self.sent += 1
        except (ConnectionError, RuntimeError):
            self.client_gone = True
