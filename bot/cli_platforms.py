"""Platform commands: accounts check, retract (issue: posting to Bluesky and X)."""

from __future__ import annotations
