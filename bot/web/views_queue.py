"""The queue (drafts by state, nearest slot first) and the health check."""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from bot.store import PENDING, STATES
from bot.web.auth import User
from bot.web.pages import desk_of, page_number, render
from bot.web.queries import database_ok, queue_rows

PAGE_SIZE = 50
# the filters offered, in this order: (state or "all", label)
FILTERS = (
    (PENDING, "Waiting for review"), ("approved", "Approved"), ("expired", "Expired"),
    ("on_hold", "On hold"), ("publishing", "Publishing"),
    ("partially_published", "Partly published"), ("published", "Published"),
    ("rejected", "Rejected"), ("superseded", "Replaced"), ("retracted", "Retracted"),
    ("all", "All"),
)


def home(request: Request, user: User, form: FormData | None) -> Response:
    return RedirectResponse("/queue", 303)


def queue(request: Request, user: User, form: FormData | None) -> Response:
    desk = desk_of(request)
    state = request.query_params.get("state", PENDING)
    if state not in STATES and state != "all":
        state = PENDING
    page = page_number(request)
    counts, drafts = queue_rows(desk.store, None if state == "all" else (state,), PAGE_SIZE,
                                (page - 1) * PAGE_SIZE)
    total = sum(counts.values()) if state == "all" else counts.get(state, 0)
    pages = max(1, -(-total // PAGE_SIZE))
    filters = [(key, label, sum(counts.values()) if key == "all" else counts.get(key, 0))
               for key, label in FILTERS]
    filters = [f for f in filters if f[2] or f[0] in (PENDING, "approved", "expired", "all")
               or f[0] == state]
    return render(request, "queue.html", user=user, drafts=drafts, state=state,
                  filters=filters, page=page, pages=pages, total=total,
                  first=(page - 1) * PAGE_SIZE + 1)


def healthz(request: Request) -> Response:
    """{"status": "ok", "database": "ok"}, or 503 when the database does not answer."""
    if database_ok(desk_of(request).store):
        return JSONResponse({"status": "ok", "database": "ok"})
    return JSONResponse({"status": "error", "database": "unreachable"}, status_code=503)
