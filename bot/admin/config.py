"""Parsers for the admin server's settings (kept light: ``bot.settings`` imports this)."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Address:
    """Where the admin HTTP server listens."""

    host: str
    port: int

    @property
    def loopback(self) -> bool:
        """Whether only this machine can reach the address."""
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class Price:
    """What a model costs, in dollars per million input and output tokens."""

    model: str
    input: float
    output: float


def parse_address(raw: Any) -> Any:
    """``HOST:PORT`` (``[::1]:8080`` for IPv6) -> ``Address``; blank -> None."""
    if not isinstance(raw, str):
        return raw
    value = raw.strip()
    match = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\]:(\d{1,5})|([^:\s\[\]]+):(\d{1,5})", value)
    if not match:
        raise ValueError(f"must be HOST:PORT such as 127.0.0.1:8080, got {raw!r}")
    host = match.group(1) or match.group(3)
    port = int(match.group(2) or match.group(4))
    if port > 65535:  # 0 picks a free port (logged as admin.listening)
        raise ValueError(f"port must be between 0 and 65535, got {port}")
    return Address(host, port)


def parse_prices(raw: Any) -> Any:
    """``model=input/output,...`` (dollars per 1M tokens) -> tuple of ``Price``."""
    if not isinstance(raw, str):
        return raw
    prices = []
    for item in (p.strip() for p in raw.split(",")):
        if not item:
            continue
        match = re.fullmatch(r"([^=\s]+)\s*=\s*([0-9.]+)\s*/\s*([0-9.]+)", item)
        if not match:
            raise ValueError(
                f"each entry must be MODEL=INPUT/OUTPUT dollars per million tokens "
                f"(e.g. gpt-5.4-mini=0.25/2.00), got {item!r}"
            )
        try:
            prices.append(Price(match.group(1), float(match.group(2)), float(match.group(3))))
        except ValueError:
            raise ValueError(f"{item!r} has a price that is not a number") from None
    return tuple(prices)
