// Tests of the C# Mallocator class, without a test framework: compiled with mcs, run with
// mono by bindings/csharp/run-tests.sh. Exit code 0 when every check passes.
using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Vmallocator;
using P = Vmallocator.VirtualAlloc.MemoryProtectionConstants;

static partial class Tests
{
    static int checks, failures;

    static void Check(bool ok, string what)
    {
        checks++;
        if (!ok)
        {
            failures++;
            Console.Error.WriteLine("FAILED: " + what);
        }
    }

    static T Throws<T>(Action action, string what) where T : Exception
    {
        checks++;
        try
        {
            action();
        }
        catch (T e)
        {
            return e;
        }
        catch (Exception e)
        {
            failures++;
            Console.Error.WriteLine("FAILED: " + what + ": threw " + e.GetType().Name + ": " + e.Message);
            return null;
        }
        failures++;
        Console.Error.WriteLine("FAILED: " + what + ": did not throw " + typeof(T).Name);
        return null;
    }

    static MallocatorException Fails(MallocatorStatus status, Action action, string what)
    {
        var e = Throws<MallocatorException>(action, what);
        if (e != null) Check(e.Status == status, what + ": status " + e.Status + ", expected " + status);
        return e;
    }

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    delegate int Answer();

    static readonly ulong Page = VirtualAlloc.PageSize;
    static bool X86_64; // from the first argument: the machine (`uname -m`)

    static void Original()
    {
        using (var m = new Mallocator())
        {
            Check(m.Size == VirtualAlloc.PageGranularity, "default size is one granule");
            Check(m.Base == m.Ptr && m.Base != 0, "Base == Ptr at first");
            Check(m.Protection == P.PAGE_READWRITE, "default protection");
        }
        var a = new Mallocator(4 * Page, P.PAGE_READWRITE);
        ulong p1 = a.Alloc(1024);
        ulong p2 = a.Alloc(512, 16);
        Check(p1 == a.Base && p2 % 16 == 0 && p2 >= p1 + 1024, "Alloc places blocks upward, aligned");
        Check(a.Ptr == p2 + 512 && a.Used == 1536 && a.Remaining == 4 * Page - 1536, "Ptr, Used, Remaining");
        Check(a.Committed == 4 * Page && a.Reserved == 4 * Page && a.HighWaterMark == 1536, "statistics");

        ulong s = a.AllocStr("Hello World");
        Check(Marshal.PtrToStringAnsi(new IntPtr((long)s)) == "Hello World", "AllocStr width 1");
        ulong s2 = a.AllocStr("h\u20ac\U0001F980", 2);
        Check(s2 % 2 == 0 && Marshal.PtrToStringUni(new IntPtr((long)s2)) == "h\u20ac\U0001F980", "AllocStr width 2 is lossless UTF-16");
        ulong s4 = a.AllocStr("h\u20ac\U0001F980", 4);
        Check(Marshal.ReadInt32(new IntPtr((long)s4), 8) == 0x1F980 && Marshal.ReadInt32(new IntPtr((long)s4), 12) == 0, "AllocStr width 4 is UTF-32");
        ulong b = a.AllocBytes(new byte[] { 1, 2, 3 });
        Check(Marshal.ReadByte(new IntPtr((long)b), 2) == 3, "AllocBytes copies");
        ulong len;
        ulong h = a.AllocByteStr("00 ab f9 0x42", out len);
        Check(len == 4 && Marshal.ReadByte(new IntPtr((long)h), 1) == 0xab && Marshal.ReadByte(new IntPtr((long)h), 3) == 0x42, "AllocByteStr parses");
        Check(a.AllocByteStr("c3") == h + 4, "align-1 blocks are contiguous");
        Check(a.ToString().Contains("Used"), "ToString");

        ulong used = a.Used;
        Throws<ArgumentOutOfRangeException>(() => a.AllocStr("x", 3), "width 3");
        Throws<ArgumentOutOfRangeException>(() => a.AllocStr("x", 0), "width 0");
        Throws<ArgumentNullException>(() => a.AllocStr(null), "AllocStr(null)");
        Throws<ArgumentNullException>(() => a.AllocBytes(null), "AllocBytes(null)");
        Throws<ArgumentException>(() => a.AllocStr("a\uD800"), "a lone surrogate");
        var e = Fails(MallocatorStatus.InteriorNul, () => a.AllocStr("a\0b", 2), "interior NUL");
        if (e != null) Check(e.Offset == 1, "NUL offset");
        e = Fails(MallocatorStatus.Hex, () => a.AllocByteStr("00 ab zz"), "bad hex");
        if (e != null) Check(e.Offset == 6 && e.Message.Contains("offset 6") && e.OsCode == 0, "hex offset and message: " + e.Message);
        e = Fails(MallocatorStatus.InvalidAlignment, () => a.Alloc(8, 3), "alignment 3");
        if (e != null) Check(e.Offset == -1 && e.Message.Contains("3"), "alignment message");
        e = Fails(MallocatorStatus.OutOfMemory, () => a.Alloc((uint)(4 * Page)), "out of memory");
        if (e != null) Check(e.Message.Contains("remaining"), "out-of-memory message: " + e.Message);
        Check(a.Used == used, "failed calls changed nothing");

        a.Free();
        Check(a.IsFreed, "IsFreed");
        a.Free(); // a second Free does nothing
        a.Dispose();
        Throws<ObjectDisposedException>(() => a.Alloc(1), "Alloc after Free");
        Throws<ObjectDisposedException>(() => { var x = a.Base; }, "Base after Free");

        Fails(MallocatorStatus.ZeroSize, () => new Mallocator(0, P.PAGE_READWRITE), "size 0");
        Throws<ArgumentOutOfRangeException>(() => new Mallocator(Page, P.PAGE_WRITECOPY), "PAGE_WRITECOPY");
        Throws<ArgumentOutOfRangeException>(() => new Mallocator(Page, P.PAGE_READWRITE | P.PAGE_GUARD), "PAGE_GUARD");
        // 128 TiB committed at once: more than a 47-bit address space holds (regions are
        // mapped MAP_NORESERVE, so a smaller size may be granted).
        Mallocator big = null;
        try { big = new Mallocator(1UL << 47, P.PAGE_READWRITE); }
        catch (MallocatorException ex) { Check(ex.Status == MallocatorStatus.Os && ex.OsCode != 0, "OS error with its code"); }
        if (big != null) { Console.WriteLine("skipped: the OS granted 128 TiB committed at once"); big.Dispose(); }
    }

    static void Protection()
    {
        using (var m = new Mallocator(4 * Page, P.PAGE_READWRITE))
        {
            m.Protect(Page, 1, P.PAGE_READONLY);
            Check(m.ProtectionAt(Page + 5) == P.PAGE_READONLY, "ProtectionAt");
            Check(m.ProtectionOf(0, Page) == P.PAGE_READWRITE, "ProtectionOf uniform");
            Check(m.ProtectionOf(Page - 1, 2) == null, "ProtectionOf mixed");
            Fails(MallocatorStatus.OutOfRange, () => m.ProtectionAt(4 * Page), "ProtectionAt past the end");
            Fails(MallocatorStatus.OutOfRange, () => m.Protect(0, 5 * Page, P.PAGE_READONLY), "Protect past the end");
            Fails(MallocatorStatus.OutOfRange, () => m.Publish(ulong.MaxValue, 2), "Publish overflowing");
            Fails(MallocatorStatus.OutOfRange, () => m.MakeWritable(0, 5 * Page), "MakeWritable past the end");
            m.Alloc((uint)Page);
            Fails(MallocatorStatus.NotWritable, () => m.AllocBytes(new byte[] { 1 }), "writing a read-only page");
            m.Protection = P.PAGE_READWRITE;
            Check(m.Protection == P.PAGE_READWRITE && m.ProtectionOf(0, 4 * Page) == P.PAGE_READWRITE, "Protection setter");

            // JIT: code written from hex, published, called through a delegate.
            m.Alloc((uint)(Page - m.Used % Page));
            ulong start = m.Used;
            ulong len;
            ulong code = m.AllocByteStr("b8 2a 00 00 00  ; mov eax, 42\nc3  ; ret", out len);
            m.Publish(start, len);
            Check(m.ProtectionAt(start) == P.PAGE_EXECUTE_READ, "published pages are read+execute");
            Check(m.Used == start + Page && m.Protection == null, "publishing seals the page; the region is mixed");
            Check(m.AllocBytes(new byte[] { 0x90 }) == code + Page, "the next block starts on a fresh page");
            if (X86_64)
            {
                var f = (Answer)Marshal.GetDelegateForFunctionPointer(new IntPtr((long)code), typeof(Answer));
                Check(f() == 42, "JIT call returns 42");
                m.MakeWritable(start, len);
                Marshal.WriteByte(new IntPtr((long)code), 1, 7);
                m.Publish(start, len);
                Check(f() == 7, "patched JIT call returns 7");
            }
            else
            {
                Console.WriteLine("skipped: calling published code (not x86_64)");
            }
        }
    }

    static void Reuse()
    {
        using (var m = new Mallocator(4 * Page, P.PAGE_READWRITE))
        {
            m.AllocBytes(new byte[] { 1, 2, 3, 4 });
            var cp = m.Checkpoint();
            Check(cp.Used == 4, "Checkpoint.Used");
            ulong scratch = m.AllocByteStr("aa bb");
            m.Rewind(cp);
            Check(m.Used == 4 && m.AllocByteStr("cc") == scratch, "Rewind");
            using (var other = new Mallocator())
            {
                Fails(MallocatorStatus.InvalidCheckpoint, () => m.Rewind(other.Checkpoint()), "another arena's checkpoint");
            }
            m.Reset();
            Check(m.Used == 0, "Reset");
            ulong secret = m.AllocByteStr("5e c2 e7");
            m.ResetZeroed();
            Check(Marshal.ReadByte(new IntPtr((long)secret)) == 0 && m.Used == 0, "ResetZeroed");
            m.Alloc(100);
            m.ResetDecommit();
            Check(m.Used == 0, "ResetDecommit");
            m.Alloc(8, 8);
            m.Trim();
            Check(m.Committed < 4 * Page, "Trim");
        }
    }

    static void Options()
    {
        using (var m = new Mallocator(new MallocatorOptions { Reserve = 1UL << 30, CommitStep = 1UL << 16 }))
        {
            Check(m.Reserved == 1UL << 30 && m.Committed == 0, "reserve");
            m.Alloc(100);
            Check(m.Committed == 1UL << 16, "commit step");
        }
        using (var m = new Mallocator(new MallocatorOptions { Size = Page, GuardPagesBefore = 1, GuardPagesAfter = 1, Protect = P.PAGE_READWRITE }))
        {
            Check(m.Size == Page, "guard pages");
        }
        using (var m = new Mallocator(new MallocatorOptions { Reserve = 8UL << 20, HugePages = HugePages.Transparent }))
        {
            Check(m.HugePages == HugePages.Transparent || m.HugePages == HugePages.Off, "huge pages");
        }
        using (var m = new Mallocator(new MallocatorOptions { Reserve = 1UL << 20, GuardPagesAfter = 1 }))
        {
            Check(m.Reserved == 1UL << 20, "reserve + guard pages");
        }
        Fails(MallocatorStatus.InvalidOptions, () => new Mallocator(new MallocatorOptions { Reserve = 1UL << 20, Size = 2UL << 20 }), "size above the reservation");
        Fails(MallocatorStatus.GuardPagesOverflow, () => new Mallocator(new MallocatorOptions { Size = Page, GuardPagesBefore = ulong.MaxValue / 2 }), "guard pages overflowing");
        Throws<ArgumentNullException>(() => new Mallocator(null), "null options");
        using (var taken = new Mallocator())
        {
            Fails(MallocatorStatus.AddressInUse, () => new Mallocator(new MallocatorOptions { At = taken.Base }), "At a taken address");
            using (var near = new Mallocator(new MallocatorOptions { Near = taken.Base, NearDistance = 1UL << 31 }))
            {
                ulong d = near.Base > taken.Base ? near.Base - taken.Base : taken.Base - near.Base;
                Check(d < 1UL << 31, "Near");
            }
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    static ulong Forget()
    {
        var m = new Mallocator();
        return m.Base;
    }

    static void Finalizer()
    {
        // The finalizer released the region: its address is free again. Retried, since
        // the runtime's own threads may map memory there before we place a region.
        string why = null;
        for (int attempt = 0; attempt < 10; attempt++)
        {
            ulong addr = Forget();
            GC.Collect();
            GC.WaitForPendingFinalizers();
            try
            {
                using (var m = new Mallocator(new MallocatorOptions { At = addr }))
                {
                    Check(m.Base == addr, "a region at the released address");
                }
                return;
            }
            catch (MallocatorException e)
            {
                why = e.Message;
            }
        }
        Check(false, "the forgotten arena was not released: " + why);
    }

    static int Main(string[] args)
    {
        X86_64 = IntPtr.Size == 8 && args.Length > 0 && (args[0] == "x86_64" || args[0] == "AMD64");
        Check(VirtualAlloc.PageGranularity % VirtualAlloc.PageSize == 0 && VirtualAlloc.PageSize >= 4096, "VirtualAlloc sizes");
        ReadmeExample.Run();
        Original();
        Protection();
        Reuse();
        Options();
        Finalizer();
        Blocks();
        Strings();
        Shared();
        Code();
        Dual();
        if (failures != 0)
        {
            Console.Error.WriteLine("C# tests: " + failures + " of " + checks + " checks FAILED");
            return 1;
        }
        Console.WriteLine("C# tests: all " + checks + " checks passed");
        return 0;
    }
}
