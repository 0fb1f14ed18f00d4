"""One writer per run folder: an exclusive ``fcntl.flock`` on ``<run>/.lock``, held for
the life of the run.

The kernel releases the lock when its holder exits, however it exits (kill -9 included),
so a lock can never go stale: a leftover ``.lock`` file from a dead run is simply locked
again. The file records the holder (pid, host, start time) for the second writer's error.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["LOCK_FILE", "RunLockedError", "run_lock"]

LOCK_FILE = ".lock"


class RunLockedError(ValueError):
    """Another live process is writing this run folder."""


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        info = {}
    if not info:
        return "another process"
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info.get("started", 0)))
    return f"pid {info.get('pid')} on {info.get('host')} (since {started})"


@contextmanager
def run_lock(run_dir: str | Path, enabled: bool = True) -> Iterator[Path | None]:
    """Hold the exclusive lock of ``run_dir`` (created if needed) for the ``with`` block.

    Raises :class:`RunLockedError` (a ValueError) at once when another process holds it.
    ``enabled=False`` (non-main ranks of a distributed run) does nothing.
    """
    if not enabled:
        yield None
        return
    import fcntl

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunLockedError(f"run folder {run_dir} is in use by {_holder(path)}: wait for it to "
                                 "finish, or set run.out_dir to another folder") from None
        info = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps(info).encode())
        try:
            yield path
        finally:
            os.ftruncate(fd, 0)  # released: nobody holds it now
    finally:
        os.close(fd)  # closing the descriptor releases the lock
