"""Notices to people: a draft is waiting for review, a draft expired, publishing failed.

Two channels, configured under `[notify]` in config.toml, either or both:

- a webhook: a JSON POST of ``{"text": ...}`` (what Slack's incoming webhooks, Mattermost and
  many chat tools accept) to the URL held by the environment variable `webhook_url_env` names;
- email over SMTP to `smtp_to`, from `smtp_from`, via `smtp_host:smtp_port` (STARTTLS and a
  login when configured; the user and password come from environment variables).

A notice that cannot be delivered is logged and dropped: notifying never stops the desk, the
scheduler or a publish. Each function returns the channels that accepted the notice.

    >>> slack_escape("<b> & co")
    '&lt;b&gt; &amp; co'
"""

from __future__ import annotations

import logging
import os
import smtplib
from datetime import datetime
from email.message import EmailMessage
from zoneinfo import ZoneInfo

from bot.settings import Config, NotifyConfig
from bot.store import Draft

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10.0


def local_time(moment: datetime, timezone: str) -> str:
    """A moment as staff read it, in the config's zone.

    >>> from datetime import UTC
    >>> local_time(datetime(2026, 11, 24, 21, 5, tzinfo=UTC), "America/Chicago")
    'Tue, Nov 24, 3:05 PM CST'
    """
    t = moment.astimezone(ZoneInfo(timezone))
    hour = t.strftime("%I").lstrip("0")
    return f"{t:%a, %b} {t.day}, {hour}:{t:%M %p %Z}"


def desk_url(config: Config, draft_id: int | None = None) -> str:
    """The desk's address: [web] public_url, else host and port (a wildcard reads localhost)."""
    if config.web.public_url:
        base = config.web.public_url.rstrip("/")
        return f"{base}/drafts/{draft_id}" if draft_id is not None else f"{base}/"
    host = config.web.host
    if host in ("0.0.0.0", "::", ""):
        host = "localhost"
    elif ":" in host:
        host = f"[{host}]"
    base = f"http://{host}:{config.web.port}"
    return f"{base}/drafts/{draft_id}" if draft_id is not None else f"{base}/"


def slack_escape(text: str) -> str:
    """Slack reads <...> as links and mentions: escape &, < and > as its docs ask."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def waiting_text(config: Config, draft: Draft) -> str:
    text = (f"Draft {draft.id} is waiting for review: {draft.title}, {draft.period_label}. "
            f"It is due to post {local_time(draft.slot_at, config.timezone)}; if nobody "
            f"approves it by then, it expires.")
    if draft.reasons:
        text += " Please check: " + "; ".join(draft.reasons) + "."
    return text + f" Review it: {desk_url(config, draft.id)}"


def expired_text(config: Config, draft: Draft) -> str:
    return (f"Draft {draft.id} expired unapproved: {draft.title}, {draft.period_label}. Its "
            f"slot, {local_time(draft.slot_at, config.timezone)}, passed. To post it after "
            f"all, reschedule it on the desk: {desk_url(config, draft.id)}")


def failed_text(config: Config, draft: Draft, error: str | BaseException) -> str:
    return (f"Publishing draft {draft.id} failed: {draft.title}, {draft.period_label}: "
            f"{error}. `citycrier publish` resumes it without posting twice; details: "
            f"{desk_url(config, draft.id)}")


def notify_waiting(config: Config, draft: Draft) -> list[str]:
    """Tell people a draft waits for their review."""
    return send_notice(config.notify, f"Waiting for review: {draft.title}",
                       waiting_text(config, draft))


def notify_expired(config: Config, draft: Draft) -> list[str]:
    """Tell people a draft's slot passed before anyone approved it."""
    return send_notice(config.notify, f"Expired unapproved: {draft.title}",
                       expired_text(config, draft))


def notify_failed(config: Config, draft: Draft, error: str | BaseException) -> list[str]:
    """Tell people publishing a draft failed."""
    return send_notice(config.notify, f"Publishing failed: {draft.title}",
                       failed_text(config, draft, error))


def send_notice(notify: NotifyConfig, subject: str, text: str) -> list[str]:
    """Send one notice on every configured channel; return those that took it."""
    sent = []
    if post_webhook(notify, text):
        sent.append("webhook")
    if send_email(notify, subject, text):
        sent.append("email")
    return sent


def post_webhook(notify: NotifyConfig, text: str) -> bool:
    """POST {"text": ...} to the webhook; False (and a log line) when it is not delivered."""
    if not notify.webhook_url_env:
        return False
    url = os.environ.get(notify.webhook_url_env, "").strip()
    if not url:
        log.warning("notice not sent by webhook: the environment variable %s is empty or "
                    "unset (config.toml [notify] webhook_url_env names it)",
                    notify.webhook_url_env)
        return False
    if not url.startswith(("http://", "https://")):
        log.warning("notice not sent by webhook: %s does not hold an http(s) URL",
                    notify.webhook_url_env)
        return False
    import httpx

    try:  # the URL is a secret (it carries the token): never log it
        response = httpx.post(url, json={"text": slack_escape(text)}, timeout=TIMEOUT_SECONDS)
    except httpx.HTTPError as exc:
        log.warning("notice not sent by webhook ($%s): %s", notify.webhook_url_env,
                    type(exc).__name__)
        return False
    if response.status_code >= 300:
        log.warning("notice not sent by webhook ($%s): it answered HTTP %s",
                    notify.webhook_url_env, response.status_code)
        return False
    return True


def send_email(notify: NotifyConfig, subject: str, text: str) -> bool:
    """Mail the notice to smtp_to; False (and a log line) when it is not delivered."""
    if not notify.smtp_host or not notify.smtp_to:
        return False
    message = EmailMessage()
    message["Subject"] = "[citycrier] " + " ".join(subject.split())
    message["From"] = notify.smtp_from or "citycrier@localhost"
    message["To"] = ", ".join(notify.smtp_to)
    message.set_content(text + "\n")
    user = os.environ.get(notify.smtp_user_env, "") if notify.smtp_user_env else ""
    password = os.environ.get(notify.smtp_password_env, "") if notify.smtp_password_env else ""
    if notify.smtp_user_env and not (user and password):
        log.warning("notice not sent by email: set %s and %s (config.toml [notify] names "
                    "them)", notify.smtp_user_env, notify.smtp_password_env or "a password")
        return False
    try:
        with smtplib.SMTP(notify.smtp_host, notify.smtp_port, timeout=TIMEOUT_SECONDS) as smtp:
            if notify.smtp_starttls:
                smtp.starttls()
            if user:
                smtp.login(user, password)
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        log.warning("notice not sent by email via %s:%s: %s", notify.smtp_host,
                    notify.smtp_port, exc)
        return False
    return True
