"""Start-up: `citycrier --help` and `citycrier queue` wall time, beside `python -c "import
click"` measured in the same run. Prints medians over N runs; asserts nothing.

    python bench/startup.py [N]
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def median_ms(cmd: list[str], n: int, cwd: Path) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run(cmd, cwd=cwd, check=True, capture_output=True)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        shutil.copy(ROOT / "config.toml", work)
        shutil.copytree(ROOT / "posts", work / "posts")
        shutil.copytree(ROOT / "templates", work / "templates")
        subprocess.run([py, "-m", "bot.cli", "--help"], cwd=work, capture_output=True)
        rows = [
            ("baseline: python -c 'import click'", median_ms([py, "-c", "import click"], n,
                                                              work)),
            ("baseline: python -c 'import pandas'", median_ms([py, "-c", "import pandas"], n,
                                                               work)),
            ("citycrier --help", median_ms([py, "-c", "from bot.cli import main; main()",
                                            "--help"], n, work)),
            ("citycrier queue (empty store)", median_ms(
                [py, "-c", "from bot.cli import main; main()", "queue"], n, work)),
        ]
    base = rows[0][1]
    print(f"start-up, median of {n} runs")
    for name, ms in rows:
        print(f"  {name:<40} {ms:8.1f} ms   {ms / base:5.2f}x click")


if __name__ == "__main__":
    main()
