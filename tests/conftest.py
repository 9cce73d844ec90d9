"""Fixtures shared by every test module. Server fixtures live beside the tests that use
them (tests/sources/, tests/publish/, tests/web/) or below, clearly marked."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"  # real data and specs, never copied into the repo


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if SHARED.is_dir():
        return
    skip = pytest.mark.skip(reason=f"{SHARED} is absent: the real data and specs live beside "
                                   f"the project in ../shared (CI always has them)")
    for item in items:
        if "realdata" in item.keywords or "spec" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic sample, generated once per test session."""
    from bot.sample import write_sample

    folder = tmp_path_factory.mktemp("sample")
    write_sample(folder)
    return folder


@pytest.fixture
def project(tmp_path: Path, sample_dir: Path) -> Path:
    """A fresh copy of the project's config.toml, posts/ and templates/ in a temp folder,
    with the sample already generated (so tests do not regenerate it)."""
    shutil.copy(ROOT / "config.toml", tmp_path / "config.toml")
    shutil.copytree(ROOT / "posts", tmp_path / "posts")
    shutil.copytree(ROOT / "templates", tmp_path / "templates")
    shutil.copytree(sample_dir, tmp_path / "state" / "sample")
    return tmp_path
