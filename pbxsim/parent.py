"""The simulator dies with the process that started it (`serve --demo`).

An orphaned simulator keeps the AMI port, so the next `serve --demo` would find a PBX
that knows an old secret. Two guards: on Linux the kernel sends SIGTERM when the parent
dies (`PR_SET_PDEATHSIG`); everywhere, a watcher notices that the parent pid changed
(the child was re-parented) and stops the simulator.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
import os
import signal
import sys

log = logging.getLogger(__name__)

#: linux/prctl.h
PR_SET_PDEATHSIG = 1
WATCH_EVERY_S = 0.5


def ask_kernel_for_death_signal() -> bool:
    """SIGTERM to this process when its parent exits (Linux only); True when armed."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return int(libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def parent_gone(parent_pid: int) -> bool:
    return os.getppid() != parent_pid


async def watch_parent(parent_pid: int, stop: asyncio.Event) -> None:
    """Set `stop` once the parent is gone; checked at once (it may have died before the
    death signal was armed) and then every WATCH_EVERY_S."""
    while not stop.is_set():
        if parent_gone(parent_pid):
            log.warning("pbxsim: parent process %d is gone; stopping", parent_pid)
            stop.set()
            return
        await asyncio.sleep(WATCH_EVERY_S)
