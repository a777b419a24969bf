// Tests of the C# thread-safe arena.
using System;
using System.Runtime.InteropServices;
using System.Threading;
using Vmallocator;
using P = Vmallocator.VirtualAlloc.MemoryProtectionConstants;

static partial class Tests
{
    static void Shared()
    {
        const int threads = 4, blocks = 5000;
        var addrs = new ulong[threads, blocks];
        int failed = 0;
        using (var s = new SharedMallocator(64UL << 20, 4096))
        {
            var ts = new Thread[threads];
            for (int t = 0; t < threads; t++)
            {
                int id = t;
                ts[t] = new Thread(() =>
                {
                    try
                    {
                        for (int i = 0; i < blocks; i++)
                        {
                            var data = new byte[1 + i % 24];
                            for (int k = 0; k < data.Length; k++) data[k] = (byte)(id * 31 + i);
                            addrs[id, i] = s.AllocBytes(data);
                        }
                    }
                    catch (Exception)
                    {
                        Interlocked.Increment(ref failed);
                    }
                });
                ts[t].Start();
            }
            foreach (var th in ts) th.Join();
            Check(failed == 0, "no thread failed");
            bool intact = true;
            ulong total = 0;
            for (int t = 0; t < threads; t++)
                for (int i = 0; i < blocks; i++)
                {
                    int len = 1 + i % 24;
                    total += (ulong)len;
                    for (int k = 0; k < len; k++)
                        intact &= Marshal.ReadByte(new IntPtr((long)addrs[t, i]), k) == (byte)(t * 31 + i);
                }
            Check(intact, "every thread's blocks intact: none overlaps");
            Check(s.Used >= total && s.Claimed >= s.Used, "Used and Claimed");
            ulong len2;
            ulong code = s.AllocByteStr("b8 2a 00 00 00 c3", out len2);
            Check(len2 == 6 && Marshal.ReadByte(new IntPtr((long)code), 5) == 0xc3, "AllocByteStr");
            Check(s.Alloc(8, 64) % 64 == 0, "Alloc aligns");
            Fails(MallocatorStatus.InvalidAlignment, () => s.Alloc(8, 3), "alignment 3");
            s.Reset();
            Check(s.Used == 0, "Reset");
        }
        using (var ro = new SharedMallocator(1UL << 20, P.PAGE_READONLY))
        {
            Fails(MallocatorStatus.NotWritable, () => ro.AllocBytes(new byte[] { 1 }), "a read-only shared arena");
            ro.Free();
            Check(ro.IsFreed, "IsFreed");
            Throws<ObjectDisposedException>(() => ro.Alloc(1), "Alloc after Free");
        }
        Fails(MallocatorStatus.ZeroSize, () => new SharedMallocator(0, P.PAGE_READWRITE), "size 0");
    }
}
