"""Desk users: roles, argon2 passwords, removal and return, and the session stamp."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.errors import BotError, NotFound
from bot.people import (
    add_user,
    has_users,
    list_users,
    remove_user,
    session_stamp,
    set_password,
    user_role,
    verify_password,
)
from bot.store import Store

PASSWORD = "correct horse battery"


@pytest.fixture
def store(tmp_path: Path) -> Any:
    s = Store(f"sqlite:///{tmp_path / 'people.db'}")
    yield s
    s.close()


@pytest.fixture
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    from argon2 import PasswordHasher

    monkeypatch.setattr("bot.people._hasher", lambda: PasswordHasher(
        time_cost=1, memory_cost=1024, parallelism=1))


def test_passwords_are_stored_as_argon2id_hashes_with_the_library_defaults(
        store: Store) -> None:
    from sqlalchemy import select

    from bot import schema as s

    add_user(store, "ada", "approver", PASSWORD)
    with store.engine.connect() as conn:
        stored = conn.execute(select(s.users.c.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert PASSWORD not in stored
    assert verify_password(store, "ada", PASSWORD) == "approver"
    assert verify_password(store, "ada", PASSWORD + "!") is None


@pytest.mark.usefixtures("quick")
def test_adding_listing_and_roles(store: Store) -> None:
    assert not has_users(store)
    add_user(store, "ada", "approver", PASSWORD)
    add_user(store, "vic", "viewer", PASSWORD)
    assert has_users(store)
    assert list_users(store) == [("ada", "approver"), ("vic", "viewer")]
    assert user_role(store, "vic") == "viewer"
    assert user_role(store, "nobody") is None
    assert [(a.actor, a.action, a.detail) for a in store.audit()] == [
        ("cli", "user_add", "ada as approver"), ("cli", "user_add", "vic as viewer")]


@pytest.mark.usefixtures("quick")
def test_bad_names_roles_passwords_and_duplicates_are_refused(store: Store) -> None:
    add_user(store, "ada", "approver", PASSWORD)
    cases = [(("bo b", "viewer", PASSWORD), "'bo b' is not a usable name: letters, digits, - _ "
                                            ". only"),
             (("bob", "boss", PASSWORD), "'boss' is not a role: use viewer | editor | approver "
                                         "| admin"),
             (("bob", "viewer", "short"), "the password must be at least 10 characters"),
             (("ada", "viewer", PASSWORD), "user 'ada' exists already (use `citycrier users "
                                           "passwd ada` to change the password)")]
    for args, message in cases:
        with pytest.raises(BotError) as refused:
            add_user(store, *args)
        assert refused.value.message == message


@pytest.mark.usefixtures("quick")
def test_a_new_password_changes_the_session_stamp(store: Store) -> None:
    add_user(store, "ada", "approver", PASSWORD)
    role, stamp = session_stamp(store, "ada")  # type: ignore[misc]
    assert role == "approver" and len(stamp) == 16
    set_password(store, "ada", "another long password", actor="ops")
    assert session_stamp(store, "ada")[1] != stamp  # type: ignore[index]
    assert verify_password(store, "ada", PASSWORD) is None
    assert verify_password(store, "ada", "another long password") == "approver"
    with pytest.raises(NotFound, match="no user 'bob'"):
        set_password(store, "bob", "another long password")


@pytest.mark.usefixtures("quick")
def test_a_removed_user_cannot_sign_in_and_can_come_back(store: Store) -> None:
    add_user(store, "ada", "approver", PASSWORD)
    remove_user(store, "ada", actor="ops")
    assert verify_password(store, "ada", PASSWORD) is None
    assert session_stamp(store, "ada") is None
    assert list_users(store) == [] and not has_users(store)
    with pytest.raises(NotFound):
        remove_user(store, "ada")
    with pytest.raises(NotFound):
        set_password(store, "ada", "another long password")
    add_user(store, "ada", "viewer", "another long password")
    assert verify_password(store, "ada", "another long password") == "viewer"
    assert [a.action for a in store.audit()] == ["user_add", "user_remove", "user_add"]


@pytest.mark.usefixtures("quick")
def test_unknown_names_and_corrupt_hashes_do_not_sign_in(store: Store) -> None:
    from sqlalchemy import update

    from bot import schema as s

    assert verify_password(store, "nobody", PASSWORD) is None
    add_user(store, "ada", "approver", PASSWORD)
    with store.engine.begin() as conn:
        conn.execute(update(s.users).values(password_hash="not-a-hash"))
    assert verify_password(store, "ada", PASSWORD) is None
