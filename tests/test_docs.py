"""The README documents every setting and every command (a test fails when one is missing)."""

import re

from bot import config as cfg
from bot.cli import main

from .conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_config_and_recipe_key_is_in_the_readme():
    tables = [cfg._TOP, cfg._STORAGE, cfg._PATHS, cfg._APPROVAL, cfg._SCHEDULE, cfg._PORTAL,
              cfg._ACCOUNT, cfg._NOTIFY, cfg._WEB, cfg._ENGAGEMENT, cfg._RECIPE, cfg._SOURCE,
              cfg._FILTER, cfg._BREAKDOWN, cfg._SERIES, cfg._GOAL, cfg._CHART]
    missing = sorted({k for t in tables for k in t
                      if not re.search(rf"(?<![\w-]){re.escape(k)}(?![\w-])", README)})
    assert missing == []


def test_every_command_is_in_the_readme():
    missing = [name for name in main.commands if f"citycrier {name}" not in README]
    assert missing == []


def test_every_command_help_has_an_example():
    for name, command in main.commands.items():
        doc = command.help or ""
        if hasattr(command, "commands"):
            continue
        example = doc[doc.find("Example:"):] if "Example:" in doc else ""
        assert "citycrier " in example, name
