"""Operations commands: run, tick, status (issue: scheduler and operations)."""

from __future__ import annotations
