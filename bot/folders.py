"""The folders citycrier writes (the database's, `state_dir`, `outbox_dir`): created on first
use, and any that cannot be is one line naming the folder, the cause and the fix.

    >>> ensure_folder(Path("/proc/citycrier"), "its state", "[storage] state_dir")
    Traceback (most recent call last):
    bot.errors.FolderError: cannot create /proc/citycrier: ...

`folder_problem` says the same without creating anything, for `citycrier doctor`.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from bot.errors import FolderError


def ensure_folder(path: Path, keeps: str, setting: str) -> Path:
    """Create `path` (and its parents) if missing; FolderError unless it is a folder
    citycrier can write. `keeps` says what lives there, `setting` the config key to change."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise FolderError(str(path), _not_a_folder(_existing(path), keeps, setting)) from None
    except OSError as exc:
        raise FolderError(str(path), _cannot_create(path, exc, setting)) from None
    problem = folder_problem(path, keeps, setting)
    if problem:
        raise FolderError(str(path), problem)
    return path


def folder_problem(path: Path, keeps: str, setting: str) -> str:
    """Why citycrier could not keep `keeps` in `path` ("" if it can), creating nothing."""
    if path.exists() and not path.is_dir():
        return _not_a_folder(path, keeps, setting)
    if path.is_dir():
        return "" if os.access(path, os.W_OK | os.X_OK) else \
            needs_write_access(path, keeps, setting)
    parent = _existing(path)
    if not parent.is_dir():
        return _not_a_folder(parent, keeps, setting)
    if not os.access(parent, os.W_OK | os.X_OK):
        return (f"cannot create {path}: citycrier needs write access to {parent} (create "
                f"the folder yourself, or set {setting} elsewhere)")
    return ""


def needs_write_access(path: Path, keeps: str, setting: str) -> str:
    """The one line for a folder (or file) citycrier cannot write: permissions, or a
    read-only mount."""
    why = "it is on a read-only file system" if _read_only_mount(path) else \
        "it is not writable by this user"
    return (f"citycrier needs write access to {path} to keep {keeps} there ({why}): fix "
            f"its owner or permissions, or set {setting} elsewhere")


def _not_a_folder(path: Path, keeps: str, setting: str) -> str:
    return (f"{path} is a file, not a folder: citycrier keeps {keeps} there (move the file "
            f"away, or set {setting} to a folder)")


def _existing(path: Path) -> Path:
    """`path` itself, or the nearest of its parents that exists."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _cannot_create(path: Path, exc: OSError, setting: str) -> str:
    parent = _existing(path.parent)
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return (f"cannot create {path}: citycrier needs write access to {parent} (create "
                f"the folder yourself, or set {setting} elsewhere)")
    return (f"cannot create {path} ({exc.strerror}): {parent} does not take new folders "
            f"(set {setting} to a folder citycrier can write)")


def _read_only_mount(folder: Path) -> bool:
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        return False
