"""The C heap of the web server: glibc's malloc told, at start, to give memory back.

Measured with /proc/PID/status and mallinfo2 on a loaded library (bench/README.md):

- a staff login or a patron's PIN is checked with scrypt, which takes 16 MB of C heap
  for a moment (core/passwords.py). glibc serves the first such block from its own
  mapping and gives it back, but then raises its "mmap threshold" past 16 MB, so every
  later one comes from the heap of the thread's arena and stays there once freed: 16 MB
  more for each server thread that ever checked a password. A fixed threshold turns
  that adjustment off: large blocks are always mapped, and given back when freed;
- glibc gives each new thread an arena of its own (up to eight per core), each keeping
  what its thread freed; two arenas for the whole server are enough for a desk
  (systemd/thuvien-web.service sets the same, for the processes it starts).

Another C library (musl) or a system without `mallopt` is left as it is.
"""

from __future__ import annotations

import ctypes
import logging

log = logging.getLogger(__name__)

M_MMAP_THRESHOLD = -3  # glibc's malloc.h
M_ARENA_MAX = -8
MMAP_THRESHOLD = 128 * 1024  # glibc's own starting value, now kept
ARENAS = 2


def give_memory_back() -> bool:
    """Tune this process's malloc; call before the server's threads start."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    done = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) & bool(mallopt(M_ARENA_MAX, ARENAS))
    if not done:
        log.warning("malloc: the memory settings were refused; the server may hold more")
    return done
