"""People who use the approval desk, their roles and their passwords (argon2 hashes)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, insert, select, update

from bot import schema as s
from bot.errors import BotError, NotFound
from bot.store import Store

ROLES = ("viewer", "editor", "approver", "admin")


def has_users(store: Store) -> bool:
    with store.engine.connect() as conn:
        return bool(conn.execute(select(func.count()).select_from(s.users).where(
            s.users.c.active.is_(True))).scalar_one())


def user_role(store: Store, name: str) -> str | None:
    with store.engine.connect() as conn:
        row = conn.execute(select(s.users.c.role).where(
            s.users.c.name == name, s.users.c.active.is_(True))).first()
    return row[0] if row else None


def _hasher():  # type: ignore[no-untyped-def]
    from argon2 import PasswordHasher

    return PasswordHasher()


def add_user(store: Store, name: str, role: str, password: str, actor: str = "cli") -> None:
    if role not in ROLES:
        raise BotError(f"{role!r} is not a role: use {' | '.join(ROLES)}")
    if not name or not name.replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise BotError(f"{name!r} is not a usable name: letters, digits, - _ . only")
    if len(password) < 10:
        raise BotError("the password must be at least 10 characters")
    with store.engine.begin() as conn:
        if conn.execute(select(s.users.c.name).where(s.users.c.name == name)).first():
            raise BotError(f"user {name!r} exists already (use `citycrier users passwd`)")
        conn.execute(insert(s.users).values(name=name, role=role,
                                            password_hash=_hasher().hash(password),
                                            created_at=datetime.now(UTC), active=True))
    store.add_audit(None, actor, "user_add", f"{name} as {role}")


def set_password(store: Store, name: str, password: str, actor: str = "cli") -> None:
    if len(password) < 10:
        raise BotError("the password must be at least 10 characters")
    with store.engine.begin() as conn:
        n = conn.execute(update(s.users).where(s.users.c.name == name).values(
            password_hash=_hasher().hash(password))).rowcount
    if not n:
        raise NotFound(f"no user {name!r} (see `citycrier users list`)")
    store.add_audit(None, actor, "user_passwd", name)


def remove_user(store: Store, name: str, actor: str = "cli") -> None:
    with store.engine.begin() as conn:
        n = conn.execute(update(s.users).where(s.users.c.name == name).values(
            active=False)).rowcount
    if not n:
        raise NotFound(f"no user {name!r} (see `citycrier users list`)")
    store.add_audit(None, actor, "user_remove", name)


def list_users(store: Store) -> list[tuple[str, str]]:
    with store.engine.connect() as conn:
        return [(r.name, r.role) for r in conn.execute(select(s.users).where(
            s.users.c.active.is_(True)).order_by(s.users.c.name))]


def verify_password(store: Store, name: str, password: str) -> str | None:
    """The user's role if the password is right, else None (timing kept similar)."""
    from argon2.exceptions import VerificationError

    with store.engine.connect() as conn:
        row = conn.execute(select(s.users).where(s.users.c.name == name,
                                                 s.users.c.active.is_(True))).first()
    h = _hasher()
    try:
        if row is None:
            h.verify(h.hash("x" * 12), "not the password")
            return None
        h.verify(row.password_hash, password)
        return str(row.role)
    except VerificationError:
        return None
