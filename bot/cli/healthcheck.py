"""Exit 0 if the admin server's /healthz answers (or the admin server is off): for HEALTHCHECK."""

from __future__ import annotations

import argparse
import sys
import urllib.error
import urllib.request

from bot.cli import CliContext


def main(argv: list[str], ctx: CliContext) -> int:
    """GET /healthz on ADMIN_HTTP_ADDR (a wildcard address is asked on loopback)."""
    parser = argparse.ArgumentParser(prog="main.py healthcheck", description=__doc__)
    parser.add_argument("--timeout", type=float, default=4.0, help="seconds (default 4)")
    args = parser.parse_args(argv)
    addr = ctx.settings().admin_http_addr
    if addr is None:
        return 0  # no admin server: the container runtime sees the process, nothing more
    host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(addr.host, addr.host)
    netloc = f"[{host}]:{addr.port}" if ":" in host else f"{host}:{addr.port}"
    url = f"http://{netloc}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=args.timeout) as response:
            ok = response.status == 200
    except (urllib.error.URLError, OSError) as exc:
        print(f"healthcheck: {url}: {exc}", file=sys.stderr)
        return 1
    return 0 if ok else 1
