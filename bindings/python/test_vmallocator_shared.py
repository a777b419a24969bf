"""Tests of the thread-safe arena's Python bindings."""

import ctypes
import threading

import pytest

from vmallocator import Protection, VmallocatorError
from vmallocator_shared import SharedMallocator


def test_threads_allocate_at_once():
    results = {}
    with SharedMallocator(reserve=64 << 20, chunk_size=4096) as s:
        def work(t):
            blocks = []
            for i in range(3000):
                data = bytes([(t * 31 + i) % 256]) * (1 + i % 24)
                blocks.append((s.alloc_bytes(data), data))
            results[t] = blocks

        threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        total = 0
        for blocks in results.values():
            for blk, data in blocks:
                assert ctypes.string_at(blk.address, blk.size) == data  # nothing overlaps
                total += blk.size
        assert s.used >= total and s.claimed >= s.used
        s.reset()
        assert s.used == 0


def test_calls_and_errors():
    with SharedMallocator() as s:
        assert s.size >= 64 << 20
        blk = s.alloc_hex("b8 2a 00 00 00 c3")
        assert ctypes.string_at(blk.address, blk.size) == bytes.fromhex("b82a000000c3")
        assert s.alloc(8, 16) % 16 == 0
        with pytest.raises(VmallocatorError) as e:
            s.alloc_hex("00 zz")
        assert e.value.name == "VMA_ERR_HEX" and e.value.offset == 3
        with pytest.raises(VmallocatorError) as e:
            s.alloc(1, 3)
        assert e.value.name == "VMA_ERR_INVALID_ALIGNMENT"
    assert s.closed
    s.close()  # a no-op
    with pytest.raises(ValueError, match="closed"):
        s.alloc(1)
    with SharedMallocator(size=1 << 20, protection=Protection.READ) as ro:
        with pytest.raises(VmallocatorError) as e:
            ro.alloc_bytes(b"x")
        assert e.value.name == "VMA_ERR_NOT_WRITABLE"
    with pytest.raises(VmallocatorError) as e:
        SharedMallocator(size=0)
    assert e.value.name == "VMA_ERR_ZERO_SIZE"
