"""Start and stop a real ArcGIS FeatureServer (Koop, tests/servers/koop.js) on 127.0.0.1.

    with start_koop(data_dir) as koop:
        koop.services                     # .../file-geojson/rest/services (a portal's url)
        koop.layer_path("baltimore_311")  # baltimore_311/FeatureServer/0 (its dataset)

Each `DATA_DIR/NAME.geojson` is one layer. The npm packages come from tests/servers/package.json
(`npm ci` in tests/servers). The port is chosen by the OS; start-up waits at most `timeout`
seconds; the process is stopped (TERM, then KILL) when the block ends.

What Koop does with the data, as checked in tests/sources/test_arcgis.py:

- ISO date strings in the GeoJSON are served as epoch milliseconds (`esriFieldTypeDate`);
- `where` compares a date field with the *stored string*: a `TIMESTAMP '...'` literal is
  turned into `'yyyy-mm-ddThh:mm:ss.000Z'` and compared as text, so dates must be stored as
  UTC ISO strings with milliseconds and `Z` for windows to be right;
- the object-id field exists for statistics only when the features carry it and the metadata
  names it (`metadata.idField`); otherwise `count` of OBJECTID is 0;
- without `resultRecordCount` it returns every row (it ignores `maxRecordCount` then).
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path

SERVERS = Path(__file__).resolve().parent
READY_TIMEOUT = 60.0


class KoopUnavailable(RuntimeError):
    pass


@dataclass
class KoopServer:
    process: subprocess.Popen[str]
    port: int
    output: list[str] = field(default_factory=list)
    reader: threading.Thread | None = None

    @property
    def services(self) -> str:
        """The services root: a portal's `url`."""
        return f"http://127.0.0.1:{self.port}/file-geojson/rest/services"

    def layer_path(self, name: str) -> str:
        """The dataset path under the services root for `NAME.geojson`."""
        return f"{name}/FeatureServer/0"

    def layer_url(self, name: str) -> str:
        return f"{self.services}/{self.layer_path(name)}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self.reader is not None:
            self.reader.join(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()

    def __enter__(self) -> KoopServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_koop(data_dir: Path, timeout: float = READY_TIMEOUT) -> KoopServer:
    """Run `node koop.js DATA_DIR 0` and wait (bounded) for the line naming its port."""
    node = shutil.which("node")
    if node is None:
        raise KoopUnavailable("node is not installed (Node 20 runs Koop)")
    if not (SERVERS / "node_modules" / "@koopjs" / "koop-core").is_dir():
        raise KoopUnavailable("Koop is not installed: run `npm ci` in tests/servers")
    env = {**os.environ, "SUPPRESS_NO_CONFIG_WARNING": "true", "NODE_ENV": "test"}
    process = subprocess.Popen([node, str(SERVERS / "koop.js"), str(data_dir), "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               cwd=str(SERVERS), env=env)
    lines: queue.Queue[str | None] = queue.Queue()
    output: list[str] = []

    def drain() -> None:  # keep reading so Koop's log lines never fill the pipe
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line.rstrip())
            lines.put(line)
        lines.put(None)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        port = _wait_for_port(lines, timeout)
    except BaseException:
        KoopServer(process, 0, output, reader).stop()
        raise
    if port is None:
        KoopServer(process, 0, output, reader).stop()
        raise KoopUnavailable("Koop exited before listening: " + " | ".join(output[-5:]))
    return KoopServer(process, port, output, reader)


def _wait_for_port(lines: queue.Queue[str | None], timeout: float) -> int | None:
    import time

    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise KoopUnavailable(f"Koop did not start within {timeout:g} seconds")
        try:
            line = lines.get(timeout=left)
        except queue.Empty as exc:
            raise KoopUnavailable(f"Koop did not start within {timeout:g} seconds") from exc
        if line is None:
            return None
        try:
            ready = json.loads(line)
        except ValueError:
            continue
        if isinstance(ready, dict) and isinstance(ready.get("port"), int):
            return int(ready["port"])
