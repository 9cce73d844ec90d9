"""The approval desk: a small web app where communications staff review, edit, approve,
reject and reschedule drafts (`citycrier serve`). See bot/web/app.py."""

from __future__ import annotations

from bot.web.app import create_app

__all__ = ["create_app"]
