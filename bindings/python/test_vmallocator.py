"""Tests of the Python bindings: run with `python3 -m pytest bindings/python`."""

import ctypes
import gc
import platform

import pytest

import vmallocator as vm
from vmallocator import HexError, HugePages, Mallocator, Protection, VmallocatorError

PAGE = vm.page_size()
X86_64 = platform.machine().lower() in ("x86_64", "amd64")


def read(addr, n):
    return ctypes.string_at(addr, n)


def test_globals():
    assert PAGE >= 4096 and PAGE & (PAGE - 1) == 0
    assert vm.granularity() % PAGE == 0


def test_default_and_sized():
    with Mallocator() as m:
        assert m.size == vm.granularity()
        assert m.protection == Protection.READ_WRITE
        assert m.base == m.ptr != 0
    m = Mallocator(10_000, Protection.READ_WRITE)
    assert m.size == -(-10_000 // PAGE) * PAGE
    m.close()
    assert m.closed
    m.close()  # closing twice is a no-op
    with pytest.raises(ValueError, match="closed"):
        m.alloc(1)


def test_alloc_and_figures():
    with Mallocator(4 * PAGE) as m:
        a = m.alloc(1024)
        b = m.alloc(512, 16)
        assert a == m.base and b % 16 == 0 and b >= a + 1024
        assert m.ptr == b + 512
        assert m.used == 1536 and m.remaining == 4 * PAGE - 1536
        assert m.committed == m.reserved == 4 * PAGE
        assert m.high_water_mark == 1536
        with pytest.raises(VmallocatorError) as e:
            m.alloc(8, 3)
        assert e.value.name == "VMA_ERR_INVALID_ALIGNMENT" and "3" in str(e.value)
        with pytest.raises(VmallocatorError) as e:
            m.alloc(4 * PAGE)
        assert e.value.name == "VMA_ERR_OUT_OF_MEMORY" and e.value.offset is None
        assert m.used == 1536  # the failures changed nothing


def test_writers():
    with Mallocator(4 * PAGE) as m:
        blk = m.alloc_bytes(b"\x01\x02\x03")
        assert read(blk.address, 3) == b"\x01\x02\x03" and blk.size == 3
        s = m.alloc_str("Hello World")
        assert read(s.address, s.size) == b"Hello World\0"
        s = m.alloc_str("h\u20ac\U0001f980", 2)
        assert s.size == 10 and s.address % 2 == 0
        assert read(s.address, 10) == "h\u20ac\U0001f980\0".encode("utf-16-le")
        s = m.alloc_str("h\u20ac\U0001f980", 4)
        assert read(s.address, 16) == "h\u20ac\U0001f980\0".encode("utf-32-le")
        h = m.alloc_hex("00 ab f9 0x42")
        assert read(h.address, h.size) == b"\x00\xab\xf9\x42"
        used = m.used
        with pytest.raises(ValueError):
            m.alloc_str("abc", 3)
        with pytest.raises(VmallocatorError) as e:
            m.alloc_str("a\0b", 2)
        assert e.value.name == "VMA_ERR_INTERIOR_NUL" and e.value.offset == 1
        with pytest.raises(VmallocatorError) as e:
            m.alloc_str("a\ud800")  # a lone surrogate is not text
        assert e.value.name == "VMA_ERR_INVALID_UTF8" and e.value.offset == 1
        with pytest.raises(HexError) as e:
            m.alloc_hex("00 ab zz")
        assert e.value.offset == 6 and "offset 6" in str(e.value)
        assert isinstance(e.value, ValueError)
        assert m.used == used


def test_protection():
    with Mallocator(4 * PAGE) as m:
        m.protect(PAGE, 1, Protection.READ)
        assert m.protection_at(PAGE + 5) == Protection.READ
        assert m.protection_of(0, PAGE) == Protection.READ_WRITE
        assert m.protection_of(PAGE - 1, 2) is None
        with pytest.raises(VmallocatorError) as e:
            m.protection_at(4 * PAGE)
        assert e.value.name == "VMA_ERR_OUT_OF_RANGE"
        with pytest.raises(VmallocatorError) as e:
            m.protect(0, 1, 6)
        assert e.value.name == "VMA_ERR_INVALID_ARGUMENT"
        m.alloc(PAGE)
        with pytest.raises(VmallocatorError) as e:
            m.alloc_bytes(b"x")
        assert e.value.name == "VMA_ERR_NOT_WRITABLE"
        m.protection = Protection.READ_WRITE
        assert m.protection == Protection.READ_WRITE
        assert m.protection_of(0, 4 * PAGE) == Protection.READ_WRITE


@pytest.mark.skipif(not X86_64 or platform.system() == "Windows",
                    reason="x86_64 System V machine code")
def test_published_code_is_called_through_cfunctype():
    with Mallocator(PAGE) as m:
        code = m.alloc_hex("8d 04 37  ; lea eax, [rdi + rsi]\nc3  ; ret\n90")
        start = code.address - m.base
        m.publish(start, code.size)
        assert m.protection_at(start) == Protection.READ_EXECUTE
        add = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.c_int)(code.address)
        assert add(40, 2) == 42
        assert m.used == PAGE  # sealed: nothing more goes on the published page
        with pytest.raises(VmallocatorError) as e:
            m.alloc_bytes(b"\x90")
        assert e.value.name == "VMA_ERR_OUT_OF_MEMORY"
        m.make_writable(start, code.size)
        ctypes.memmove(code.address, b"\x89\xf8\x29\xf0\xc3", 5)  # mov eax, edi; sub eax, esi
        m.publish(start, code.size)
        sub = m.function(code, ctypes.c_int, ctypes.c_int, ctypes.c_int)
        assert sub(50, 8) == 42


def test_dual_mapping():
    with Mallocator() as single:
        assert not single.dual_mapped
        assert single.exec_base == single.base
    if platform.system() not in ("Linux", "Windows"):
        with pytest.raises(VmallocatorError) as e:
            Mallocator(reserve=1 << 20, dual_mapping=True)
        assert e.value.name == "VMA_ERR_UNSUPPORTED"
        return
    with pytest.raises(VmallocatorError) as e:
        Mallocator(protection=Protection.READ_WRITE_EXECUTE, dual_mapping=True)
    assert e.value.name == "VMA_ERR_INVALID_OPTIONS"
    with Mallocator(reserve=1 << 20, dual_mapping=True) as m:
        assert m.dual_mapped and m.exec_base != m.base
        # nop (3 bytes); mov eax, imm32 (immediate at offset 4); ret
        code = m.alloc_bytes(bytes([0x0F, 0x1F, 0x00, 0xB8, 42, 0, 0, 0, 0xC3]))
        assert m.exec_address(code.address + 4) == m.exec_base + 4
        with pytest.raises(VmallocatorError) as e:
            m.exec_address(code.address + 10)  # past the pointer
        assert e.value.name == "VMA_ERR_NOT_IN_ARENA"
        m.publish_block(code)
        assert m.used == 9  # no sealing
        assert m.protection == Protection.READ_WRITE  # the writable view stays writable
        for bad, name in ((2, "VMA_ERR_INVALID_ADDRESS"), (8, "VMA_ERR_NOT_IN_ARENA")):
            with pytest.raises(VmallocatorError) as e:
                m.patch_u32(bad, 1)
            assert e.value.name == name
        m.patch_u32(4, 7)
        assert ctypes.string_at(m.exec_base + 4, 4) == (7).to_bytes(4, "little")
        if X86_64:
            answer = m.function(code, ctypes.c_int)
            m.patch_u32(4, 43)
            assert answer() == 43


def test_reuse():
    with Mallocator(4 * PAGE) as m:
        m.alloc_bytes(b"keep")
        cp = m.checkpoint()
        assert cp.used == 4
        scratch = m.alloc_bytes(b"scratch")
        m.rewind(cp)
        assert m.used == 4
        assert m.alloc_bytes(b"S").address == scratch.address
        assert read(scratch.address, 7) == b"Scratch"
        with Mallocator() as other:
            with pytest.raises(VmallocatorError) as e:
                m.rewind(other.checkpoint())
            assert e.value.name == "VMA_ERR_INVALID_CHECKPOINT"
        with pytest.raises(TypeError):
            m.rewind(4)
        m.reset()
        assert m.used == 0
        secret = m.alloc_bytes(b"secret")
        m.reset_zeroed()
        assert read(secret.address, 6) == bytes(6)
        m.alloc_bytes(b"x")
        m.reset_decommit()
        assert m.used == 0
        m.alloc(8)
        m.trim()
        assert m.committed < 4 * PAGE


def test_builder_options():
    with Mallocator(reserve=1 << 30, commit_step=1 << 16) as m:
        assert (m.reserved, m.committed) == (1 << 30, 0)
        m.alloc(100)
        assert m.committed == 1 << 16
    with Mallocator(PAGE, guard_pages=(1, 1)) as m:
        assert m.size == PAGE
    with Mallocator(reserve=8 << 20, huge_pages=HugePages.TRANSPARENT) as m:
        assert m.huge_pages in (HugePages.TRANSPARENT, HugePages.OFF)
    with Mallocator(reserve=1 << 20, guard_pages=(1, 1)) as m:
        assert m.reserved == 1 << 20
    with pytest.raises(VmallocatorError) as e:
        Mallocator(PAGE, reserve=PAGE // 2)  # more up front than the reservation
    assert e.value.name == "VMA_ERR_INVALID_OPTIONS"
    with Mallocator() as taken:
        with pytest.raises(VmallocatorError) as e:
            Mallocator(at=taken.base)
        assert e.value.name == "VMA_ERR_ADDRESS_IN_USE"
        with Mallocator(near=(taken.base, 1 << 31)) as m:
            assert abs(m.base - taken.base) < 1 << 31
    with pytest.raises(VmallocatorError) as e:
        Mallocator(0)
    assert e.value.name == "VMA_ERR_ZERO_SIZE"


def test_os_error_carries_the_code():
    try:
        m = Mallocator(1 << 47)
    except VmallocatorError as e:
        assert e.name == "VMA_ERR_OS" and e.os_code != 0
    else:
        m.close()
        pytest.skip("the OS granted 128 TiB committed at once")


def test_forgotten_arena_is_released_by_the_collector():
    m = Mallocator()
    handle = m._h
    del m
    gc.collect()
    # The handle is gone: freeing it again is detected, not a double free.
    assert vm._free(handle) == 4  # VMA_ERR_INVALID_HANDLE


def test_context_manager_closes():
    with Mallocator() as m:
        pass
    assert m.closed


def test_top_block_grows_in_place_and_finishes():
    with Mallocator(4 * PAGE) as m:
        head = m.alloc_bytes(b"abc")
        with m.top_block(8) as b:
            assert b.block == (head.address + 8, 0)
            b.append(b"hello")
            at = b.grow(7)
            ctypes.memmove(at, b", world", 7)
            assert b.write(b"!") == 1
            assert len(b) == 13
            with pytest.raises(VmallocatorError) as e:
                m.alloc(1)
            assert e.value.name == "VMA_ERR_TOP_BLOCK_OPEN" and "vma_alloc" in str(e.value)
            for call in (m.reset, m.reset_zeroed, lambda: m.alloc_bytes(b"x"),
                         lambda: m.top_block()):
                with pytest.raises(VmallocatorError) as e:
                    call()
                assert e.value.name == "VMA_ERR_TOP_BLOCK_OPEN"
            assert m.used == 8 + 13
            blk = b.finish()
        assert blk == (head.address + 8, 13) and read(blk.address, 13) == b"hello, world!"
        assert b.closed
        with pytest.raises(ValueError, match="closed"):
            b.append(b"more")
        assert m.alloc_bytes(b"z").address == blk.address + 13  # one block, then the next


def test_top_block_abandoned_and_failures():
    with Mallocator(2 * PAGE) as m:
        m.alloc(5)
        with m.top_block(64) as b:
            b.append(b"scratch")
        assert m.used == 5 and m.high_water_mark == 64 + 7  # given back, padding too
        b = m.top_block()
        b.append(bytes(1000))
        with pytest.raises(VmallocatorError) as e:
            b.append(bytes(2 * PAGE))
        assert e.value.name == "VMA_ERR_OUT_OF_MEMORY"
        assert len(b) == 1000  # the failed append changed nothing
        b.abandon()
        assert m.used == 5
        with pytest.raises(VmallocatorError) as e:
            m.top_block(3)
        assert e.value.name == "VMA_ERR_INVALID_ALIGNMENT"
        with pytest.raises(VmallocatorError) as e:
            vm._check(vm._top_finish(m._h, ctypes.byref(ctypes.c_void_p()), None))
        assert e.value.name == "VMA_ERR_NO_TOP_BLOCK"
        # An exception inside the block abandons it.
        with pytest.raises(KeyError):
            with m.top_block() as b:
                b.append(b"partial")
                raise KeyError("stop")
        assert m.used == 5 and m.alloc(1) == m.base + 5


def test_alloc_from_iter_in_a_reservation():
    with Mallocator(reserve=1 << 30, commit_step=1 << 16) as m:
        chunks = (bytes([i % 256]) * 4000 for i in range(300))
        blk = m.alloc_from_iter(chunks, align=16)
        assert blk.address % 16 == 0 and blk.size == 300 * 4000
        assert read(blk.address + 299 * 4000, 4000) == bytes([43]) * 4000
        assert m.committed >= blk.size and m.committed % (1 << 16) == 0
        used = m.used

        def failing():
            yield b"ok"
            raise RuntimeError("the source failed")

        with pytest.raises(RuntimeError):
            m.alloc_from_iter(failing())
        assert m.used == used  # nothing kept


def test_nested_scopes():
    with Mallocator() as m:
        kept = m.alloc_bytes(b"kept")
        with m.scope():
            a = m.alloc_bytes(b"level1")
            with m.scope():
                m.alloc_bytes(b"level2")
                ctypes.memmove(kept.address, b"K", 1)  # outer blocks stay usable
            assert m.used == 10 and read(a.address, 6) == b"level1"
        assert m.used == 4 and read(kept.address, 4) == b"Kept"


def test_foreign_strings():
    with Mallocator() as m:
        c = m.alloc_cstr(b"hello\xff")
        assert c.size == 7 and read(c.address, 7) == b"hello\xff\0"
        assert ctypes.string_at(m.alloc_cstr("für C").address) == "für C".encode()
        used = m.used
        with pytest.raises(VmallocatorError) as e:
            m.alloc_cstr(b"ab\0cd")
        assert e.value.name == "VMA_ERR_INTERIOR_NUL" and e.value.offset == 2
        assert m.used == used
        w = m.alloc_utf16_units("h\U0001d11e")
        assert w.address % 2 == 0 and w.size == 8
        assert read(w.address, 8) == "h\U0001d11e\0".encode("utf-16-le")
        lone = m.alloc_utf16_units([0x61, 0xDC00])  # an unpaired surrogate is kept
        assert read(lone.address, 6) == b"\x61\x00\x00\xdc\x00\x00"
        used = m.used
        with pytest.raises(VmallocatorError) as e:
            m.alloc_utf16_units([1, 2, 0, 3])
        assert e.value.name == "VMA_ERR_INTERIOR_NUL" and e.value.offset == 2  # in units
        assert m.used == used


def test_code_by_block():
    with Mallocator(4 * PAGE) as m:
        data = m.alloc_bytes(b"data")
        code = m.alloc_hex("b8 2a 00 00 00 c3")  # mov eax, 42; ret
        with pytest.raises(VmallocatorError) as e:
            m.function(code, ctypes.c_int)
        assert e.value.name == "VMA_ERR_NOT_EXECUTABLE"
        with pytest.raises(VmallocatorError) as e:
            m.publish_block(vm.Block(code.address, code.size + 1))  # past the pointer
        assert e.value.name == "VMA_ERR_NOT_IN_ARENA"
        with m.top_block() as b:
            with pytest.raises(VmallocatorError) as e:
                m.publish_block(code)
            assert e.value.name == "VMA_ERR_TOP_BLOCK_OPEN"
        m.publish_block(code)
        assert m.protection_of_block(code) == Protection.READ_EXECUTE
        assert m.protection is None  # mixed
        assert m.used == PAGE  # sealed
        assert m.protection_of_block(data) == Protection.READ_EXECUTE  # same page
        if X86_64 and platform.system() != "Windows":
            answer = m.function(code, ctypes.c_int)
            assert answer() == 42
            m.make_writable_block(code)
            ctypes.memmove(code.address + 1, b"\x07", 1)
            m.publish_block(code)
            assert answer() == 7
        m.protect_block(data, Protection.READ)
        assert m.protection_of_block(data) == Protection.READ
