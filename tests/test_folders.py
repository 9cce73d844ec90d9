"""The folders citycrier writes (bot/folders.py): created when missing, and one line naming
the folder, the cause and the fix when one cannot be used. (Folders the CLI may not write,
run as a user without root's override, are in test_database.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import FolderError
from bot.folders import ensure_folder, folder_problem


def test_a_missing_folder_is_created_with_its_parents(tmp_path: Path) -> None:
    target = tmp_path / "srv" / "state"
    assert folder_problem(target, "its state", "[storage] state_dir") == ""
    assert not target.exists()  # asking creates nothing
    assert ensure_folder(target, "its state", "[storage] state_dir") == target
    assert target.is_dir()


def test_a_file_where_a_folder_should_be_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "state").write_text("notes\n")
    line = (f"{tmp_path / 'state'} is a file, not a folder: citycrier keeps its state there "
            f"(move the file away, or set [storage] state_dir to a folder)")
    assert folder_problem(tmp_path / "state" / "cache", "its state",
                          "[storage] state_dir") == line
    with pytest.raises(FolderError) as caught:
        ensure_folder(tmp_path / "state" / "cache", "its state", "[storage] state_dir")
    assert (caught.value.message, caught.value.path) == (line, str(tmp_path / "state" /
                                                                   "cache"))


def test_a_folder_the_system_will_not_create_is_one_line() -> None:
    with pytest.raises(FolderError) as caught:
        ensure_folder(Path("/proc/citycrier"), "the outbox", "[storage] outbox_dir")
    assert caught.value.message == (
        "cannot create /proc/citycrier (No such file or directory): /proc does not take new "
        "folders (set [storage] outbox_dir to a folder citycrier can write)")
