"""Why a connection to WhatsApp failed, in plain words, and how long to wait before the next try.

whatsmeow reports a failing first connect as one Go error string (``failed to dial whatsapp web
websocket: ... dial tcp: lookup web.whatsapp.com ...: no such host``). ``network_problem`` turns
the network cases into a sentence an operator can act on; anything else is not a network problem
and is not retried.
"""

from __future__ import annotations

from collections.abc import Iterator

#: The first retry waits this long; each next one twice as long, up to CONNECT_RETRY_MAX.
CONNECT_RETRY_FIRST = 2.0
CONNECT_RETRY_MAX = 60.0

_HOST = "web.whatsapp.com"

#: (fragments of Go's error text, what it means). The first matching row wins.
_PROBLEMS: tuple[tuple[tuple[str, ...], str], ...] = (
    (
        ("no such host", "server misbehaving", "name resolution", "lookup "),
        f"cannot look up {_HOST} (DNS failed): check the internet connection and DNS settings",
    ),
    (
        ("connection refused",),
        f"the connection to {_HOST} was refused: check the firewall or proxy",
    ),
    (
        ("i/o timeout", "deadline exceeded", "timed out", "timeout"),
        f"{_HOST} did not answer in time (connection timed out): check the network, "
        "firewall or proxy",
    ),
    (
        ("network is unreachable", "no route to host"),
        f"no network route to {_HOST}: is this machine online?",
    ),
    (
        ("connection reset", "broken pipe", "eof"),
        f"the connection to {_HOST} was cut while connecting: the network is unstable",
    ),
    (
        ("x509", "certificate", "tls"),
        f"the secure (TLS) connection to {_HOST} failed: a proxy that intercepts HTTPS, or a "
        "wrong system clock",
    ),
    (
        ("failed to dial",),
        f"cannot open the WhatsApp connection to {_HOST}: check the network and any proxy",
    ),
)


def network_problem(error: BaseException | str) -> str | None:
    """What went wrong in plain words, or None when ``error`` is not a network problem."""
    text = str(error).lower()
    for fragments, words in _PROBLEMS:
        if any(fragment in text for fragment in fragments):
            if "proxyconnect" in text:
                return f"{words} (through the proxy set in HTTPS_PROXY/ALL_PROXY)"
            return words
    return None


def backoff_delays(
    first: float = CONNECT_RETRY_FIRST, most: float = CONNECT_RETRY_MAX
) -> Iterator[float]:
    """Seconds to wait before each retry: doubling from ``first``, at most ``most``."""
    delay = first
    while True:
        yield delay
        delay = min(delay * 2, most)
