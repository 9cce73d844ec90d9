"""What every platform client offers, and the plain data passed to and from it.

A platform client writes one post at a time; the publisher (publish/__init__) decides which
post comes next, stores an *intent* receipt before each write and completes it after. So a
client only has to be exact about three things:

- ``new_key()`` gives the idempotency key to store before the write (Bluesky: the record key
  the post will get; Mastodon: the status's Idempotency-Key; X: "" since X takes no client
  key);
- ``create_post`` raises :class:`~bot.errors.UnknownOutcome` whenever the write may have
  happened without a confirmation (timeout, 5xx, dropped connection);
- ``find_post`` settles such an outcome by asking the platform, and raises
  ``UnknownOutcome`` again rather than guess when it cannot.

Example (any client)::

    key = client.new_key()                 # store as intent first
    ref = client.create_post(PostContent("Hello"), key=key, root=None, parent=None)
    reply = client.create_post(PostContent("More"), key=client.new_key(), root=ref, parent=ref)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from bot.errors import CredentialError


@dataclass(frozen=True)
class Image:
    """One picture for a post: PNG bytes, its alt text, its size in pixels."""

    png: bytes = field(repr=False)
    alt: str
    width: int
    height: int


@dataclass(frozen=True)
class PostContent:
    """The text of one post and the images attached to it, in order."""

    text: str
    images: tuple[Image, ...] = ()


@dataclass(frozen=True)
class Ref:
    """What a platform gives back for one post.

    ``id`` is the tweet id on X, the record key (rkey) on Bluesky and the status id on
    Mastodon; ``uri`` is the ``at://`` URI on Bluesky, ``https://x.com/i/web/status/ID`` on X
    and the status's web address on Mastodon; ``cid`` is Bluesky's
    content id (a reply needs both uri and cid of its root and parent).
    """

    id: str
    uri: str = ""
    cid: str = ""


class PlatformClient(Protocol):
    """One account on one platform. See the module docstring for the contract."""

    platform: str  # a name in bot.platforms.REGISTRY: "x" | "bluesky" | "mastodon"

    def login(self) -> str:
        """Confirm the credentials; return the account's handle. Never posts."""
        ...

    def new_key(self) -> str:
        """The idempotency key to store as intent before the next write ("" on X)."""
        ...

    def create_post(
        self, content: PostContent, *, key: str, root: Ref | None, parent: Ref | None
    ) -> Ref:
        """Write one post (a reply to ``parent`` in the thread started by ``root``)."""
        ...

    def find_post(
        self, content: PostContent, *, key: str, parent: Ref | None, since: datetime
    ) -> Ref | None:
        """After an unknown outcome: the post if it was written, None if it was not."""
        ...

    def delete_post(self, ref: Ref) -> None:
        """Delete one post. Deleting a post that is already gone is not an error."""
        ...


def read_secret(env: Mapping[str, str], variable: str, purpose: str) -> str:
    """The value of the environment variable ``variable``; CredentialError if unset or empty.

    >>> read_secret({"TOKEN": "s3cret"}, "TOKEN", "x account 'city'")
    's3cret'
    >>> read_secret({}, "TOKEN", "x account 'city'")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    bot.errors.CredentialError: x account 'city': environment variable TOKEN is not set ...
    """
    value = env.get(variable, "") if variable else ""
    if not value:
        raise CredentialError(variable or "(not named in config.toml)", purpose)
    return value
