"""Approval desk commands: serve, users (issue: the approval desk)."""

from __future__ import annotations
