// vmallocator for .NET: the thread-safe arena (the C ABI's vma_shared, Rust's SharedArena).
using System;
using System.Runtime.InteropServices;

namespace Vmallocator
{
    /// <summary>Owns a vma_shared*: its finalizer frees a forgotten arena, never throwing.</summary>
    internal sealed class SharedHandle : SafeHandle
    {
        public SharedHandle() : base(IntPtr.Zero, true) { }

        public override bool IsInvalid
        {
            get { return handle == IntPtr.Zero; }
        }

        protected override bool ReleaseHandle()
        {
            return Native.vma_shared_free(handle) == 0;
        }
    }

    /// <summary>A region that many threads allocate from at once: Alloc, AllocBytes,
    /// AllocByteStr and the figures are thread-safe (each thread claims a chunk of the region
    /// with one atomic operation and bumps inside it). Reset and Free need the arena alone:
    /// join the other threads first.</summary>
    public sealed class SharedMallocator : IDisposable
    {
        private readonly SharedHandle handle;

        /// <summary>1 GiB (64 MiB on 32-bit) of read+write address space, committed as used;
        /// threads claim 64 KiB at a time.</summary>
        public SharedMallocator()
        {
            SharedHandle h;
            Native.Check(Native.vma_shared_create(out h));
            handle = h;
        }

        /// <summary><paramref name="reserve"/> bytes of address space, committed as used;
        /// threads claim <paramref name="chunkSize"/> bytes at a time (0: 64 KiB).</summary>
        public SharedMallocator(ulong reserve, ulong chunkSize)
        {
            SharedHandle h;
            Native.Check(Native.vma_shared_create_reserve((UIntPtr)reserve, (UIntPtr)chunkSize, out h));
            handle = h;
        }

        /// <summary><paramref name="size"/> bytes committed at once, with <paramref name="protect"/>.</summary>
        public SharedMallocator(ulong size, VirtualAlloc.MemoryProtectionConstants protect)
        {
            SharedHandle h;
            Native.Check(Native.vma_shared_create_with_size((UIntPtr)size, Mallocator.ToVma(protect), out h));
            handle = h;
        }

        private SharedHandle H
        {
            get
            {
                if (handle.IsClosed) throw new ObjectDisposedException("SharedMallocator", "the arena has been freed");
                return handle;
            }
        }

        /// <summary>A block of <paramref name="size"/> bytes aligned to <paramref name="align"/>; its address. Thread-safe.</summary>
        public ulong Alloc(ulong size, ulong align = 1)
        {
            IntPtr p;
            Native.Check(Native.vma_shared_alloc(H, (UIntPtr)size, (UIntPtr)align, out p));
            return (ulong)p.ToInt64();
        }

        /// <summary>Copies <paramref name="bs"/> into a new block; its address. Thread-safe.</summary>
        public ulong AllocBytes(byte[] bs)
        {
            if (bs == null) throw new ArgumentNullException("bs");
            IntPtr p;
            Native.Check(Native.vma_shared_alloc_bytes(H, bs, (UIntPtr)bs.Length, out p));
            return (ulong)p.ToInt64();
        }

        /// <summary>Parses the hex byte string <paramref name="s"/> into a new block; its address. Thread-safe.</summary>
        public ulong AllocByteStr(string s, out ulong length)
        {
            if (s == null) throw new ArgumentNullException("s");
            byte[] utf8 = new System.Text.UTF8Encoding(false, true).GetBytes(s);
            IntPtr p;
            UIntPtr n;
            Native.Check(Native.vma_shared_alloc_hex(H, utf8, (UIntPtr)utf8.Length, out p, out n));
            length = (ulong)n;
            return (ulong)p.ToInt64();
        }

        /// <summary>Bytes handed out as blocks, over all threads.</summary>
        public ulong Used
        {
            get { UIntPtr n; Native.Check(Native.vma_shared_used(H, out n)); return (ulong)n; }
        }

        /// <summary>Bytes claimed by threads (chunks and large blocks).</summary>
        public ulong Claimed
        {
            get { UIntPtr n; Native.Check(Native.vma_shared_claimed(H, out n)); return (ulong)n; }
        }

        /// <summary>The size of the region in bytes.</summary>
        public ulong Size
        {
            get { UIntPtr n; Native.Check(Native.vma_shared_size(H, out n)); return (ulong)n; }
        }

        /// <summary>Bytes of the region backed by memory.</summary>
        public ulong Committed
        {
            get { UIntPtr n; Native.Check(Native.vma_shared_committed(H, out n)); return (ulong)n; }
        }

        /// <summary>Empties the arena (contents stay). No other thread may use it meanwhile.</summary>
        public void Reset()
        {
            Native.Check(Native.vma_shared_reset(H));
        }

        /// <summary>Releases the region. No other thread may use the arena meanwhile or after.
        /// Freeing twice does nothing; if the OS refuses, this throws.</summary>
        public void Free()
        {
            if (handle.IsClosed) return;
            bool added = false;
            int status;
            handle.DangerousAddRef(ref added);
            try
            {
                status = Native.vma_shared_free(handle.DangerousGetHandle());
            }
            finally
            {
                if (added) handle.DangerousRelease();
            }
            Native.Check(status);
            handle.SetHandleAsInvalid();
        }

        /// <summary>Same as <see cref="Free"/>.</summary>
        public void Dispose()
        {
            Free();
        }

        /// <summary>Whether <see cref="Free"/> has released the region.</summary>
        public bool IsFreed
        {
            get { return handle.IsClosed; }
        }
    }

    internal static partial class Native
    {
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int vma_shared_create(out SharedHandle s);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int vma_shared_create_reserve(UIntPtr reserve, UIntPtr chunk, out SharedHandle s);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int vma_shared_create_with_size(UIntPtr size, uint protection, out SharedHandle s);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int vma_shared_free(IntPtr s);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int vma_shared_alloc(SharedHandle s, UIntPtr size, UIntPtr align, out IntPtr p);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int vma_shared_alloc_bytes(SharedHandle s, byte[] bytes, UIntPtr len, out IntPtr p);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int vma_shared_alloc_hex(SharedHandle s, byte[] str, UIntPtr len, out IntPtr p, out UIntPtr n);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int vma_shared_used(SharedHandle s, out UIntPtr n);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int vma_shared_claimed(SharedHandle s, out UIntPtr n);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int vma_shared_size(SharedHandle s, out UIntPtr n);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int vma_shared_committed(SharedHandle s, out UIntPtr n);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int vma_shared_reset(SharedHandle s);
    }
}
