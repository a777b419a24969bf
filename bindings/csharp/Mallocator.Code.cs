// vmallocator for .NET: code by address (blocks this arena handed out), and the checked
// lookup of published functions. Part of the Mallocator class of Mallocator.cs.
using System;
using System.Runtime.InteropServices;

namespace Vmallocator
{
    public sealed partial class Mallocator
    {
        /// <summary>Sets the protection of the pages the block [address, address + length)
        /// touches; the block must lie in what this arena handed out
        /// (<see cref="MallocatorStatus.NotInArena"/> otherwise).</summary>
        public void ProtectBlock(ulong address, ulong length, VirtualAlloc.MemoryProtectionConstants protect)
        {
            Native.Check(Native.vma_protect_addr(H, new IntPtr((long)address), ToSize(length), ToVma(protect)));
        }

        /// <summary>Publishes the code in the block: read+execute, instruction cache coherent,
        /// and sealed (the next block starts on a fresh page).</summary>
        public void PublishBlock(ulong address, ulong length)
        {
            Native.Check(Native.vma_publish_addr(H, new IntPtr((long)address), ToSize(length)));
        }

        /// <summary>Makes the block's pages read+write again, to patch it (then publish again).</summary>
        public void MakeWritableBlock(ulong address, ulong length)
        {
            Native.Check(Native.vma_make_writable_addr(H, new IntPtr((long)address), ToSize(length)));
        }

        /// <summary>The protection of the pages the block touches; null when they differ.</summary>
        public VirtualAlloc.MemoryProtectionConstants? ProtectionOfBlock(ulong address, ulong length)
        {
            uint v;
            Native.Check(Native.vma_protection_of_addr(H, new IntPtr((long)address), ToSize(length), out v));
            if (v == Native.VMA_PROT_MIXED) return null;
            return FromVma(v);
        }

        /// <summary>The address of the published function in the block, checked: the block
        /// lies in this arena, is not empty, and every page of it is executable
        /// (<see cref="MallocatorStatus.NotExecutable"/> otherwise).</summary>
        public ulong FunctionAddress(ulong address, ulong length)
        {
            IntPtr f;
            Native.Check(Native.vma_function(H, new IntPtr((long)address), ToSize(length), out f));
            return (ulong)f.ToInt64();
        }

        /// <summary>A delegate of type <typeparamref name="T"/> for the published function in
        /// the block, after the checks of <see cref="FunctionAddress"/>. That the code fits the
        /// delegate's signature, and that the arena outlives every call, is yours to
        /// ensure.</summary>
        public T GetFunction<T>(ulong address, ulong length) where T : class
        {
            var f = new IntPtr((long)FunctionAddress(address, length));
            return (T)(object)Marshal.GetDelegateForFunctionPointer(f, typeof(T));
        }
    }

    internal static partial class Native
    {
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int vma_protect_addr(MallocatorHandle m, IntPtr addr, UIntPtr len, uint p);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int vma_publish_addr(MallocatorHandle m, IntPtr addr, UIntPtr len);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int vma_make_writable_addr(MallocatorHandle m, IntPtr addr, UIntPtr len);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int vma_protection_of_addr(MallocatorHandle m, IntPtr addr, UIntPtr len, out uint p);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int vma_function(MallocatorHandle m, IntPtr addr, UIntPtr len, out IntPtr f);
    }
}
