// vmallocator for .NET: strings for foreign callees (C strings, Windows wide strings).
// Part of the Mallocator class of Mallocator.cs.
using System;
using System.Runtime.InteropServices;

namespace Vmallocator
{
    public sealed partial class Mallocator
    {
        /// <summary>Copies <paramref name="bytes"/> (any bytes, no NUL) followed by a NUL: a
        /// C string; its address. A NUL inside throws <see cref="MallocatorException"/>
        /// (<see cref="MallocatorStatus.InteriorNul"/>, with its offset).</summary>
        public ulong AllocCStr(byte[] bytes)
        {
            if (bytes == null) throw new ArgumentNullException("bytes");
            IntPtr p;
            Native.Check(Native.vma_alloc_cstr(H, bytes, (UIntPtr)bytes.Length, out p));
            return (ulong)p.ToInt64();
        }

        /// <summary>Copies the UTF-16 units of <paramref name="s"/> as they are (unpaired
        /// surrogates kept) followed by a NUL unit: a wide string for Windows APIs (LPCWSTR);
        /// its address. <paramref name="units"/> is the length in units, the terminator
        /// included. A NUL inside throws, with its index in units as the offset.</summary>
        public ulong AllocUtf16Units(string s, out ulong units)
        {
            if (s == null) throw new ArgumentNullException("s");
            var raw = new ushort[s.Length];
            for (int i = 0; i < s.Length; i++) raw[i] = s[i];
            IntPtr p;
            UIntPtr n;
            Native.Check(Native.vma_alloc_utf16_units(H, raw, (UIntPtr)raw.Length, out p, out n));
            units = (ulong)n;
            return (ulong)p.ToInt64();
        }
    }

    internal static partial class Native
    {
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int vma_alloc_cstr(MallocatorHandle m, byte[] s, UIntPtr len, out IntPtr p);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int vma_alloc_utf16_units(MallocatorHandle m, ushort[] units, UIntPtr len, out IntPtr p, out UIntPtr n);
    }
}
