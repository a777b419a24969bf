// Tests of the C# members for code by address.
using System;
using System.Runtime.InteropServices;
using Vmallocator;
using P = Vmallocator.VirtualAlloc.MemoryProtectionConstants;

static partial class Tests
{
    static void Code()
    {
        using (var m = new Mallocator(4 * Page, P.PAGE_READWRITE))
        {
            ulong data = m.AllocBytes(new byte[] { 1, 2, 3, 4 });
            ulong len;
            ulong code = m.AllocByteStr("b8 2a 00 00 00 c3", out len); // mov eax, 42; ret
            Fails(MallocatorStatus.NotExecutable, () => m.FunctionAddress(code, len), "not published yet");
            Fails(MallocatorStatus.NotInArena, () => m.PublishBlock(code, len + 1), "a block past the pointer");
            Fails(MallocatorStatus.NotInArena, () => m.FunctionAddress(code, 0), "an empty block");
            using (m.BeginBlock())
            {
                Fails(MallocatorStatus.TopBlockOpen, () => m.PublishBlock(code, len), "publish while a top block is open");
            }
            m.PublishBlock(code, len);
            Check(m.ProtectionOfBlock(code, len) == P.PAGE_EXECUTE_READ, "PublishBlock");
            Check(m.Used == Page && m.Protection == null, "sealed; the region is mixed");
            Check(m.FunctionAddress(code, len) == code, "FunctionAddress");
            if (X86_64)
            {
                var f = m.GetFunction<Answer>(code, len);
                Check(f() == 42, "GetFunction: the call returns 42");
                m.MakeWritableBlock(code, len);
                Fails(MallocatorStatus.NotExecutable, () => m.GetFunction<Answer>(code, len), "made writable again");
                Marshal.WriteByte(new IntPtr((long)code), 1, 7);
                m.PublishBlock(code, len);
                Check(f() == 7, "patched: the call returns 7");
            }
            m.ProtectBlock(data, 4, P.PAGE_READONLY);
            Check(m.ProtectionOfBlock(data, 1) == P.PAGE_READONLY, "ProtectBlock");
            using (var other = new Mallocator())
            {
                ulong elsewhere = other.Alloc(16);
                Fails(MallocatorStatus.NotInArena, () => m.MakeWritableBlock(elsewhere, 16), "another arena's block");
            }
        }
    }
}
