"""Signing in and out, and `signed_in`: the guard every page but sign-in goes through."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from typing import Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bot.people import session_stamp, verify_password
from bot.web.auth import User, csrf_ok
from bot.web.pages import Desk, desk_of, render

Handler = Callable[[Request, User, FormData | None], Response]

MAX_FORM = {"max_files": 0, "max_fields": 400, "max_part_size": 200_000}
MAX_BODY = 1_000_000  # bytes: a whole thread with its alt texts is a few kilobytes


def _too_big(request: Request) -> bool:
    size = request.headers.get("content-length", "0")
    return not size.isdigit() or int(size) > MAX_BODY


def authenticate(desk: Desk, session: dict[str, Any], token: Hashable | None = None) -> User | None:
    """The signed-in user, if the session names an active one whose password is unchanged
    (read once per store change token, when one is given: see bot.web.cache)."""
    name = session.get("user")
    if not isinstance(name, str) or not name:
        return None
    found = desk.pages.remember(("stamp", name), token,
                                lambda: session_stamp(desk.store, name))
    if found is None or found[1] != session.get("stamp"):
        return None
    return User(name, found[0], str(session["csrf"]))


def error_page(request: Request, status: int, title: str, message: str,
               user: User | None = None) -> Response:
    return render(request, "error.html", status, user=user, title=title, message=message)


def signed_in(handler: Handler, *, kept: bool = False) -> Callable[[Request],
                                                                     Awaitable[Response]]:
    """Wrap a view: refuse anonymous requests and forms without the session's CSRF token.

    The view itself runs in a worker thread (it talks to the database); a page (GET) is
    authenticated and drawn in the same trip to that thread. A `kept` page is drawn once
    per store change and person (bot.web.cache)."""

    def page(request: Request) -> Response:
        desk = desk_of(request)
        token = desk.pages.token()  # before any row the page shows is read
        user = authenticate(desk, request.scope["session"], token)
        if user is None:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse("/login?" + urlencode({"next": target}), 303)
        if not kept:
            return handler(request, user, None)
        key = (request.url.path, request.url.query, user.name, user.role)
        return desk.pages.page(request.scope, key, token, user.csrf,
                               lambda: handler(request, user, None))

    async def endpoint(request: Request) -> Response:
        if request.method in ("GET", "HEAD"):
            return await run_in_threadpool(page, request)
        desk = desk_of(request)
        session = request.scope["session"]
        user = await run_in_threadpool(authenticate, desk, session)
        if user is None:
            return error_page(request, 403, "Please sign in",
                              "You are not signed in (or your session ended). Sign in again, "
                              "then repeat what you were doing.")
        form = None
        if request.method == "POST":
            if _too_big(request):
                return error_page(request, 413, "That was too much to send",
                                  "The form was larger than the desk accepts. Go back and "
                                  "shorten it.", user)
            form = await request.form(**MAX_FORM)
            if not csrf_ok(session, form.get("csrf")):
                return error_page(request, 403, "This form could not be accepted",
                                  "It did not carry the desk's security token, or the page "
                                  "was open too long. Go back, reload the page and try again.",
                                  user)
        return await run_in_threadpool(handler, request, user, form)

    endpoint.__name__ = handler.__name__
    return endpoint


def _safe_next(target: object) -> str:
    """Only a path on this site: never //elsewhere or an absolute URL."""
    if isinstance(target, str) and target.startswith("/") and not target.startswith("//") \
            and "\\" not in target:
        return target
    return "/"


def login_page(request: Request) -> Response:
    desk = desk_of(request)
    if authenticate(desk, request.scope["session"]) is not None:
        return RedirectResponse(_safe_next(request.query_params.get("next")), 303)
    note = "You are signed out." if request.query_params.get("bye") else ""
    return render(request, "login.html", next=_safe_next(request.query_params.get("next")),
                  name="", error="", note=note)


async def login_submit(request: Request) -> Response:
    desk = desk_of(request)
    session = request.scope["session"]
    if _too_big(request):
        return error_page(request, 413, "That was too much to send", "Go back and sign in.")
    form = await request.form(**MAX_FORM)
    name = str(form.get("name", "")).strip()[:100]
    password = str(form.get("password", ""))[:1000]
    target = _safe_next(form.get("next"))

    def again(status: int, error: str) -> Response:
        return render(request, "login.html", status, next=target, name=name, error=error,
                      note="")

    if not csrf_ok(session, form.get("csrf")):
        session.clear()
        return again(403, "The sign-in form had expired. Please sign in again.")
    address = request.client.host if request.client else "unknown"
    wait = desk.limiter.retry_after(name, address)
    if wait:
        minutes = max(1, (wait + 59) // 60)
        return again(429, f"Too many failed sign-ins. Please wait {minutes} minute"
                          f"{'s' if minutes != 1 else ''} and try again.")
    role = await run_in_threadpool(verify_password, desk.store, name, password)
    if role is None:
        desk.limiter.record_failure(name, address)
        return again(401, "That name and password do not match. Check them and try again.")
    desk.limiter.record_success(name, address)
    found = await run_in_threadpool(session_stamp, desk.store, name)
    if found is None:  # removed between the two reads
        return again(401, "That name and password do not match. Check them and try again.")
    session.clear()  # a new session id and CSRF token at every sign-in
    session.update(desk.cookies.new(user=name, stamp=found[1]))
    await run_in_threadpool(desk.store.add_audit, None, name, "sign_in", f"from {address}")
    return RedirectResponse(target, 303)


def logout(request: Request, user: User, form: FormData | None) -> Response:
    desk = desk_of(request)
    session = request.scope["session"]
    desk.cookies.revoke(dict(session))
    session.clear()
    return RedirectResponse("/login?bye=1", 303)
