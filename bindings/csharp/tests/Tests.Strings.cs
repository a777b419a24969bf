// Tests of the C# members for strings passed to foreign callees.
using System;
using System.Runtime.InteropServices;
using Vmallocator;

static partial class Tests
{
    static void Strings()
    {
        using (var m = new Mallocator())
        {
            ulong c = m.AllocCStr(new byte[] { 0x68, 0x69, 0xff });
            Check(Marshal.ReadByte(new IntPtr((long)c), 2) == 0xff && Marshal.ReadByte(new IntPtr((long)c), 3) == 0, "AllocCStr: any bytes, then NUL");
            ulong used = m.Used;
            var e = Fails(MallocatorStatus.InteriorNul, () => m.AllocCStr(new byte[] { 1, 0, 2 }), "AllocCStr with a NUL");
            if (e != null) Check(e.Offset == 1, "the NUL's offset");
            ulong units;
            ulong w = m.AllocUtf16Units("h\U0001D11E\uDC00", out units);
            Check(units == 5 && w % 2 == 0, "AllocUtf16Units: units with the terminator");
            Check(Marshal.PtrToStringUni(new IntPtr((long)w)) == "h\U0001D11E\uDC00", "the units as they are, a lone surrogate kept");
            e = Fails(MallocatorStatus.InteriorNul, () => m.AllocUtf16Units("ab\0c", out units), "AllocUtf16Units with a NUL");
            if (e != null) Check(e.Offset == 2, "the NUL's index in units");
            Check(m.Used == used + 10, "the failures allocated nothing");
            Throws<ArgumentNullException>(() => m.AllocCStr(null), "AllocCStr(null)");
        }
    }
}
