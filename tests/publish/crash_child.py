"""Run `citycrier publish` in this process and SIGKILL it at a chosen point (test_crash.py).

    python tests/publish/crash_child.py CONFIG PLATFORM POINT K

POINT ``write``: die right after post K's remote write returned, before its receipt is
confirmed (the client's ``create_post`` is wrapped). POINT ``receipt``: die right after post
K's receipt is committed (``Store.confirm_receipt`` is wrapped). Nothing else is changed: the
process runs the real CLI with the real clients and store, so a kill leaves exactly what a
power cut at that moment would. If the point is never reached the CLI exits normally, and
the test sees an exit status other than -9.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from typing import Any


def kill_after(call: Callable[..., Any], k: int) -> Callable[..., Any]:
    """``call``, but the k-th call kills the process after it returned (before its caller
    sees the result)."""
    done = [0]

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        result = call(*args, **kwargs)
        done[0] += 1
        if done[0] == k:
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    return wrapped


def main(argv: list[str]) -> None:
    config, platform, point, k = argv[0], argv[1], argv[2], int(argv[3])
    if point == "write":
        import importlib

        from bot.platforms import platform as find_platform

        module, _, name = find_platform(platform).client.partition(":")
        client_class = getattr(importlib.import_module(module), name)
        client_class.create_post = kill_after(client_class.create_post, k)
    elif point == "receipt":
        from bot.store import Store

        Store.confirm_receipt = kill_after(Store.confirm_receipt, k)  # type: ignore[method-assign]
    else:
        raise SystemExit(f"unknown point {point!r}: use write or receipt")
    from bot.cli import main as cli

    cli(["publish", "--config", config], prog_name="citycrier")


if __name__ == "__main__":
    main(sys.argv[1:])
