import json
from datetime import UTC, datetime, timedelta

from bot.config import load_config
from bot.publish.runner import publish_due
from bot.store import APPROVED, PUBLISHED, NewDraft, Post, Store, StoredChart

NOW = datetime(2026, 11, 2, 15, tzinfo=UTC)


def new_draft(text: str, **kw) -> NewDraft:
    base = dict(
        recipe="r", title="A <b>title</b>", period_key="2026-10", period_label="in October",
        as_of=NOW, slot_at=NOW, approval="auto", state=APPROVED, platforms=("bluesky", "x"),
        data_hash="h", thread={"bluesky": (Post(text, ("c",)),), "x": (Post(text, ("c",)),)},
        reasons=("guard <i>reason</i>",),
        source={"label": "Portal", "kind": "file", "dataset": "d", "queries": ["q"],
                "synthetic": True, "link": ""},
        charts=(StoredChart("c", "bar", "t", b"\x89PNG fake", "alt \"<script>\"", 1600, 900),))
    base.update(kw)
    return NewDraft(**base)


def test_outbox_page_escapes_everything_and_lists_threads(project):
    config = load_config(project / "config.toml")
    store = Store(config.storage_url, clock=lambda: NOW)
    payload = "Top: <script>alert(1)</script> & more"
    draft_id, _ = store.create_draft(new_draft(payload))
    [outcome] = publish_due(config, store, NOW)
    assert (outcome.draft_id, outcome.state) == (draft_id, PUBLISHED)
    folder = config.outbox_dir / "00001-r-2026-10"
    page = (folder / "index.html").read_text()
    assert "<script>alert(1)</script>" not in page
    assert "Top: &lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in page
    assert "A &lt;b&gt;title&lt;/b&gt;" in page and "guard &lt;i&gt;reason&lt;/i&gt;" in page
    assert 'alt="alt &#34;&lt;script&gt;&#34;"' in page
    assert "37 / 280 weighted characters" in page and "37 / 300 graphemes" in page
    assert (folder / "c.png").read_bytes() == b"\x89PNG fake"
    body = json.loads((folder / "thread.json").read_text())
    assert body["thread"]["x"] == [{"text": payload, "images": [
        {"file": "c.png", "alt": 'alt "<script>"'}]}]
    index = (config.outbox_dir / "index.html").read_text()
    assert '<a href="00001-r-2026-10/index.html">A &lt;b&gt;title&lt;/b&gt;</a>' in index
    assert [a.action for a in store.audit(draft_id)] == ["draft", "claim", "published"]


def test_a_slot_missed_by_more_than_the_grace_waits_for_a_person(project):
    config = load_config(project / "config.toml")
    store = Store(config.storage_url, clock=lambda: NOW)
    draft_id, _ = store.create_draft(new_draft("late", slot_at=NOW - timedelta(hours=5)))
    [outcome] = publish_due(config, store, NOW)
    assert (outcome.state, outcome.detail) == ("on_hold", "missed slot: waiting for a person")
    assert not config.outbox_dir.exists()
    assert store.audit(draft_id)[-1].detail == (
        "missed its slot 2026-11-02 10:00 UTC by more than 60 minutes: not posted late in a "
        "burst; release or reschedule it")


def test_nothing_unapproved_or_not_yet_due_is_published(project):
    config = load_config(project / "config.toml")
    store = Store(config.storage_url, clock=lambda: NOW)
    store.create_draft(new_draft("waiting", state="pending_review"))
    store.create_draft(new_draft("later", data_hash="h2", period_key="2026-09",
                                 slot_at=NOW + timedelta(minutes=1)))
    assert publish_due(config, store, NOW) == []


def test_a_held_draft_is_released_from_the_command_line_and_posts(project):
    from click.testing import CliRunner

    from bot.cli import main

    config = load_config(project / "config.toml")
    store = Store(config.storage_url)
    late = datetime.now(UTC) - timedelta(hours=5)
    draft_id, _ = store.create_draft(new_draft("late", slot_at=late))
    args = ["--config", str(project / "config.toml")]
    result = CliRunner().invoke(main, ["publish", *args])
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (
        "Error: drafts on hold need a person: read `citycrier show ID`, then `citycrier "
        "release ID` to post them, or reject them (on hold: 1)")
    result = CliRunner().invoke(main, ["release", str(draft_id), "--as", "dana", *args])
    assert result.stdout == "draft 1 released by dana: it posts at the next publishing pass\n"
    result = CliRunner().invoke(main, ["publish", *args])
    assert result.exit_code == 0, result.stderr
    assert store.get_draft(draft_id).state == PUBLISHED


def test_a_held_thread_sends_one_notice(project, webhook):
    import dataclasses

    config = load_config(project / "config.toml")
    config = dataclasses.replace(config, notify=dataclasses.replace(
        config.notify, webhook_url_env="CITYCRIER_WEBHOOK"))
    store = Store(config.storage_url, clock=lambda: NOW)
    store.create_draft(new_draft("late", slot_at=NOW - timedelta(hours=5)))
    [outcome] = publish_due(config, store, NOW)
    assert outcome.state == "on_hold"
    assert publish_due(config, store, NOW) == []  # held: nothing due, no second notice
    assert len(webhook) == 1
    assert "missed slot: waiting for a person" in webhook[0]["text"]


def test_the_index_names_the_platforms_the_registry_holds(project, monkeypatch):
    from bot import platforms

    class Threads(platforms.Mastodon):
        name, label = "threads", "Threads"

    monkeypatch.setitem(platforms.REGISTRY, "threads", Threads())
    config = load_config(project / "config.toml")
    store = Store(config.storage_url, clock=lambda: NOW)
    store.create_draft(new_draft("One post."))
    assert publish_due(config, store, NOW)[0].state == PUBLISHED
    index = (config.outbox_dir / "index.html").read_text()
    assert ("Threads published to this folder instead of to X, Bluesky, Mastodon or Threads, "
            "because no platform credentials are configured.") in index
