// Tests of the C# members for dual mapping.
using System;
using System.Runtime.InteropServices;
using Vmallocator;
using P = Vmallocator.VirtualAlloc.MemoryProtectionConstants;

static partial class Tests
{
    static void Dual()
    {
        using (var single = new Mallocator())
        {
            Check(!single.IsDualMapped && single.ExecBase == single.Base, "one mapping: one view");
        }
        Fails(MallocatorStatus.InvalidOptions,
            () => new Mallocator(new MallocatorOptions { DualMapping = true, Protect = P.PAGE_EXECUTE_READWRITE }),
            "dual mapping with an executable protection");
        Mallocator m;
        try
        {
            m = new Mallocator(new MallocatorOptions { Reserve = 1 << 20, DualMapping = true });
        }
        catch (MallocatorException e) when (e.Status == MallocatorStatus.Unsupported)
        {
            Console.WriteLine("skipped: dual mapping (Linux, Android and Windows only)");
            return;
        }
        using (m)
        {
            Check(m.IsDualMapped && m.ExecBase != m.Base, "two views");
            // nop (3 bytes); mov eax, imm32 (its immediate at offset 4); ret
            ulong code = m.AllocBytes(new byte[] { 0x0f, 0x1f, 0x00, 0xb8, 42, 0, 0, 0, 0xc3 });
            Check(m.ExecAddress(code + 4) == m.ExecBase + 4, "ExecAddress");
            Fails(MallocatorStatus.NotInArena, () => m.ExecAddress(code + 10), "ExecAddress past the pointer");
            m.PublishBlock(code, 9);
            Check(m.Used == 9 && m.Protection == P.PAGE_READWRITE, "no sealing, the writable view stays writable");
            Check(m.FunctionAddress(code, 9) == m.ExecBase, "FunctionAddress: the executable view");
            Fails(MallocatorStatus.InvalidAddress, () => m.PatchU32(2, 1), "PatchU32 misaligned");
            Fails(MallocatorStatus.NotInArena, () => m.PatchU32(8, 1), "PatchU32 past the pointer");
            Fails(MallocatorStatus.InvalidAddress, () => m.PatchU64(4, 1), "PatchU64 misaligned");
            m.PatchU32(4, 7);
            Check(Marshal.ReadInt32(new IntPtr((long)m.ExecBase + 4)) == 7, "the patch shows in the executable view");
            if (X86_64)
            {
                var f = m.GetFunction<Answer>(code, 9);
                Check(f() == 7, "the patched function returns 7");
                m.PatchU32(4, 43);
                Check(f() == 43, "patched again while callable");
            }
        }
    }
}
