// vmallocator for .NET: dual mapping (the same pages read+write at Base and read+execute at
// ExecBase) and patches written with one aligned atomic store. Part of the Mallocator class
// of Mallocator.cs.
using System;
using System.Runtime.InteropServices;

namespace Vmallocator
{
    public sealed partial class Mallocator
    {
        /// <summary>Whether the region is mapped twice (<see cref="MallocatorOptions.DualMapping"/>).</summary>
        public bool IsDualMapped
        {
            get
            {
                byte v;
                Native.Check(Native.vma_is_dual_mapped(H, out v));
                return v != 0;
            }
        }

        /// <summary>The first address of the executable view: <see cref="Base"/> unless
        /// dual-mapped. Never write through it.</summary>
        public ulong ExecBase
        {
            get
            {
                IntPtr p;
                Native.Check(Native.vma_exec_base(H, out p));
                return (ulong)p.ToInt64();
            }
        }

        /// <summary>Where the byte at <paramref name="address"/> (in [Base, Ptr]) runs: the same
        /// address unless dual-mapped, then the same byte in the executable view.</summary>
        public ulong ExecAddress(ulong address)
        {
            IntPtr p;
            Native.Check(Native.vma_exec_addr(H, new IntPtr((long)address), out p));
            return (ulong)p.ToInt64();
        }

        /// <summary>Writes <paramref name="value"/> at <paramref name="offset"/> (a multiple of 4,
        /// below the pointer) with one aligned atomic store: code running meanwhile sees the old
        /// or the new value, never a mix.</summary>
        public void PatchU32(ulong offset, uint value)
        {
            Native.Check(Native.vma_patch_u32(H, ToSize(offset), value));
        }

        /// <summary><see cref="PatchU32"/> for 8 bytes at a multiple of 8.</summary>
        public void PatchU64(ulong offset, ulong value)
        {
            Native.Check(Native.vma_patch_u64(H, ToSize(offset), value));
        }
    }

    internal static partial class Native
    {
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int vma_builder_dual_mapping(IntPtr b, [MarshalAs(UnmanagedType.I1)] bool dual);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int vma_is_dual_mapped(MallocatorHandle m, out byte dual);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int vma_exec_base(MallocatorHandle m, out IntPtr p);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int vma_exec_addr(MallocatorHandle m, IntPtr addr, out IntPtr p);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int vma_patch_u32(MallocatorHandle m, UIntPtr offset, uint value);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int vma_patch_u64(MallocatorHandle m, UIntPtr offset, ulong value);
    }
}
