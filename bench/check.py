"""`citycrier check` on 200 generated recipes, beside baselines measured in the same run.

    python bench/check.py [N]

Generates a project of 200 recipes (the three demo recipes under 200 names, each with its
own copy of its template, on the synthetic sample) and times, as a subprocess, wall clock,
median of N runs (default 3):

  - `citycrier check`: validates config, recipes and templates without rendering;
  - baseline: `python -c "import bot.cli"` (the floor any command pays);
  - baseline: `citycrier check --render` (how `check` worked before: render every recipe on
    its data) on 10 of the recipes, and that time scaled to 200.

The goal is 200 recipes checked in at most 2 s. Asserts nothing.
"""

from __future__ import annotations

import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECIPES = 200
RENDERED = 10
GOAL_SECONDS = 2.0


def make_project(folder: Path, count: int) -> Path:
    shutil.copy(ROOT / "config.toml", folder / "config.toml")
    (folder / "posts").mkdir()
    (folder / "templates").mkdir()
    demos = sorted((ROOT / "posts").glob("*.toml"))
    for i in range(count):
        demo = demos[i % len(demos)]
        recipe = demo.read_text(encoding="utf-8")
        template = re.search(r'^template = "([^"]+)"', recipe, re.MULTILINE)
        assert template is not None
        own = f"r{i:03d}_{template.group(1)}"
        shutil.copy(ROOT / "templates" / template.group(1), folder / "templates" / own)
        (folder / "posts" / f"r{i:03d}_{demo.stem}.toml").write_text(
            recipe.replace(template.group(0), f'template = "{own}"'), encoding="utf-8")
    return folder / "config.toml"


def median_seconds(cmd: list[str], n: int, cwd: Path) -> float:
    times = []
    for _ in range(n):
        started = time.perf_counter()
        done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
        times.append(time.perf_counter() - started)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr}")
    return statistics.median(times)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    py = sys.executable
    cli = [py, "-c", "import sys; from bot.cli import main; main(sys.argv[1:], "
                     "prog_name='citycrier')"]
    with tempfile.TemporaryDirectory() as tmp:
        many = Path(tmp) / "many"
        few = Path(tmp) / "few"
        many.mkdir()
        few.mkdir()
        cfg = make_project(many, RECIPES)
        few_cfg = make_project(few, RENDERED)
        subprocess.run([*cli, "check", "--render", "--config", str(few_cfg)], cwd=few,
                       capture_output=True)  # writes the sample once, outside the timing
        floor = median_seconds([py, "-c", "import bot.cli"], n, many)
        check = median_seconds([*cli, "check", "--config", str(cfg)], n, many)
        render = median_seconds([*cli, "check", "--render", "--config", str(few_cfg)], n, few)
    print(f"citycrier check, {RECIPES} generated recipes, wall clock, median of {n} runs\n")
    print(f"{'what':<58}{'seconds':>9}")
    floor_label = 'baseline: python -c "import bot.cli"'
    print(f"{floor_label:<58}{floor:>9.2f}")
    print(f"{f'baseline: check --render, {RENDERED} recipes':<58}{render:>9.2f}")
    print(f"{f'baseline: check --render, scaled to {RECIPES} recipes':<58}"
          f"{render * RECIPES / RENDERED:>9.1f}")
    print(f"{f'citycrier check, {RECIPES} recipes (validate, no render)':<58}{check:>9.2f}")
    print(f"\ngoal: {RECIPES} recipes in at most {GOAL_SECONDS:.0f} s: "
          f"{'met' if check <= GOAL_SECONDS else 'NOT met'} ({check:.2f} s); "
          f"{render * RECIPES / RENDERED / check:.0f}x faster than rendering each")


if __name__ == "__main__":
    main()
