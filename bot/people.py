"""People who use the approval desk, their roles and their passwords (argon2 hashes).

A removed person is kept (inactive) for the record; adding the name again brings them back
with a new role and password. `session_stamp` changes whenever a password does, so a
password change signs that person out everywhere.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import func, insert, select, update

from bot import schema as s
from bot.errors import BotError, NotFound
from bot.store import Store

ROLES = ("viewer", "editor", "approver", "admin")
MIN_PASSWORD = 10


def has_users(store: Store) -> bool:
    with store.engine.connect() as conn:
        return bool(conn.execute(select(func.count()).select_from(s.users).where(
            s.users.c.active.is_(True))).scalar_one())


def user_role(store: Store, name: str) -> str | None:
    with store.engine.connect() as conn:
        row = conn.execute(select(s.users.c.role).where(
            s.users.c.name == name, s.users.c.active.is_(True))).first()
    return row[0] if row else None


def session_stamp(store: Store, name: str) -> tuple[str, str] | None:
    """(role, stamp) of an active user; the stamp changes when the password does."""
    with store.engine.connect() as conn:
        row = conn.execute(select(s.users.c.role, s.users.c.password_hash).where(
            s.users.c.name == name, s.users.c.active.is_(True))).first()
    if row is None:
        return None
    return str(row.role), hashlib.sha256(row.password_hash.encode()).hexdigest()[:16]


def _hasher() -> Any:
    from argon2 import PasswordHasher

    return PasswordHasher()


@lru_cache(maxsize=1)
def _decoy_hash() -> str:
    """A hash to verify against for unknown names, so they take as long as known ones."""
    return str(_hasher().hash("citycrier decoy password"))


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise BotError(f"the password must be at least {MIN_PASSWORD} characters")


def add_user(store: Store, name: str, role: str, password: str, actor: str = "cli") -> None:
    """Add a desk user (or bring back a removed one) with a role and a password."""
    if role not in ROLES:
        raise BotError(f"{role!r} is not a role: use {' | '.join(ROLES)}")
    if not name or len(name) > 100 or \
            not name.replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise BotError(f"{name!r} is not a usable name: letters, digits, - _ . only")
    _check_password(password)
    digest = _hasher().hash(password)
    with store.engine.begin() as conn:
        row = conn.execute(select(s.users.c.active).where(s.users.c.name == name)).first()
        if row is not None and row.active:
            raise BotError(f"user {name!r} exists already (use `citycrier users passwd "
                           f"{name}` to change the password)")
        if row is not None:
            conn.execute(update(s.users).where(s.users.c.name == name).values(
                role=role, password_hash=digest, active=True))
        else:
            conn.execute(insert(s.users).values(name=name, role=role, password_hash=digest,
                                                created_at=datetime.now(UTC), active=True))
    store.add_audit(None, actor, "user_add", f"{name} as {role}")


def set_password(store: Store, name: str, password: str, actor: str = "cli") -> None:
    """Change a user's password (which signs them out of the desk everywhere)."""
    _check_password(password)
    digest = _hasher().hash(password)
    with store.engine.begin() as conn:
        n = conn.execute(update(s.users).where(
            s.users.c.name == name, s.users.c.active.is_(True)).values(
            password_hash=digest)).rowcount
    if not n:
        raise NotFound(f"no user {name!r} (see `citycrier users list`)")
    store.add_audit(None, actor, "user_passwd", name)


def remove_user(store: Store, name: str, actor: str = "cli") -> None:
    """Deactivate a user; their name stays in the audit trail."""
    with store.engine.begin() as conn:
        n = conn.execute(update(s.users).where(
            s.users.c.name == name, s.users.c.active.is_(True)).values(active=False)).rowcount
    if not n:
        raise NotFound(f"no user {name!r} (see `citycrier users list`)")
    store.add_audit(None, actor, "user_remove", name)


def list_users(store: Store) -> list[tuple[str, str]]:
    """Active users as (name, role), by name."""
    with store.engine.connect() as conn:
        return [(r.name, r.role) for r in conn.execute(select(s.users).where(
            s.users.c.active.is_(True)).order_by(s.users.c.name))]


def verify_password(store: Store, name: str, password: str) -> str | None:
    """The user's role if the password is right, else None (unknown names take as long)."""
    from argon2.exceptions import InvalidHashError, VerificationError

    with store.engine.connect() as conn:
        row = conn.execute(select(s.users).where(s.users.c.name == name,
                                                 s.users.c.active.is_(True))).first()
    h = _hasher()
    try:
        if row is None:
            h.verify(_decoy_hash(), password + "\x00not it")
            return None
        h.verify(row.password_hash, password)
        return str(row.role)
    except (VerificationError, InvalidHashError):
        return None
