"""Translating OpenAI's exceptions into the bot's ``ReplyError`` (with a short cause)."""

from __future__ import annotations

import openai

from bot.errors import ReplyError


def translate(exc: Exception) -> ReplyError:
    """A ``ReplyError`` whose ``cause`` names what went wrong with the OpenAI call."""
    if isinstance(exc, ReplyError):
        return exc
    if isinstance(exc, openai.APITimeoutError):
        return ReplyError("OpenAI timed out", cause="timeout", retryable=True)
    if isinstance(exc, openai.APIConnectionError):
        return ReplyError(f"cannot reach OpenAI: {exc}", cause="connection", retryable=True)
    if isinstance(exc, openai.RateLimitError):
        cause = "quota_exceeded" if exc.code == "insufficient_quota" else "rate_limited"
        return ReplyError(f"OpenAI rate limit: {exc.message}", cause=cause, retryable=True)
    if isinstance(exc, openai.AuthenticationError):
        return ReplyError(f"OpenAI refused the API key: {exc.message}", cause="auth")
    if isinstance(exc, openai.PermissionDeniedError):
        return ReplyError(f"OpenAI permission denied: {exc.message}", cause="permission")
    if isinstance(exc, openai.NotFoundError):
        return ReplyError(f"OpenAI: not found: {exc.message}", cause="not_found")
    if isinstance(exc, openai.BadRequestError):
        cause = exc.code or "bad_request"
        return ReplyError(f"OpenAI rejected the request: {exc.message}", cause=cause)
    if isinstance(exc, openai.InternalServerError):
        return ReplyError(
            f"OpenAI server error {exc.status_code} on {where(exc)}: {server_words(exc)}",
            cause="server_error",
            retryable=True,
        )
    if isinstance(exc, openai.APIStatusError):
        return ReplyError(
            f"OpenAI error {exc.status_code}: {exc.message}", cause=f"http_{exc.status_code}"
        )
    if isinstance(exc, openai.OpenAIError):
        return ReplyError(f"OpenAI client error: {exc}", cause="client_error")
    # The type and message only: a repr can quote its arguments, such as a header holding the key.
    return ReplyError(f"unexpected error: {type(exc).__name__}: {exc}", cause="unexpected")


def server_words(exc: openai.APIStatusError) -> str:
    """The server's own message (not the SDK's "Error code: ..." wrapping), or its body."""
    body = exc.body
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return str(body["message"])
    if isinstance(body, str) and body.strip():
        return body.strip()[:300]
    return exc.message


def where(exc: openai.APIStatusError) -> str:
    """``METHOD /path`` of the refused request."""
    return f"{exc.request.method} {exc.request.url.path}"
