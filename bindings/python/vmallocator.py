"""vmallocator for Python: a virtual-memory arena over the library's C ABI (ctypes).

Build the library first (``cargo build --release -p vmallocator-capi``); this module finds
``libvmallocator_c.so`` / ``vmallocator_c.dll`` through the ``VMALLOCATOR_LIB`` environment
variable, next to this file, in the repository's ``target/release``, or on the system path.

>>> from vmallocator import Mallocator, Protection
>>> with Mallocator(64 * 1024) as m:
...     code = m.alloc_hex("b8 2a 00 00 00  c3")   # mov eax, 42; ret
...     m.publish(code.address - m.base, code.size)
...     answer = m.function(code, ctypes.c_int)  # x86_64 only
...     answer()
42

Errors are :class:`VmallocatorError` (hex errors :class:`HexError`, with the byte offset).
A failed call leaves the arena exactly as it was. An arena is used by one thread at a time.
"""

import ctypes
import enum
import os
import sys
from collections import namedtuple
from ctypes import POINTER, c_char_p, c_int32, c_size_t, c_uint32, c_void_p

__all__ = [
    "Block",
    "Checkpoint",
    "HexError",
    "HugePages",
    "Mallocator",
    "Protection",
    "TopBlock",
    "VmallocatorError",
    "granularity",
    "page_size",
]


def _load():
    names = ["vmallocator_c.dll"] if sys.platform == "win32" else (
        ["libvmallocator_c.dylib"] if sys.platform == "darwin" else ["libvmallocator_c.so"])
    here = os.path.dirname(os.path.abspath(__file__))
    candidates = []
    if os.environ.get("VMALLOCATOR_LIB"):
        candidates.append(os.environ["VMALLOCATOR_LIB"])
    for d in (here, os.path.join(here, "..", "..", "target", "release")):
        candidates += [os.path.join(d, n) for n in names]
    for path in candidates:
        if os.path.exists(path):
            return ctypes.CDLL(path)
    from ctypes import util as ctypes_util

    found = ctypes_util.find_library("vmallocator_c")
    if found:
        return ctypes.CDLL(found)
    raise OSError("cannot find the vmallocator_c library; build it with "
                  "`cargo build --release -p vmallocator-capi` or set VMALLOCATOR_LIB")


_lib = _load()
_H = c_void_p  # vma_mallocator*
_OUT_P = POINTER(c_void_p)
_OUT_N = POINTER(c_size_t)
_OUT_U = POINTER(c_uint32)


class _Checkpoint(ctypes.Structure):
    _fields_ = [("opaque", ctypes.c_uint64 * 4)]


def _sig(name, *argtypes, restype=c_int32):
    f = getattr(_lib, name)
    f.argtypes = list(argtypes)
    f.restype = restype
    return f


_create = _sig("vma_create", POINTER(_H))
_create_with_size = _sig("vma_create_with_size", c_size_t, c_uint32, POINTER(_H))
_free = _sig("vma_free", _H)
_alloc = _sig("vma_alloc", _H, c_size_t, c_size_t, _OUT_P)
_alloc_bytes = _sig("vma_alloc_bytes", _H, c_char_p, c_size_t, _OUT_P)
_alloc_str = _sig("vma_alloc_str", _H, c_char_p, c_size_t, c_uint32, _OUT_P, _OUT_N)
_alloc_hex = _sig("vma_alloc_hex", _H, c_char_p, c_size_t, _OUT_P, _OUT_N)
_alloc_cstr = _sig("vma_alloc_cstr", _H, c_char_p, c_size_t, _OUT_P)
_alloc_utf16_units = _sig("vma_alloc_utf16_units", _H, POINTER(ctypes.c_uint16), c_size_t,
                          _OUT_P, _OUT_N)
_figures = {name: _sig("vma_" + name, _H, _OUT_N) for name in
            ("size", "used", "remaining", "committed", "reserved", "high_water_mark")}
_addresses = {name: _sig("vma_" + name, _H, _OUT_P) for name in ("base", "ptr")}
_protection = _sig("vma_protection", _H, _OUT_U)
_huge_pages = _sig("vma_huge_pages", _H, _OUT_U)
_set_protection = _sig("vma_set_protection", _H, c_uint32)
_protect = _sig("vma_protect", _H, c_size_t, c_size_t, c_uint32)
_publish = _sig("vma_publish", _H, c_size_t, c_size_t)
_make_writable = _sig("vma_make_writable", _H, c_size_t, c_size_t)
_protection_at = _sig("vma_protection_at", _H, c_size_t, _OUT_U)
_protection_of = _sig("vma_protection_of", _H, c_size_t, c_size_t, _OUT_U)
_protect_addr = _sig("vma_protect_addr", _H, c_void_p, c_size_t, c_uint32)
_publish_addr = _sig("vma_publish_addr", _H, c_void_p, c_size_t)
_make_writable_addr = _sig("vma_make_writable_addr", _H, c_void_p, c_size_t)
_protection_of_addr = _sig("vma_protection_of_addr", _H, c_void_p, c_size_t, _OUT_U)
_function = _sig("vma_function", _H, c_void_p, c_size_t, _OUT_P)
_resets = {name: _sig("vma_" + name, _H) for name in
           ("reset", "reset_zeroed", "reset_decommit", "trim")}
_checkpoint = _sig("vma_checkpoint", _H, POINTER(_Checkpoint))
_rewind = _sig("vma_rewind", _H, POINTER(_Checkpoint))
_checkpoint_used = _sig("vma_checkpoint_used", POINTER(_Checkpoint), _OUT_N)
_top_begin = _sig("vma_top_begin", _H, c_size_t)
_top_append = _sig("vma_top_append", _H, c_char_p, c_size_t)
_top_grow = _sig("vma_top_grow", _H, c_size_t, _OUT_P)
_top_block = _sig("vma_top_block", _H, _OUT_P, _OUT_N)
_top_finish = _sig("vma_top_finish", _H, _OUT_P, _OUT_N)
_top_abandon = _sig("vma_top_abandon", _H)
_builder_new = _sig("vma_builder_new", restype=c_void_p)
_builder_free = _sig("vma_builder_free", c_void_p, restype=None)
_builder_build = _sig("vma_builder_build", c_void_p, POINTER(_H))
_builder_set = {
    "size": _sig("vma_builder_size", c_void_p, c_size_t),
    "reserve": _sig("vma_builder_reserve", c_void_p, c_size_t),
    "commit_step": _sig("vma_builder_commit_step", c_void_p, c_size_t),
    "protection": _sig("vma_builder_protection", c_void_p, c_uint32),
    "huge_pages": _sig("vma_builder_huge_pages", c_void_p, c_uint32),
    "guard_pages": _sig("vma_builder_guard_pages", c_void_p, c_size_t, c_size_t),
    "at": _sig("vma_builder_at", c_void_p, c_size_t),
    "near": _sig("vma_builder_near", c_void_p, c_size_t, c_size_t),
    "dual_mapping": _sig("vma_builder_dual_mapping", c_void_p, ctypes.c_bool),
}
_is_dual_mapped = _sig("vma_is_dual_mapped", _H, POINTER(ctypes.c_bool))
_exec_base = _sig("vma_exec_base", _H, _OUT_P)
_exec_addr = _sig("vma_exec_addr", _H, c_void_p, _OUT_P)
_patch_u32 = _sig("vma_patch_u32", _H, c_size_t, c_uint32)
_patch_u64 = _sig("vma_patch_u64", _H, c_size_t, ctypes.c_uint64)
_last_message = _sig("vma_last_error_message", restype=c_char_p)
_last_offset = _sig("vma_last_error_offset", restype=c_size_t)
_last_os_code = _sig("vma_last_error_os_code", restype=c_int32)
_status_name = _sig("vma_status_name", c_int32, restype=c_char_p)
_page_size = _sig("vma_page_size", restype=c_size_t)
_granularity = _sig("vma_granularity", restype=c_size_t)

_VMA_ERR_HEX = 19
_VMA_PROT_MIXED = 0x100
_SIZE_MAX = ctypes.c_size_t(-1).value


class VmallocatorError(Exception):
    """A call failed. ``status`` is the C status code, ``name`` its name
    (``"VMA_ERR_OUT_OF_MEMORY"``), ``offset`` the byte offset in the input for hex, UTF-8 and
    NUL errors (else ``None``), ``os_code`` the OS error code for ``VMA_ERR_OS`` (else 0)."""

    def __init__(self, status, message, offset, os_code):
        super().__init__(message)
        self.status = status
        self.name = _status_name(status).decode()
        self.offset = offset
        self.os_code = os_code


class HexError(VmallocatorError, ValueError):
    """A hex byte string breaks the grammar; ``offset`` is where the parser stopped."""


def _check(status):
    if status != 0:
        offset = _last_offset()
        cls = HexError if status == _VMA_ERR_HEX else VmallocatorError
        raise cls(status, _last_message().decode("utf-8", "replace"),
                  None if offset == _SIZE_MAX else offset, _last_os_code())


class Protection(enum.IntEnum):
    """Page protection, as the C ABI's ``VMA_PROT_*`` values."""

    NONE = 0
    READ = 1
    READ_WRITE = 3
    EXECUTE = 4
    READ_EXECUTE = 5
    READ_WRITE_EXECUTE = 7


class HugePages(enum.IntEnum):
    """Huge pages for a region (``VMA_HUGE_PAGES_*``)."""

    OFF = 0
    TRANSPARENT = 1
    EXPLICIT = 2


Block = namedtuple("Block", "address size")
Block.__doc__ = "A block written into the region: its address and its length in bytes."


class Checkpoint:
    """A saved bump pointer of one arena; see :meth:`Mallocator.rewind`."""

    __slots__ = ("_raw",)

    def __init__(self, raw):
        self._raw = raw

    @property
    def used(self):
        """Bytes in use when the checkpoint was taken."""
        n = c_size_t()
        _check(_checkpoint_used(ctypes.byref(self._raw), ctypes.byref(n)))
        return n.value


class TopBlock:
    """A block growing in place at the top of an arena, from :meth:`Mallocator.top_block`.

    Append with :meth:`append` (or :meth:`write`, so ``print(..., file=b)`` works on bytes
    written by ``b.write(s.encode())``), or :meth:`grow` and write at the address yourself;
    :meth:`finish` keeps the block, :meth:`abandon` gives it back. As a context manager, a
    block not finished is abandoned. While it is open, the arena refuses calls that move
    its pointer (``VMA_ERR_TOP_BLOCK_OPEN``).
    """

    __slots__ = ("_m",)

    def __init__(self, m):
        self._m = m

    def _h(self):
        if self._m is None:
            raise ValueError("the top block is closed")
        return self._m._handle()

    def append(self, data):
        """Appends ``data`` (bytes-like); a failed append changes nothing."""
        data = bytes(data)
        _check(_top_append(self._h(), data, len(data)))

    def write(self, data):
        """:meth:`append`, returning the number of bytes (file-like)."""
        self.append(data)
        return len(data)

    def grow(self, n):
        """Grows the block by ``n`` bytes: their address, to write at."""
        p = c_void_p()
        _check(_top_grow(self._h(), n, ctypes.byref(p)))
        return p.value or 0

    @property
    def block(self):
        """The block so far (its address does not change as it grows)."""
        p, n = c_void_p(), c_size_t()
        _check(_top_block(self._h(), ctypes.byref(p), ctypes.byref(n)))
        return Block(p.value or 0, n.value)

    def __len__(self):
        return self.block.size

    @property
    def closed(self):
        """Whether the block was finished or abandoned."""
        return self._m is None

    def finish(self):
        """Keeps the block, as if made by one allocation: its :class:`Block`."""
        p, n = c_void_p(), c_size_t()
        _check(_top_finish(self._h(), ctypes.byref(p), ctypes.byref(n)))
        self._m = None
        return Block(p.value or 0, n.value)

    def abandon(self):
        """Gives the block back: the pointer returns to where it was before it began."""
        _check(_top_abandon(self._h()))
        self._m = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self._m is not None and not self._m.closed:
            self.abandon()
        self._m = None
        return False


class _Scope:
    """A checkpoint taken on entry and rewound to on exit (see :meth:`Mallocator.scope`)."""

    __slots__ = ("_m", "_cp")

    def __init__(self, m):
        self._m = m
        self._cp = None

    def __enter__(self):
        self._cp = self._m.checkpoint()
        return self._m

    def __exit__(self, *exc):
        if not self._m.closed:
            self._m.rewind(self._cp)
        return False


def page_size():
    """The size of a virtual-memory page in bytes."""
    return _page_size()


def granularity():
    """The granularity of region placement: 64 KiB on Windows, a page elsewhere."""
    return _granularity()


class Mallocator:
    """One region of virtual memory with an upward bump pointer.

    ``Mallocator()`` is one granule of read+write memory; ``Mallocator(size, protection)``
    a region of ``size`` bytes (rounded up to pages). The keyword options are the builder's:
    ``reserve`` (address space to reserve, committed lazily), ``commit_step``,
    ``guard_pages=(before, after)``, ``at`` (an exact address), ``near=(addr, distance)``,
    ``huge_pages``, ``dual_mapping`` (map the pages twice, read+write at :attr:`base` and
    read+execute at :attr:`exec_base`; Linux, Android and Windows).

    Use it as a context manager, or call :meth:`close`; a forgotten arena is released when
    garbage-collected.
    """

    def __init__(self, size=None, protection=Protection.READ_WRITE, *, reserve=None,
                 commit_step=None, guard_pages=None, at=None, near=None, huge_pages=None,
                 dual_mapping=None):
        self._h = None
        handle = _H()
        options = dict(reserve=reserve, commit_step=commit_step, guard_pages=guard_pages,
                       at=at, near=near, huge_pages=huge_pages, dual_mapping=dual_mapping)
        if all(v is None for v in options.values()):
            if size is None and protection == Protection.READ_WRITE:
                _check(_create(ctypes.byref(handle)))
            else:
                _check(_create_with_size(granularity() if size is None else size,
                                         int(protection), ctypes.byref(handle)))
        else:
            b = _builder_new()
            try:
                options.update(size=size, protection=int(protection))
                for name, value in options.items():
                    if value is None:
                        continue
                    args = value if isinstance(value, tuple) else (int(value),)
                    _check(_builder_set[name](b, *args))
                _check(_builder_build(b, ctypes.byref(handle)))
            finally:
                _builder_free(b)
        self._h = handle

    def _handle(self):
        if self._h is None:
            raise ValueError("the arena is closed")
        return self._h

    # ---- freeing
    def close(self):
        """Releases the region to the OS. Raises :class:`VmallocatorError` if the OS refuses;
        the arena is then still open and ``close`` may be retried. Closing twice is a no-op."""
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
        # Never raises: a failure here leaks the region.
        if getattr(self, "_h", None) is not None:
            try:
                _free(self._h)
            except Exception:  # pragma: no cover - interpreter shutdown
                pass
            self._h = None

    # ---- allocation
    def alloc(self, size, align=1):
        """A block of ``size`` bytes aligned to ``align`` (a power of two): its address."""
        p = c_void_p()
        _check(_alloc(self._handle(), size, align, ctypes.byref(p)))
        return p.value or 0

    def alloc_bytes(self, data):
        """Copies ``data`` (bytes-like) into a new block."""
        data = bytes(data)
        p = c_void_p()
        _check(_alloc_bytes(self._handle(), data, len(data), ctypes.byref(p)))
        return Block(p.value or 0, len(data))

    def alloc_str(self, s, width=1):
        """Copies ``s`` NUL-terminated as UTF-8 (width 1), UTF-16 (2) or UTF-32 (4)."""
        if width not in (1, 2, 4):
            raise ValueError("width must be 1, 2 or 4 bytes, not %r" % (width,))
        raw = s.encode("utf-8", "surrogatepass") if isinstance(s, str) else bytes(s)
        p, n = c_void_p(), c_size_t()
        _check(_alloc_str(self._handle(), raw, len(raw), width, ctypes.byref(p), ctypes.byref(n)))
        return Block(p.value or 0, n.value)

    def alloc_hex(self, s):
        """Parses the hex byte string ``s`` ("00 ab f9 0x42") into a new block."""
        raw = s.encode("utf-8", "surrogatepass") if isinstance(s, str) else bytes(s)
        p, n = c_void_p(), c_size_t()
        _check(_alloc_hex(self._handle(), raw, len(raw), ctypes.byref(p), ctypes.byref(n)))
        return Block(p.value or 0, n.value)

    def alloc_cstr(self, data):
        """Copies ``data`` (bytes-like, any bytes, no NUL; or a ``str`` as UTF-8) followed by
        a NUL: a C string. Its :class:`Block` counts the terminator."""
        raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        p = c_void_p()
        _check(_alloc_cstr(self._handle(), raw, len(raw), ctypes.byref(p)))
        return Block(p.value or 0, len(raw) + 1)

    def alloc_utf16_units(self, units):
        """Copies UTF-16 units as they are (unpaired surrogates kept; a ``str`` gives its
        UTF-16 units) followed by a NUL unit: a Windows wide string. Its :class:`Block`
        counts bytes, the terminator included."""
        if isinstance(units, str):
            raw = units.encode("utf-16-le", "surrogatepass")
            units = [int.from_bytes(raw[i:i + 2], "little") for i in range(0, len(raw), 2)]
        arr = (ctypes.c_uint16 * len(units))(*units)
        p, n = c_void_p(), c_size_t()
        _check(_alloc_utf16_units(self._handle(), arr, len(arr), ctypes.byref(p),
                                  ctypes.byref(n)))
        return Block(p.value or 0, 2 * n.value)

    # ---- a block that grows at the top
    def top_block(self, align=1):
        """Opens a :class:`TopBlock` at the top of the arena, aligned to ``align``: a block of
        unknown length, grown in place and never copied.

        >>> with Mallocator() as m, m.top_block() as b:
        ...     b.append(b"mov eax, ")
        ...     b.append(b"42")
        ...     blk = b.finish()
        """
        _check(_top_begin(self._handle(), align))
        return TopBlock(self)

    def alloc_from_iter(self, chunks, align=1):
        """Copies the bytes-like items of ``chunks`` (any iterable, its length unknown) into
        one new block, built in place at the top; on error nothing is kept."""
        with self.top_block(align) as b:
            for chunk in chunks:
                b.append(chunk)
            return b.finish()

    def scope(self):
        """A context manager that rewinds the arena on exit to where it was on entry: nested
        scopes, over :meth:`checkpoint` and :meth:`rewind`. Blocks made inside must not be
        used after it ends (Python cannot check this; Rust's ``Scope`` proves it)."""
        return _Scope(self)

    # ---- figures
    def _figure(self, name):
        n = c_size_t()
        _check(_figures[name](self._handle(), ctypes.byref(n)))
        return n.value

    def _address(self, name):
        p = c_void_p()
        _check(_addresses[name](self._handle(), ctypes.byref(p)))
        return p.value or 0

    base = property(lambda self: self._address("base"), doc="The first address of the region.")
    ptr = property(lambda self: self._address("ptr"), doc="The address of the next free byte.")
    size = property(lambda self: self._figure("size"), doc="The size of the region in bytes.")
    used = property(lambda self: self._figure("used"), doc="Bytes handed out so far.")
    remaining = property(lambda self: self._figure("remaining"), doc="Bytes left.")
    committed = property(lambda self: self._figure("committed"), doc="Bytes backed by memory.")
    reserved = property(lambda self: self._figure("reserved"), doc="Bytes of address space.")
    high_water_mark = property(lambda self: self._figure("high_water_mark"),
                               doc="The most bytes ever in use at once.")

    @property
    def protection(self):
        """The protection of every page of the region, or ``None`` when pages differ."""
        v = c_uint32()
        _check(_protection(self._handle(), ctypes.byref(v)))
        return None if v.value == _VMA_PROT_MIXED else Protection(v.value)

    @protection.setter
    def protection(self, value):
        _check(_set_protection(self._handle(), int(value)))

    @property
    def huge_pages(self):
        """The huge pages in effect."""
        v = c_uint32()
        _check(_huge_pages(self._handle(), ctypes.byref(v)))
        return HugePages(v.value)

    # ---- protection
    def protect(self, offset, length, protection):
        """Sets the protection of the pages ``[offset, offset + length)`` touches."""
        _check(_protect(self._handle(), offset, length, int(protection)))

    def publish(self, offset, length):
        """Makes the code in ``[offset, offset + length)`` read+execute (cache coherent)."""
        _check(_publish(self._handle(), offset, length))

    def make_writable(self, offset, length):
        """Makes ``[offset, offset + length)`` read+write again, to patch code."""
        _check(_make_writable(self._handle(), offset, length))

    def protection_at(self, offset):
        """The protection of the page holding ``offset``."""
        v = c_uint32()
        _check(_protection_at(self._handle(), offset, ctypes.byref(v)))
        return Protection(v.value)

    def protection_of(self, offset, length):
        """The protection of the pages the range touches, or ``None`` when they differ."""
        v = c_uint32()
        _check(_protection_of(self._handle(), offset, length, ctypes.byref(v)))
        return None if v.value == _VMA_PROT_MIXED else Protection(v.value)

    def function(self, code, restype, *argtypes):
        """A callable (C calling convention) for published code: ``code`` is a :class:`Block`
        (or an address, checked as one byte). Checked first (``vma_function``): the block
        lies in this arena and every page of it is executable; what the bytes do is yours."""
        addr, n = (code.address, code.size) if isinstance(code, Block) else (code, 1)
        p = c_void_p()
        _check(_function(self._handle(), addr, n, ctypes.byref(p)))
        return ctypes.CFUNCTYPE(restype, *argtypes)(p.value)

    # ---- dual mapping
    @property
    def dual_mapped(self):
        """Whether the region is mapped twice (the ``dual_mapping`` option)."""
        v = ctypes.c_bool()
        _check(_is_dual_mapped(self._handle(), ctypes.byref(v)))
        return v.value

    @property
    def exec_base(self):
        """The first address of the executable view: :attr:`base` unless dual-mapped."""
        p = c_void_p()
        _check(_exec_base(self._handle(), ctypes.byref(p)))
        return p.value or 0

    def exec_address(self, address):
        """Where the byte at ``address`` (in ``[base, ptr]``) runs: the same address unless
        dual-mapped, then the same byte in the executable view."""
        p = c_void_p()
        _check(_exec_addr(self._handle(), address, ctypes.byref(p)))
        return p.value or 0

    def patch_u32(self, offset, value):
        """Writes ``value`` at ``offset`` (a multiple of 4, below the pointer) with one aligned
        atomic store: code running meanwhile sees the old or the new value, never a mix."""
        _check(_patch_u32(self._handle(), offset, value))

    def patch_u64(self, offset, value):
        """:meth:`patch_u32` for 8 bytes at a multiple of 8."""
        _check(_patch_u64(self._handle(), offset, value))

    # Blocks by address (a Block, or part of one): publish sets their pages read+execute and
    # seals (the next block starts on a fresh page); patch code after make_writable_block.
    def protect_block(self, block, protection):
        """Sets the protection of the pages ``block`` touches."""
        _check(_protect_addr(self._handle(), block.address, block.size, int(protection)))

    def publish_block(self, block):
        """Publishes the code in ``block``: read+execute, cache coherent, sealed."""
        _check(_publish_addr(self._handle(), block.address, block.size))

    def make_writable_block(self, block):
        """Makes the pages of ``block`` read+write again, to patch it."""
        _check(_make_writable_addr(self._handle(), block.address, block.size))

    def protection_of_block(self, block):
        """The protection of the pages ``block`` touches, or ``None`` when they differ."""
        v = c_uint32()
        _check(_protection_of_addr(self._handle(), block.address, block.size, ctypes.byref(v)))
        return None if v.value == _VMA_PROT_MIXED else Protection(v.value)

    # ---- reuse
    def reset(self):
        """Moves the pointer back to the base; contents stay."""
        _check(_resets["reset"](self._handle()))

    def reset_zeroed(self):
        """Reset, and every byte reads zero."""
        _check(_resets["reset_zeroed"](self._handle()))

    def reset_decommit(self):
        """Reset, and the memory goes back to the OS."""
        _check(_resets["reset_decommit"](self._handle()))

    def trim(self):
        """Returns the committed memory above the pointer to the OS."""
        _check(_resets["trim"](self._handle()))

    def checkpoint(self):
        """The current pointer, to :meth:`rewind` to."""
        raw = _Checkpoint()
        _check(_checkpoint(self._handle(), ctypes.byref(raw)))
        return Checkpoint(raw)

    def rewind(self, checkpoint):
        """Moves the pointer back to ``checkpoint``; contents stay."""
        if not isinstance(checkpoint, Checkpoint):
            raise TypeError("expected a Checkpoint")
        _check(_rewind(self._handle(), ctypes.byref(checkpoint._raw)))

    def __repr__(self):
        if self._h is None:
            return "<Mallocator closed>"
        return "<Mallocator base=%#x used=%d size=%d>" % (self.base, self.used, self.size)
