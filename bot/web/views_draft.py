"""A draft: its page, its charts, and the actions on it (edit, approve, reject, reschedule).

Every action goes through bot.review, so the desk obeys the same rules as the CLI. A refused
action shows the draft again with the reason; a done one redirects with a short message.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from starlette.background import BackgroundTask
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bot.errors import BotError, LengthError, NotFound, PermissionDenied, TransitionError
from bot.notify import local_time, notify_expired, notify_waiting
from bot.platforms import label, post_limits
from bot.review import (
    SlotPassed,
    approve_draft,
    edit_draft,
    may,
    reject_draft,
    reschedule_draft,
)
from bot.store import PENDING, TRANSITIONS, Draft
from bot.web.auth import User
from bot.web.cache import note_until
from bot.web.pages import Desk, desk_of, flash, page_number, relative, render, safe_url
from bot.web.preview import build_preview
from bot.web.queries import HISTORY_PAGE, DraftRows, chart_infos, chart_png, draft_rows
from bot.web.views_auth import error_page
from bot.web.views_engagement import engagement_of

SLOT_FORMAT = "%Y-%m-%dT%H:%M"  # what <input type="datetime-local"> sends


def _status(exc: BotError) -> int:
    if isinstance(exc, PermissionDenied):
        return 403
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, TransitionError):
        return 409
    return 400


def _sentence(message: str) -> str:
    """A library message ends with a period on the page (its first word may be a name)."""
    return message + ("" if message.endswith(".") else ".")


def _load(desk: Desk, request: Request) -> Draft:
    return desk.store.get_draft(int(request.path_params["draft_id"]))


def _actions(desk: Desk, draft: Draft, user: User, editors: set[str]) -> dict[str, Any]:
    """Which buttons this person sees for this draft, and why approve may be blocked."""
    def open_to(action: str) -> bool:
        return draft.state in TRANSITIONS[action][0] and may(user.role, action)

    acts: dict[str, Any] = {a: open_to(a) for a in ("approve", "edit", "reject", "reschedule")}
    acts["two_person_block"] = bool(
        acts["approve"] and desk.config.approval.two_person and user.name in editors)
    acts["any"] = any(acts[a] for a in ("approve", "edit", "reject", "reschedule"))
    return acts


def zone_name(timezone: str) -> str:
    """ "America/New_York" -> "New York time".

    >>> zone_name("America/New_York")
    'New York time'
    """
    return timezone.rsplit("/", 1)[-1].replace("_", " ") + " time"


def readable_date(value: object, timezone: str) -> str:
    """An ISO date or time from a source record, as people read it (else as it is).

    >>> readable_date("2026-11-02", "UTC"), readable_date("2026-11-24T15:11:24-06:00", \
"America/Chicago")
    ('Mon, Nov 2, 2026', 'Tue, Nov 24, 2026, 3:11 PM CST')
    """
    text = "" if value is None else str(value)
    try:
        if len(text) == 10:
            d = date.fromisoformat(text)
            return f"{d:%a, %b} {d.day}, {d.year}"
        t = datetime.fromisoformat(text)
    except ValueError:
        return text
    if t.tzinfo is None:
        return text
    t = t.astimezone(ZoneInfo(timezone))
    return f"{t:%a, %b} {t.day}, {t.year}, {t.strftime('%I').lstrip('0')}:{t:%M %p %Z}"


def source_facts(source: dict[str, Any], timezone: str) -> dict[str, Any]:
    """The draft's source record as text to show (whatever shape it was stored in)."""
    def text(key: str) -> str:
        value = source.get(key)
        return "" if value is None else str(value)

    queries = source.get("queries") or []
    return {"label": text("label") or text("portal"), "kind": text("kind"),
            "dataset": text("dataset"), "link": safe_url(source.get("link")),
            "as_of": readable_date(source.get("as_of"), timezone),
            "last_updated": readable_date(source.get("last_updated"), timezone),
            "synthetic": bool(source.get("synthetic")),
            "queries": [str(q) for q in queries] if isinstance(queries, list)
            else [str(queries)]}


def _slot_value(desk: Desk, draft: Draft) -> str:
    """The reschedule field's default: the slot, or an hour from now once it has passed."""
    now = desk.clock()
    slot = draft.slot_at if draft.slot_at > now else now + timedelta(hours=1)
    return slot.astimezone(ZoneInfo(desk.config.timezone)).strftime(SLOT_FORMAT)


def show_draft(request: Request, desk: Desk, user: User, draft: Draft,
               rows: DraftRows | None = None, *, status: int = 200,
               error: str = "", background: BackgroundTask | None = None) -> Response:
    rows = rows or draft_rows(desk.store, draft.id)
    now = desk.clock()  # the page reads otherwise once the slot passes, and then each minute
    note_until(request.scope, draft.slot_at if draft.slot_at > now else
               now.replace(second=0, microsecond=0) + timedelta(minutes=1))
    pages = max(1, -(-rows.audit_total // HISTORY_PAGE))
    page = page_number(request, "history")
    response = render(
        request, "draft.html", status, user=user, draft=draft, shown=rows.shown,
        latest=rows.latest, revisions=rows.wordings,
        preview=build_preview(desk.config, rows.shown, rows.charts,
                              desk.max_grade(draft.recipe),
                              accounts=draft.source.get("accounts", ())),
        actions=_actions(desk, draft, user, rows.editors), audit=rows.audit,
        history_page=page, history_pages=pages, history_first=(page - 1) * HISTORY_PAGE + 1,
        history_total=rows.audit_total, receipts=rows.receipts, deliveries=rows.deliveries,
        engagement=engagement_of(desk, draft, rows.receipts),
        source=source_facts(draft.source, desk.config.timezone),
        zone_name=zone_name(desk.config.timezone),
        slot_value=_slot_value(desk, draft), error=error,
        slot_passed=draft.state == PENDING and draft.slot_at <= desk.clock(),
        two_person=desk.config.approval.two_person, max_grade=desk.max_grade(draft.recipe))
    response.background = background
    return response


def draft_page(request: Request, user: User, form: FormData | None) -> Response:
    desk = desk_of(request)
    try:
        draft = _load(desk, request)
        wanted = request.query_params.get("revision")
        rows = draft_rows(desk.store, draft.id, int(wanted) if wanted else None,
                          page_number(request, "history"))
    except (NotFound, ValueError):
        return error_page(request, 404, "No such draft",
                          "There is no such draft or revision. Go back to the queue.", user)
    return show_draft(request, desk, user, draft, rows)


def chart_image(request: Request, user: User, form: FormData | None) -> Response:
    """A chart's PNG by URL: cached by the browser for a day and revalidated by its ETag."""
    found = chart_png(desk_of(request).store, int(request.path_params["draft_id"]),
                      int(request.path_params["index"]))
    if found is None:
        return Response("no such chart", 404, media_type="text/plain")
    png, etag = found
    headers = {"Cache-Control": "private, max-age=86400", "ETag": etag}
    if etag in request.headers.get("if-none-match", "").replace("W/", "").split(", "):
        return Response(status_code=304, headers=headers)
    return Response(png, media_type="image/png", headers=headers)


def _refused(request: Request, desk: Desk, user: User, exc: BotError,
             background: BackgroundTask | None = None) -> Response:
    try:
        draft = _load(desk, request)
    except NotFound:
        return error_page(request, 404, "No such draft", _sentence(exc.message), user)
    return show_draft(request, desk, user, draft, status=_status(exc),
                      error=_sentence(exc.message), background=background)


def _done(request: Request, draft_id: int, message: str,
          background: BackgroundTask | None = None) -> Response:
    flash(request, message)
    return RedirectResponse(f"/drafts/{draft_id}", 303, background=background)


def approve(request: Request, user: User, form: FormData | None) -> Response:
    desk = desk_of(request)
    draft_id = int(request.path_params["draft_id"])
    assert form is not None
    try:
        revision = int(str(form.get("revision", "")))
    except ValueError:
        return _refused(request, desk, user, BotError(
            "the approval did not say which revision you read: reload the page and approve "
            "again"))
    try:
        d = approve_draft(desk.store, desk.config, draft_id, user.name,
                          expect_revision=revision)
    except SlotPassed as exc:
        return _refused(request, desk, user, exc,
                        BackgroundTask(notify_expired, desk.config, exc.draft))
    except BotError as exc:
        return _refused(request, desk, user, exc)
    return _done(request, d.id, f"Approved. It will be posted "
                                f"{local_time(d.slot_at, desk.config.timezone)} "
                                f"({relative(d.slot_at, desk.clock())}).")


def reject(request: Request, user: User, form: FormData | None) -> Response:
    desk = desk_of(request)
    assert form is not None
    try:
        d = reject_draft(desk.store, int(request.path_params["draft_id"]), user.name,
                         str(form.get("reason", "")))
    except BotError as exc:
        return _refused(request, desk, user, exc)
    return _done(request, d.id, "Rejected. It will not be posted; your reason is in the "
                                "history.")


def reschedule(request: Request, user: User, form: FormData | None) -> Response:
    desk = desk_of(request)
    assert form is not None
    tz = ZoneInfo(desk.config.timezone)
    try:
        slot = datetime.strptime(str(form.get("slot", "")), SLOT_FORMAT).replace(tzinfo=tz)
    except ValueError:
        return _refused(request, desk, user, BotError(
            "pick the new date and time for the post, then press Reschedule"))
    try:
        before = _load(desk, request)
        d = reschedule_draft(desk.store, before.id, user.name, slot)
    except BotError as exc:
        return _refused(request, desk, user, exc)
    message = f"Rescheduled to {local_time(d.slot_at, desk.config.timezone)}."
    task = None
    if before.state != PENDING and d.state == PENDING:
        message += " It is back in review: it needs an approval before then."
        task = BackgroundTask(notify_waiting, desk.config, d)
    return _done(request, d.id, message, task)


# ------------------------------------------------------------------------------- editing

def _edit_form(request: Request, desk: Desk, user: User, draft: Draft, *,
               texts: dict[str, list[str]] | None = None, alts: dict[str, str] | None = None,
               revision: int | None = None, status: int = 200, error: str = "",
               bad_field: str = "") -> Response:
    current = desk.store.revision(draft.id)
    charts = chart_infos(desk.store, draft.id)
    preview = build_preview(desk.config, current, charts, desk.max_grade(draft.recipe),
                            texts=texts, accounts=draft.source.get("accounts", ()))
    alt_values = {c.index: (alts or {}).get(c.name, current.alts.get(c.name, c.alt))
                  for c in charts}
    return render(request, "edit.html", status, user=user, draft=draft, preview=preview,
                  charts=charts, alt_values=alt_values, error=error, bad_field=bad_field,
                  revision=revision or current.revision, latest=current.revision)


def edit_page(request: Request, user: User, form: FormData | None) -> Response:
    desk = desk_of(request)
    try:
        draft = _load(desk, request)
    except NotFound:
        return error_page(request, 404, "No such draft", "Go back to the queue.", user)
    if not may(user.role, "edit"):
        return show_draft(request, desk, user, draft, status=403,
                          error=f"You are a {user.role}: only editors and approvers can edit.")
    if draft.state not in TRANSITIONS["edit"][0]:
        return show_draft(request, desk, user, draft, status=409,
                          error="This draft can no longer be edited.")
    return _edit_form(request, desk, user, draft)


def edit_submit(request: Request, user: User, form: FormData | None) -> Response:
    desk = desk_of(request)
    assert form is not None
    try:
        draft = _load(desk, request)
        revision = int(str(form.get("revision", "")))
    except (NotFound, ValueError):
        return error_page(request, 400, "The edit could not be read",
                          "Go back, reload the draft and edit it again.", user)
    current = desk.store.revision(draft.id)
    texts: dict[str, list[str]] = {}
    for platform, posts in current.thread.items():
        texts[platform] = [str(form.get(f"text-{platform}-{i}", post.text))
                           .replace("\r\n", "\n").strip() for i, post in enumerate(posts)]
    charts = chart_infos(desk.store, draft.id)
    alts = {c.name: str(form.get(f"alt-{c.index}", current.alts.get(c.name, c.alt))).strip()
            for c in charts}
    changed_texts = {p: t for p, t in texts.items()
                     if t != [post.text for post in current.thread[p]]}
    changed_alts = {n: a for n, a in alts.items()
                    if a != current.alts.get(n, next(c.alt for c in charts if c.name == n))}
    if not changed_texts and not changed_alts:
        return _done(request, draft.id, "Nothing changed, so no new revision was saved.")

    def again(status: int, error: str, bad_field: str = "") -> Response:
        return _edit_form(request, desk, user, draft, texts=texts, alts=alts,
                          revision=revision, status=status, error=error, bad_field=bad_field)

    try:
        limits = post_limits(desk.config, tuple(draft.source.get("accounts", ())))
        d = edit_draft(desk.store, draft.id, user.name, texts=changed_texts,
                       alts=changed_alts, expect_revision=revision, limits=limits)
    except LengthError as exc:
        from bot.limits import measure_post

        m = measure_post(texts[exc.platform][exc.post - 1], exc.platform,
                         limits.get(exc.platform))
        unit = "bytes" if m.unit == "bytes" else "characters"
        return again(422, f"Post {exc.post} is too long for {label(exc.platform)}: "
                          f"{exc.length:,} {unit}, and the limit is {exc.limit:,}. Shorten it "
                          f"and save again. Nothing was saved.",
                     f"text-{exc.platform}-{exc.post - 1}")
    except BotError as exc:
        return again(_status(exc), _sentence(exc.message) + " Nothing was saved.")
    message = f"Saved as revision {d.revision}."
    task = None
    if draft.state != PENDING:
        message += " An edited draft goes back to review: it needs a new approval."
        task = BackgroundTask(notify_waiting, desk.config, d)
    return _done(request, d.id, message, task)
