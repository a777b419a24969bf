// P/Invoke cost per Mallocator.Alloc under Mono, next to Marshal.AllocHGlobal (the managed
// way to get native memory). Usage: mono bench.exe [calls]. Prints nanoseconds per call;
// the best of five rounds of CPU time.
using System;
using System.Diagnostics;
using System.Runtime.InteropServices;
using Vmallocator;

static class Bench
{
    const int Batch = 1000;

    // Nanoseconds per call: the best of five rounds (after a warm-up round) of the
    // process's CPU time, which a loaded machine distorts less than wall time.
    static double Best(Func<int, long> round, int n)
    {
        double best = double.MaxValue;
        var process = Process.GetCurrentProcess();
        for (int r = 0; r < 6; r++)
        {
            process.Refresh();
            TimeSpan cpu0 = process.TotalProcessorTime;
            long sink = round(n);
            process.Refresh();
            TimeSpan cpu = process.TotalProcessorTime - cpu0;
            if (sink == 42) Console.Write("");
            if (r > 0) best = Math.Min(best, cpu.TotalMilliseconds * 1e6 / n);
        }
        return best;
    }

    static int Main(string[] args)
    {
        int n = args.Length > 0 ? int.Parse(args[0]) : 2000000;
        var m = new Mallocator(1UL << 20, VirtualAlloc.MemoryProtectionConstants.PAGE_READWRITE);
        double alloc = Best(count =>
        {
            long sink = 0;
            for (int i = 0; i < count; i += Batch)
            {
                for (int j = 0; j < Batch; j++) sink += (long)m.Alloc(8, 8);
                m.Reset();
            }
            return sink;
        }, n);
        var h = (SafeHandle)typeof(Mallocator).GetField("handle", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance).GetValue(m);
        IntPtr raw = h.DangerousGetHandle();
        double rawAlloc = Best(count =>
        {
            long sink = 0;
            IntPtr p;
            for (int i = 0; i < count; i += Batch)
            {
                for (int j = 0; j < Batch; j++) { Native.vma_alloc_raw(raw, (UIntPtr)8, (UIntPtr)8, out p); sink += (long)p; }
                m.Reset();
            }
            return sink;
        }, n);
        double reset = Best(count =>
        {
            for (int i = 0; i < count; i += Batch) m.Reset();
            return 0;
        }, n);
        var blocks = new IntPtr[Batch];
        double hglobal = Best(count =>
        {
            long sink = 0;
            for (int i = 0; i < count; i += Batch)
            {
                for (int j = 0; j < Batch; j++) blocks[j] = Marshal.AllocHGlobal(8);
                for (int j = 0; j < Batch; j++) Marshal.FreeHGlobal(blocks[j]);
                sink += (long)blocks[0];
            }
            return sink;
        }, n);
        m.Free();
        Console.WriteLine("C# bench ({0} calls, best of 5, CPU time): Mallocator.Alloc(8, 8) {1:F1} ns/call; " +
            "Marshal.AllocHGlobal(8) + FreeHGlobal {2:F1} ns/pair", n, alloc, hglobal);
        Console.WriteLine("raw P/Invoke of vma_alloc with an IntPtr handle: {0:F1} ns/call", rawAlloc);
        Console.WriteLine("(Reset per 1000 calls: {0:F2} ns/call, included above)", reset);
        return 0;
    }
}
