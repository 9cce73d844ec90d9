"""Who is using the desk: signed session cookies, CSRF tokens, sign-in limits.

- The session is a cookie signed with the secret from the environment (itsdangerous), HTTP
  only, SameSite=Lax, Secure when the request came over HTTPS. It holds a session id, the
  CSRF token, the user's name, a stamp of their password hash and when it was issued; it
  expires `web.session_hours` after sign-in, whatever happens in between.
- Each request checks the user is still active and their password unchanged (a password
  change or `users remove` signs them out everywhere); signing out revokes that session.
- Every state-changing form carries the session's CSRF token.
- Failed sign-ins are limited per account and per address in a sliding window.
"""

from __future__ import annotations

import hmac
import secrets
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer
from starlette.datastructures import MutableHeaders
from starlette.middleware.sessions import Session
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

COOKIE = "citycrier_session"
Clock = Callable[[], datetime]


@dataclass(frozen=True)
class User:
    name: str
    role: str
    csrf: str


class SessionCookies:
    """Signs, reads and revokes desk sessions.

    >>> from datetime import timedelta
    >>> t = [datetime(2026, 11, 2, 9, tzinfo=UTC)]
    >>> cookies = SessionCookies("x" * 32, hours=12, clock=lambda: t[0])
    >>> raw = cookies.dump(cookies.new(user="dana", stamp="ab"))
    >>> cookies.load(raw)["user"]
    'dana'
    >>> t[0] += timedelta(hours=12, seconds=1)
    >>> cookies.load(raw)
    {}
    """

    def __init__(self, secret: str, hours: int, clock: Clock) -> None:
        self.serializer = URLSafeSerializer(secret, salt="citycrier-desk-session")
        self.lifetime = hours * 3600
        self.clock = clock
        self._revoked: dict[str, float] = {}  # sid -> when its cookie would expire anyway
        self._lock = threading.Lock()

    def now(self) -> float:
        return self.clock().timestamp()

    def new(self, **values: Any) -> dict[str, Any]:
        return {"sid": secrets.token_urlsafe(16), "csrf": secrets.token_urlsafe(32),
                "iat": int(self.now()), **values}

    def dump(self, data: dict[str, Any]) -> str:
        return str(self.serializer.dumps(data))

    def load(self, raw: str | None) -> dict[str, Any]:
        """The session in a cookie, or {} when it is forged, expired or revoked."""
        if not raw:
            return {}
        try:
            data = self.serializer.loads(raw)
        except BadSignature:
            return {}
        if not isinstance(data, dict):
            return {}
        iat, now = data.get("iat"), self.now()
        if not isinstance(iat, int) or not (now - self.lifetime < iat <= now + 60):
            return {}
        with self._lock:
            if data.get("sid") in self._revoked:
                return {}
        return data

    def remaining(self, data: dict[str, Any]) -> int:
        return max(0, int(data.get("iat", 0)) + self.lifetime - int(self.now()))

    def revoke(self, data: dict[str, Any]) -> None:
        """Refuse this session from now on (in this process; it expires on its own anyway)."""
        now = self.now()
        with self._lock:
            self._revoked = {k: v for k, v in self._revoked.items() if v > now}
            if data.get("sid"):
                self._revoked[str(data["sid"])] = int(data.get("iat", now)) + self.lifetime


class SessionMiddleware:
    """Puts the session in scope["session"]; writes the cookie back when it changed."""

    def __init__(self, app: ASGIApp, cookies: SessionCookies) -> None:
        self.app = app
        self.cookies = cookies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        connection = HTTPConnection(scope)
        had_cookie = COOKIE in connection.cookies
        scope["session"] = Session(self.cookies.load(connection.cookies.get(COOKIE)))
        secure = "; Secure" if connection.url.scheme == "https" else ""

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                session: Session = scope["session"]
                headers = MutableHeaders(scope=message)
                if session.modified and session:
                    headers.append("Set-Cookie", (
                        f"{COOKIE}={self.cookies.dump(dict(session))}; Path=/; "
                        f"Max-Age={self.cookies.remaining(session)}; HttpOnly; "
                        f"SameSite=Lax{secure}"))
                elif session.modified and had_cookie:
                    headers.append("Set-Cookie", f"{COOKIE}=; Path=/; Max-Age=0; HttpOnly; "
                                                 f"SameSite=Lax{secure}")
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def csrf_token(session: dict[str, Any], cookies: SessionCookies) -> str:
    """The session's CSRF token, starting an anonymous session if there is none."""
    if not session.get("csrf"):
        session.update(cookies.new())
    return str(session["csrf"])


def csrf_ok(session: dict[str, Any], form_token: object) -> bool:
    expected = session.get("csrf")
    return isinstance(expected, str) and isinstance(form_token, str) and bool(expected) \
        and hmac.compare_digest(expected.encode(), form_token.encode())


class LoginLimiter:
    """Failed sign-ins allowed per account and per address within a sliding window.

    >>> t = [datetime(2026, 11, 2, 9, tzinfo=UTC)]
    >>> limiter = LoginLimiter(clock=lambda: t[0], per_account=2)
    >>> limiter.record_failure("dana", "10.0.0.1"); limiter.record_failure("dana", "10.0.0.2")
    >>> limiter.retry_after("dana", "10.0.0.3")
    900
    >>> limiter.retry_after("lee", "10.0.0.3")
    0
    """

    def __init__(self, clock: Clock | None = None, *, per_account: int = 5,
                 per_address: int = 20, window_seconds: int = 900,
                 max_keys: int = 100_000) -> None:
        self.clock = clock or (lambda: datetime.now(UTC))
        self.per_account = per_account
        self.per_address = per_address
        self.window = window_seconds
        self.max_keys = max_keys
        self._fails: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        q = self._fails.get(key, deque())
        while q and q[0] <= now - self.window:
            q.popleft()
        if not q:
            self._fails.pop(key, None)
        return q

    def retry_after(self, account: str, address: str) -> int:
        """Seconds until this account may try again from this address (0: now)."""
        now = self.clock().timestamp()
        waits = []
        with self._lock:
            for key, limit in ((f"a:{account.lower()}", self.per_account),
                               (f"ip:{address}", self.per_address)):
                q = self._recent(key, now)
                if len(q) >= limit:
                    waits.append(q[len(q) - limit] + self.window - now)
        return int(max(waits) + 0.999) if waits else 0

    def record_failure(self, account: str, address: str) -> None:
        now = self.clock().timestamp()
        with self._lock:
            if len(self._fails) >= self.max_keys:  # bounded memory under a flood of names
                for key in [k for k in self._fails if not self._recent(k, now)]:
                    self._fails.pop(key, None)
                if len(self._fails) >= self.max_keys:
                    self._fails.pop(next(iter(self._fails)))
            for key in (f"a:{account.lower()}", f"ip:{address}"):
                self._fails.setdefault(key, deque()).append(now)

    def record_success(self, account: str, address: str) -> None:
        with self._lock:
            self._fails.pop(f"a:{account.lower()}", None)
