"""Sign the bot in to Google for GOOGLE_TOOLS: login, status, logout.

``login`` runs Google's installed-app flow: it prints a URL to open in a browser and waits on
a local port for Google's redirect. On a headless server forward that port first
(``ssh -L 8765:localhost:8765 server``), or sign in on a laptop and copy the token file. The
refresh token is stored with mode 0600 in GOOGLE_TOKEN_FILE.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from bot.cli import EXIT_CONFIG, CliContext
from bot.settings import Settings
from helpers.google.auth import (
    SCOPES,
    client_secrets_file,
    load_credentials,
    revoke,
    save_credentials,
    scopes_for,
    token_file,
    token_problem,
)

DEFAULT_PORT = 8765
PERMISSIONS_PAGE = "https://myaccount.google.com/permissions"

#: Builds the OAuth flow from the client file and scopes (tests hand in a fake).
FlowFactory = Callable[[str, list[str]], Any]


def _installed_app_flow(secrets: str, scopes: list[str]) -> Any:
    from google_auth_oauthlib.flow import InstalledAppFlow

    return InstalledAppFlow.from_client_secrets_file(secrets, scopes=scopes)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="main.py google", description=__doc__)
    sub = parser.add_subparsers(dest="action", required=True)
    login = sub.add_parser("login", help="sign in (Google's installed-app flow)")
    login.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"local redirect port ({DEFAULT_PORT})"
    )
    login.add_argument("--no-browser", action="store_true", help="only print the URL")
    login.add_argument("--tools", help="gmail, calendar or both (default: GOOGLE_TOOLS, else both)")
    sub.add_parser("status", help="which sign-in is stored and what it allows (offline)")
    sub.add_parser("logout", help="revoke the sign-in at Google and delete the token file")
    return parser


def main(argv: list[str], ctx: CliContext) -> int:
    """Run ``google login|status|logout``."""
    args = _parser().parse_args(argv)
    settings = ctx.settings()
    ctx.configure_logging(settings)
    if args.action == "login":
        sets = _tool_sets(args.tools, settings)
        if sets is None:
            return EXIT_CONFIG
        return login(settings, sets, port=args.port, open_browser=not args.no_browser)
    if args.action == "status":
        return status(settings)
    return logout(settings)


def _tool_sets(given: str | None, settings: Settings) -> list[str] | None:
    names = [n.strip().lower() for n in given.split(",") if n.strip()] if given else []
    names = names or list(settings.google_tools) or sorted(SCOPES)
    unknown = [n for n in names if n not in SCOPES]
    if unknown:
        print(f"--tools: unknown set(s) {', '.join(unknown)}; use gmail, calendar", file=sys.stderr)
        return None
    return names


def login(
    settings: Settings,
    sets: list[str],
    *,
    port: int = DEFAULT_PORT,
    open_browser: bool = True,
    flow_factory: FlowFactory = _installed_app_flow,
) -> int:
    """Sign in for ``sets`` and store the refresh token (mode 0600); 0 done, 2 no client."""
    secrets = client_secrets_file(settings)
    if not secrets.is_file():
        print(
            f"No OAuth client at {secrets}: in Google Cloud Console create an OAuth client of "
            "type 'Desktop app', download its JSON there (or set GOOGLE_CLIENT_SECRETS_FILE).",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    scopes = scopes_for(sets)
    flow = flow_factory(str(secrets), scopes)
    print(
        f"Signing in for {', '.join(sets)}. On a server without a browser, first run on your "
        f"laptop: ssh -L {port}:localhost:{port} THIS_SERVER, then open the URL below there."
    )
    creds = flow.run_local_server(
        host="localhost",
        port=port,
        open_browser=open_browser,
        access_type="offline",
        prompt="consent",  # so Google hands out a refresh token every time
    )
    if not getattr(creds, "refresh_token", None):
        print("Google returned no refresh token; run login again.", file=sys.stderr)
        return 1
    path = token_file(settings)
    save_credentials(path, creds)
    print(f"Signed in. Token stored in {path} (mode 0600).")
    return 0


def status(settings: Settings) -> int:
    """Print the stored sign-in and whether it serves GOOGLE_TOOLS; 0 usable, 1 not."""
    path = token_file(settings)
    needed = scopes_for(settings.google_tools)
    problem = token_problem(path, needed)
    enabled = ", ".join(settings.google_tools) or "none (GOOGLE_TOOLS is empty)"
    print(f"Token file: {path}\nGOOGLE_TOOLS: {enabled}")
    if not path.is_file():
        print("Not signed in: run `python main.py google login`.")
        return 1
    try:
        creds = load_credentials(path)
    except (OSError, ValueError, KeyError):
        print(f"Problem: {problem or 'the token file cannot be read'}")
        return 1
    print("Allows: " + ", ".join(s.rsplit("/", 1)[-1] for s in sorted(creds.scopes or [])))
    if problem is not None:
        print(f"Problem: {problem}")
        return 1
    print("Ready (checked offline; Google is asked on the first tool call).")
    return 0


def logout(settings: Settings, *, http: Any = None) -> int:
    """Revoke the refresh token at Google and delete the token file; 1 if Google refused."""
    path = token_file(settings)
    if not path.is_file():
        print(f"Not signed in (no {path}).")
        return 0
    creds = load_credentials(path)
    revoked = False
    try:
        if http is None:
            import httplib2

            http = httplib2.Http(timeout=30)
        revoked = revoke(creds, http)
    except Exception as exc:
        print(f"Could not reach Google to revoke ({type(exc).__name__}).", file=sys.stderr)
    path.unlink()
    print(f"Deleted {path}.")
    if not revoked:
        print(f"Revoke the bot's access by hand at {PERMISSIONS_PAGE}.", file=sys.stderr)
        return 1
    print("Google revoked the sign-in.")
    return 0
