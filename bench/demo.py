"""`citycrier demo` wall time in a fresh folder (sample generated, three threads drafted,
charts drawn, outbox written), beside the time to generate the sample alone.

    python bench/demo.py [N]
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


def fresh(work: Path) -> None:
    shutil.copy(ROOT / "config.toml", work)
    shutil.copytree(ROOT / "posts", work / "posts")
    shutil.copytree(ROOT / "templates", work / "templates")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    py = sys.executable
    demo, sample = [], []
    for _ in range(n):
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            fresh(work)
            t = time.perf_counter()
            subprocess.run([py, "-c", "from bot.sample import write_sample; from pathlib import "
                            "Path; write_sample(Path('s'))"], cwd=work, check=True)
            sample.append(time.perf_counter() - t)
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            fresh(work)
            t = time.perf_counter()
            subprocess.run([py, "-c", "from bot.cli import main; main()", "demo"], cwd=work,
                           check=True, capture_output=True)
            demo.append(time.perf_counter() - t)
    print(f"demo, median of {n} runs in a fresh folder")
    print(f"  baseline: generate the synthetic sample   {statistics.median(sample):6.2f} s")
    print(f"  citycrier demo (sample + 3 threads)       {statistics.median(demo):6.2f} s")


if __name__ == "__main__":
    main()
