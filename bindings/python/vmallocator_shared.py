"""The thread-safe arena for Python: :class:`SharedMallocator`, over the C ABI's
``vma_shared`` (Rust's ``SharedArena``).

Any number of threads allocate from one :class:`SharedMallocator` at once (ctypes releases
the GIL during each call, so they do run at once); each thread claims a chunk of the region
with one atomic operation and bumps inside it. :meth:`SharedMallocator.reset` and
:meth:`SharedMallocator.close` need the arena alone: join the other threads first.

>>> import threading
>>> from vmallocator_shared import SharedMallocator
>>> with SharedMallocator() as s:
...     threads = [threading.Thread(target=lambda: [s.alloc_bytes(b"x" * 16)
...                                                 for _ in range(1000)]) for _ in range(4)]
...     for t in threads: t.start()
...     for t in threads: t.join()
...     s.used >= 4 * 16000
True
"""

import ctypes
from ctypes import POINTER, c_char_p, c_size_t, c_uint32, c_void_p

from vmallocator import Block, Protection, _check, _lib

__all__ = ["SharedMallocator"]

_S = c_void_p  # vma_shared*


def _sig(name, *argtypes):
    f = getattr(_lib, name)
    f.argtypes = list(argtypes)
    f.restype = ctypes.c_int32
    return f


_create = _sig("vma_shared_create", POINTER(_S))
_create_reserve = _sig("vma_shared_create_reserve", c_size_t, c_size_t, POINTER(_S))
_create_with_size = _sig("vma_shared_create_with_size", c_size_t, c_uint32, POINTER(_S))
_free = _sig("vma_shared_free", _S)
_alloc = _sig("vma_shared_alloc", _S, c_size_t, c_size_t, POINTER(c_void_p))
_alloc_bytes = _sig("vma_shared_alloc_bytes", _S, c_char_p, c_size_t, POINTER(c_void_p))
_alloc_hex = _sig("vma_shared_alloc_hex", _S, c_char_p, c_size_t, POINTER(c_void_p),
                  POINTER(c_size_t))
_figures = {name: _sig("vma_shared_" + name, _S, POINTER(c_size_t))
            for name in ("used", "claimed", "size", "committed")}
_reset = _sig("vma_shared_reset", _S)


class SharedMallocator:
    """A region that many threads allocate from at once.

    ``SharedMallocator()`` reserves 1 GiB (64 MiB on 32-bit) of read+write address space,
    committed as it is used; ``reserve=`` sets the reservation and ``chunk_size=`` the bytes
    a thread claims at a time (default 64 KiB); ``size=`` with ``protection=`` makes a
    region committed at once instead.
    """

    def __init__(self, *, reserve=None, chunk_size=0, size=None,
                 protection=Protection.READ_WRITE):
        self._h = None
        h = _S()
        if size is not None:
            _check(_create_with_size(size, int(protection), ctypes.byref(h)))
        elif reserve is not None or chunk_size:
            _check(_create_reserve(reserve if reserve is not None else 1 << 30, chunk_size,
                                   ctypes.byref(h)))
        else:
            _check(_create(ctypes.byref(h)))
        self._h = h

    def _handle(self):
        if self._h is None:
            raise ValueError("the arena is closed")
        return self._h

    def alloc(self, size, align=1):
        """A block of ``size`` bytes aligned to ``align``: its address. Thread-safe."""
        p = c_void_p()
        _check(_alloc(self._handle(), size, align, ctypes.byref(p)))
        return p.value or 0

    def alloc_bytes(self, data):
        """Copies ``data`` (bytes-like) into a new block. Thread-safe."""
        data = bytes(data)
        p = c_void_p()
        _check(_alloc_bytes(self._handle(), data, len(data), ctypes.byref(p)))
        return Block(p.value or 0, len(data))

    def alloc_hex(self, s):
        """Parses the hex byte string ``s`` into a new block. Thread-safe."""
        raw = s.encode("utf-8", "surrogatepass") if isinstance(s, str) else bytes(s)
        p, n = c_void_p(), c_size_t()
        _check(_alloc_hex(self._handle(), raw, len(raw), ctypes.byref(p), ctypes.byref(n)))
        return Block(p.value or 0, n.value)

    def _figure(self, name):
        n = c_size_t()
        _check(_figures[name](self._handle(), ctypes.byref(n)))
        return n.value

    used = property(lambda self: self._figure("used"), doc="Bytes handed out as blocks.")
    claimed = property(lambda self: self._figure("claimed"), doc="Bytes claimed by threads.")
    size = property(lambda self: self._figure("size"), doc="The size of the region.")
    committed = property(lambda self: self._figure("committed"), doc="Bytes committed.")

    def reset(self):
        """Empties the arena (contents stay). No other thread may use it meanwhile."""
        _check(_reset(self._handle()))

    def close(self):
        """Releases the region. No other thread may use the arena meanwhile or after.
        Closing twice is a no-op."""
        if self._h is not None:
            _check(_free(self._h))
            self._h = None

    @property
    def closed(self):
        """Whether :meth:`close` has released the region."""
        return self._h is None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __del__(self):
        if getattr(self, "_h", None) is not None:
            try:
                _free(self._h)
            except Exception:  # pragma: no cover - interpreter shutdown
                pass
            self._h = None
