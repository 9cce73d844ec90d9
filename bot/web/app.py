"""The approval desk as a Starlette application: routes, security headers, the expiry sweep.

    >>> from bot.web import create_app                  # doctest: +SKIP
    >>> app = create_app(config, secret="a long random secret")   # doctest: +SKIP

Pages are rendered on the server from bot/web/templates (Jinja2, autoescaped); the only
script is a length counter in static/desk.js. Every route but /login, /healthz and /static
needs a signed-in session; every POST needs the session's CSRF token.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from anyio import to_thread
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.errors import BotError
from bot.platforms import limits_stamp
from bot.settings import Config
from bot.store import Store
from bot.web import views_draft, views_queue
from bot.web.auth import Clock, LoginLimiter, SessionCookies, SessionMiddleware
from bot.web.cache import PageCache
from bot.web.pages import Desk, environment, platform_css, render
from bot.web.views_auth import login_page, login_submit, logout, signed_in

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
MIN_SECRET = 16
PAGE_THREADS = 8  # pages rendered at once; the store's pool holds as many connections
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


class SecurityHeaders:
    """Adds the CSP, frame-ancestors 'none', nosniff and friends to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for key, value in SECURITY_HEADERS.items():
                    headers[key] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


def secret_key(config: Config) -> str:
    """The session-signing secret from the environment variable config.toml names."""
    name = config.web.secret_key_env
    value = os.environ.get(name, "") if name else ""
    if not value:
        raise BotError(
            f"{name or 'the [web] secret_key_env variable'} is not set: the desk signs its "
            f"session cookies with it. Set it to a long random string, e.g. export "
            f"{name}=\"$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')\" "
            f"(or put it in .env)")
    if len(value) < MIN_SECRET:
        raise BotError(f"{name} is {len(value)} characters long: use at least {MIN_SECRET} "
                       f"random characters (python3 -c 'import secrets; "
                       f"print(secrets.token_urlsafe(32))')")
    return value


async def platform_styles(request: Request) -> Response:
    """/static/platforms.css: each platform's colour, from the registry."""
    return Response(platform_css(), media_type="text/css")


def _routes() -> list[Route | Mount]:
    d, q = views_draft, views_queue
    return [
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login_submit, methods=["POST"]),
        Route("/logout", signed_in(logout), methods=["POST"]),
        Route("/healthz", q.healthz, methods=["GET"]),
        Route("/", signed_in(q.home), methods=["GET"]),
        Route("/queue", signed_in(q.queue, kept=True), methods=["GET"]),
        Route("/drafts/{draft_id:int}", signed_in(d.draft_page, kept=True), methods=["GET"]),
        Route("/drafts/{draft_id:int}/charts/{index:int}.png", signed_in(d.chart_image),
              methods=["GET"]),
        Route("/drafts/{draft_id:int}/edit", signed_in(d.edit_page), methods=["GET"]),
        Route("/drafts/{draft_id:int}/edit", signed_in(d.edit_submit), methods=["POST"]),
        Route("/drafts/{draft_id:int}/approve", signed_in(d.approve), methods=["POST"]),
        Route("/drafts/{draft_id:int}/reject", signed_in(d.reject), methods=["POST"]),
        Route("/drafts/{draft_id:int}/reschedule", signed_in(d.reschedule),
              methods=["POST"]),
        Route("/static/platforms.css", platform_styles, methods=["GET"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    titles = {404: "Page not found", 405: "Not allowed here"}
    return render(request, "error.html", status, title=titles.get(status, "Something failed"),
                  message="Go back to the queue and try again.")


async def _server_error(request: Request, exc: Exception) -> Response:
    """A bug: the person sees a plain page; the server logs the traceback."""
    return render(request, "error.html", 500, title="Something went wrong",
                  message="The desk hit a problem it did not expect; it has been logged. Go "
                          "back to the queue and try again.")


def create_app(config: Config, *, store: Store | None = None, clock: Clock | None = None,
               secret: str | None = None, limiter: LoginLimiter | None = None,
               sweep_seconds: float = 60.0) -> Starlette:
    """Build the desk. Without `secret`, it comes from the environment variable named by
    config.web.secret_key_env (CredentialError when unset). `sweep_seconds` > 0 expires
    overdue drafts (with notices) that often while the app runs; 0 turns the sweep off."""
    store = store or Store(config.storage_url)
    clock = clock or store.clock
    cookies = SessionCookies(secret or secret_key(config), config.web.session_hours, clock)
    desk = Desk(config=config, store=store, clock=clock, cookies=cookies,
                limiter=limiter or LoginLimiter(clock), env=environment(),
                pages=PageCache(store, clock, lambda: limits_stamp(config.state_dir)))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # Pages run in worker threads (their database calls block). Past a few per core they
        # only queue for the GIL and the connection pool, and each waits on all the others.
        to_thread.current_default_thread_limiter().total_tokens = PAGE_THREADS
        await run_in_threadpool(_warm_up)
        task = asyncio.create_task(_sweep(desk, sweep_seconds)) if sweep_seconds > 0 else None
        yield
        if task is not None:
            task.cancel()
        desk.pages.close()

    app = Starlette(
        routes=_routes(), lifespan=lifespan,
        middleware=[Middleware(SecurityHeaders), Middleware(SessionMiddleware, cookies=cookies)],
        exception_handlers={HTTPException: _http_error, Exception: _server_error})
    app.state.desk = desk
    return app


def _warm_up() -> None:
    """Load the readability and length counters once, before the first page needs them: the
    first draft pages opened at the same moment would otherwise each load them (seconds)."""
    from bot.guards import reading_grade
    from bot.limits import measure_post

    reading_grade("The desk is getting ready for its first page.")
    measure_post("ready", "x")


async def _sweep(desk: Desk, every: float) -> None:
    """Expire drafts whose slot passed unapproved, and send their notices."""
    from bot.review import expire_overdue

    while True:
        try:
            await run_in_threadpool(expire_overdue, desk.store, desk.clock(),
                                    config=desk.config)
        except BotError as exc:  # the database may be briefly unavailable: try next time
            log.warning("expiry sweep failed: %s", exc)
        except Exception:
            log.exception("expiry sweep failed")
        await asyncio.sleep(every)
