"""Memory the allocator holds after large work, handed back to the system."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools


@functools.cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        library = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return library if library is not None and hasattr(library, "malloc_trim") else None


def return_freed_memory() -> bool:
    """Ask glibc to give the pages of freed memory back (a no-op elsewhere); True if it could."""
    library = _libc()
    return bool(library and library.malloc_trim(0))
