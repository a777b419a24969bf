// Tests of the C# members for blocks that grow at the top, and nested scopes.
using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using Vmallocator;
using P = Vmallocator.VirtualAlloc.MemoryProtectionConstants;

static partial class Tests
{
    static byte Read(ulong addr, int i)
    {
        return Marshal.ReadByte(new IntPtr((long)addr), i);
    }

    static IEnumerable<byte[]> Chunks(int n, bool failAtEnd)
    {
        for (int i = 0; i < n; i++) yield return new byte[] { (byte)i, (byte)(i >> 8) };
        if (failAtEnd) throw new InvalidOperationException("the source failed");
    }

    static void Blocks()
    {
        using (var m = new Mallocator(4 * Page, P.PAGE_READWRITE))
        {
            ulong head = m.AllocBytes(new byte[] { 1, 2, 3 });
            ulong len;
            ulong addr;
            using (var b = m.BeginBlock(8))
            {
                Check(b.Address == head + 8 && b.Length == 0 && b.IsOpen, "BeginBlock aligns, starts empty");
                b.Append(new byte[] { 0xb8, 0x2a });
                b.Append((byte)0);
                ulong at = b.Grow(2);
                Marshal.Copy(new byte[] { 0, 0 }, 0, new IntPtr((long)at), 2);
                b.AppendUtf8("\u00e9");
                Check(b.Length == 7, "Length after appends");
                var e = Fails(MallocatorStatus.TopBlockOpen, () => m.Alloc(1), "Alloc while a block is open");
                if (e != null) Check(e.Message.Contains("vma_alloc"), "the refused call is named: " + e.Message);
                Fails(MallocatorStatus.TopBlockOpen, () => m.AllocBytes(new byte[] { 1 }), "AllocBytes while open");
                Fails(MallocatorStatus.TopBlockOpen, () => m.Reset(), "Reset while open");
                Fails(MallocatorStatus.TopBlockOpen, () => m.BeginBlock(), "a second block");
                Fails(MallocatorStatus.OutOfMemory, () => b.Append(new byte[4 * Page]), "an append that does not fit");
                Check(b.Length == 7 && m.Used == 15, "the failed calls changed nothing");
                addr = b.Finish(out len);
                Check(!b.IsOpen, "finished");
                Throws<InvalidOperationException>(() => b.Append((byte)1), "Append after Finish");
            }
            Check(addr == head + 8 && len == 7 && Read(addr, 0) == 0xb8 && Read(addr, 5) == 0xc3 && Read(addr, 6) == 0xa9, "the finished block");
            Check(m.AllocBytes(new byte[] { 9 }) == addr + 7, "the next block follows it");

            ulong used = m.Used;
            using (var b = m.BeginBlock(64))
            {
                b.Append(new byte[100]);
            } // disposed unfinished: abandoned
            Check(m.Used == used, "an unfinished block is given back");
            Throws<InvalidOperationException>(() => m.AllocChunks(Chunks(10, true), out len), "a failing sequence");
            Check(m.Used == used, "nothing kept from a failing sequence");
        }
        using (var m = new Mallocator(new MallocatorOptions { Reserve = 1UL << 30, CommitStep = 1UL << 16 }))
        {
            ulong len;
            ulong addr = m.AllocChunks(Chunks(100000, false), out len, 16);
            Check(addr % 16 == 0 && len == 200000 && Read(addr, 2 * 99999) == (99999 & 0xff) && Read(addr, 2 * 99999 + 1) == ((99999 >> 8) & 0xff), "AllocChunks in a reservation");
            Check(m.Committed >= len && m.Committed % (1UL << 16) == 0, "committed as it grew");
        }
        using (var m = new Mallocator())
        {
            ulong kept = m.AllocBytes(new byte[] { 1, 2, 3, 4 });
            using (m.Scope())
            {
                ulong a = m.AllocBytes(new byte[] { 5, 6 });
                using (m.Scope())
                {
                    m.AllocBytes(new byte[] { 7 });
                    Marshal.WriteByte(new IntPtr((long)kept), 0, 42); // outer blocks stay usable
                }
                Check(m.Used == 6 && Read(a, 1) == 6, "the inner scope is rewound");
            }
            Check(m.Used == 4 && Read(kept, 0) == 42, "the outer scope is rewound");
        }
    }
}
