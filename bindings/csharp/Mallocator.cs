// vmallocator for .NET: a drop-in successor of the C# class Mallocator, over the C ABI of
// the Rust crate (libvmallocator_c.so / vmallocator_c.dll, built with
// `cargo build --release -p vmallocator-capi`). C# 7, .NET Framework 4.5+ / Mono / .NET.
//
// The original's surface is kept: Mallocator(), Mallocator(ulong size,
// MemoryProtectionConstants protect), Alloc, AllocStr, AllocBytes, AllocByteStr, Free, Base,
// Ptr, Size, VirtualAlloc.PageGranularity and VirtualAlloc.MemoryProtectionConstants.PAGE_*.
// Errors are exceptions (MallocatorException, or Argument* exceptions for arguments the
// class checks itself); a failed call leaves the arena exactly as it was. An instance is
// used by one thread at a time.
using System;
using System.Runtime.InteropServices;
using System.Text;

namespace Vmallocator
{
    /// <summary>The names the original took from Kernel32's VirtualAlloc.</summary>
    public static class VirtualAlloc
    {
        /// <summary>Windows page protection constants (PAGE_*), the original's protection type.
        /// Those with a vmallocator equivalent are accepted: NOACCESS, READONLY, READWRITE,
        /// EXECUTE, EXECUTE_READ, EXECUTE_READWRITE.</summary>
        [Flags]
        public enum MemoryProtectionConstants : uint
        {
            PAGE_NOACCESS = 0x01,
            PAGE_READONLY = 0x02,
            PAGE_READWRITE = 0x04,
            PAGE_WRITECOPY = 0x08,
            PAGE_EXECUTE = 0x10,
            PAGE_EXECUTE_READ = 0x20,
            PAGE_EXECUTE_READWRITE = 0x40,
            PAGE_EXECUTE_WRITECOPY = 0x80,
            PAGE_GUARD = 0x100,
            PAGE_NOCACHE = 0x200,
            PAGE_WRITECOMBINE = 0x400,
        }

        /// <summary>The granularity at which regions are placed: 64 KiB on Windows, a page
        /// elsewhere. The size of <c>new Mallocator()</c>.</summary>
        public static ulong PageGranularity
        {
            get { return (ulong)Native.vma_granularity(); }
        }

        /// <summary>The size of a virtual-memory page in bytes.</summary>
        public static ulong PageSize
        {
            get { return (ulong)Native.vma_page_size(); }
        }
    }

    /// <summary>The C ABI's status codes (vma_status).</summary>
    public enum MallocatorStatus
    {
        Ok = 0,
        NullPointer = 1,
        InvalidArgument = 2,
        InvalidUtf8 = 3,
        InvalidHandle = 4,
        Panic = 5,
        ZeroSize = 10,
        SizeOverflow = 11,
        InvalidOptions = 12,
        InvalidCheckpoint = 13,
        InvalidAlignment = 14,
        OutOfMemory = 15,
        NotWritable = 16,
        NotReadable = 17,
        InteriorNul = 18,
        Hex = 19,
        Os = 20,
        OutOfRange = 21,
        InvalidAddress = 22,
        AddressInUse = 23,
        NoFreeSpaceNear = 24,
        Unsupported = 25,
        TopBlockOpen = 26,
        NoTopBlock = 27,
        NotInArena = 28,
        NotExecutable = 29,
        GuardPagesOverflow = 30,
        ForeignBlock = 31,
        Other = 99,
    }

    /// <summary>A call into the arena failed. The message is the library's; the facts are in
    /// the properties.</summary>
    public class MallocatorException : Exception
    {
        public MallocatorException(MallocatorStatus status, string message, long offset, int osCode)
            : base(message)
        {
            Status = status;
            Offset = offset;
            OsCode = osCode;
        }

        /// <summary>What failed.</summary>
        public MallocatorStatus Status { get; private set; }

        /// <summary>The byte offset in the input (UTF-8 bytes) of a bad hex digit, an interior
        /// NUL or invalid UTF-8; -1 for other errors.</summary>
        public long Offset { get; private set; }

        /// <summary>The OS error code for <see cref="MallocatorStatus.Os"/>; 0 otherwise.</summary>
        public int OsCode { get; private set; }
    }

    /// <summary>Huge pages for a region.</summary>
    public enum HugePages : uint
    {
        Off = 0,
        Transparent = 1,
        Explicit = 2,
    }

    /// <summary>The options of a region beyond size and protection.</summary>
    public sealed class MallocatorOptions
    {
        /// <summary>Bytes to commit up front (without Reserve: the size of the region).</summary>
        public ulong? Size { get; set; }
        /// <summary>Address space to reserve (the hard cap); memory is committed lazily.</summary>
        public ulong? Reserve { get; set; }
        /// <summary>How much to commit at a time in a reservation (default 1 MiB).</summary>
        public ulong? CommitStep { get; set; }
        /// <summary>The protection of the pages (default PAGE_READWRITE).</summary>
        public VirtualAlloc.MemoryProtectionConstants? Protect { get; set; }
        /// <summary>Huge pages (default off).</summary>
        public HugePages? HugePages { get; set; }
        /// <summary>Inaccessible pages below the region.</summary>
        public ulong GuardPagesBefore { get; set; }
        /// <summary>Inaccessible pages above the region.</summary>
        public ulong GuardPagesAfter { get; set; }
        /// <summary>An exact, page-aligned address; never replaces a mapping.</summary>
        public ulong? At { get; set; }
        /// <summary>An address the whole region must lie within <see cref="NearDistance"/> of.</summary>
        public ulong? Near { get; set; }
        /// <summary>The distance for <see cref="Near"/> (2 GiB for x86_64 rel32 jumps).</summary>
        public ulong NearDistance { get; set; }
        /// <summary>Map the pages twice: read+write at <see cref="Mallocator.Base"/>, read+execute
        /// at <see cref="Mallocator.ExecBase"/> (Linux, Android and Windows; Unsupported elsewhere).
        /// Near and At place the executable view.</summary>
        public bool DualMapping { get; set; }
    }

    /// <summary>A saved bump pointer; see <see cref="Mallocator.Rewind"/>.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct MallocatorCheckpoint
    {
        private ulong a, b, c, d;

        /// <summary>Bytes in use when the checkpoint was taken.</summary>
        public ulong Used
        {
            get
            {
                UIntPtr n;
                Native.Check(Native.vma_checkpoint_used(ref this, out n));
                return (ulong)n;
            }
        }
    }

    /// <summary>Owns a vma_mallocator*: its finalizer frees a forgotten arena, never throwing.</summary>
    internal sealed class MallocatorHandle : SafeHandle
    {
        public MallocatorHandle() : base(IntPtr.Zero, true) { }

        public override bool IsInvalid
        {
            get { return handle == IntPtr.Zero; }
        }

        protected override bool ReleaseHandle()
        {
            // A refusal leaks the region; a finalizer must not throw.
            return Native.vma_free(handle) == 0;
        }
    }

    /// <summary>One region of virtual memory at a fixed address, handing out blocks with an
    /// upward, bounds-checked bump pointer. Addresses are ulong, as in the original.</summary>
    public sealed partial class Mallocator : IDisposable
    {
        private static readonly UTF8Encoding Utf8 = new UTF8Encoding(false, true);
        private readonly MallocatorHandle handle;

        /// <summary>One granule (<see cref="VirtualAlloc.PageGranularity"/>) of read+write memory.</summary>
        public Mallocator()
        {
            MallocatorHandle h;
            Native.Check(Native.vma_create(out h));
            handle = h;
        }

        /// <summary><paramref name="size"/> bytes (rounded up to pages) with <paramref name="protect"/>.</summary>
        public Mallocator(ulong size, VirtualAlloc.MemoryProtectionConstants protect)
        {
            MallocatorHandle h;
            Native.Check(Native.vma_create_with_size(ToSize(size), ToVma(protect), out h));
            handle = h;
        }

        /// <summary>A region with the builder's options.</summary>
        public Mallocator(MallocatorOptions options)
        {
            if (options == null) throw new ArgumentNullException("options");
            IntPtr b = Native.vma_builder_new();
            try
            {
                if (options.Size.HasValue) Native.Check(Native.vma_builder_size(b, ToSize(options.Size.Value)));
                if (options.Reserve.HasValue) Native.Check(Native.vma_builder_reserve(b, ToSize(options.Reserve.Value)));
                if (options.CommitStep.HasValue) Native.Check(Native.vma_builder_commit_step(b, ToSize(options.CommitStep.Value)));
                if (options.Protect.HasValue) Native.Check(Native.vma_builder_protection(b, ToVma(options.Protect.Value)));
                if (options.HugePages.HasValue) Native.Check(Native.vma_builder_huge_pages(b, (uint)options.HugePages.Value));
                if (options.GuardPagesBefore != 0 || options.GuardPagesAfter != 0)
                    Native.Check(Native.vma_builder_guard_pages(b, ToSize(options.GuardPagesBefore), ToSize(options.GuardPagesAfter)));
                if (options.At.HasValue) Native.Check(Native.vma_builder_at(b, ToSize(options.At.Value)));
                if (options.Near.HasValue) Native.Check(Native.vma_builder_near(b, ToSize(options.Near.Value), ToSize(options.NearDistance)));
                if (options.DualMapping) Native.Check(Native.vma_builder_dual_mapping(b, true));
                MallocatorHandle h;
                Native.Check(Native.vma_builder_build(b, out h));
                handle = h;
            }
            finally
            {
                Native.vma_builder_free(b);
            }
        }

        private MallocatorHandle H
        {
            get
            {
                if (handle.IsClosed) throw new ObjectDisposedException("Mallocator", "the arena has been freed");
                return handle;
            }
        }

        // ------------------------------------------------------------ the original's members

        /// <summary>A block of <paramref name="size"/> bytes aligned to <paramref name="align"/>
        /// (a power of two); its address.</summary>
        public ulong Alloc(uint size, uint align = 1)
        {
            // The hot path passes the raw handle rather than the SafeHandle (whose marshalling
            // adds a reference count round trip per call); KeepAlive keeps the finalizer from
            // freeing it during the call. Free on another thread meanwhile is excluded by the
            // class's one-thread-at-a-time rule, as for every member.
            IntPtr p;
            int status = Native.vma_alloc_raw(H.DangerousGetHandle(), (UIntPtr)size, (UIntPtr)align, out p);
            GC.KeepAlive(this);
            Native.Check(status);
            return (ulong)p.ToInt64();
        }

        /// <summary>Copies <paramref name="s"/> with a NUL terminator as UTF-8
        /// (<paramref name="width"/> 1), UTF-16 (2) or UTF-32 (4), losslessly; its address.</summary>
        /// <exception cref="ArgumentOutOfRangeException">width is not 1, 2 or 4.</exception>
        /// <exception cref="ArgumentException">s holds an unpaired surrogate.</exception>
        public ulong AllocStr(string s, int width = 1)
        {
            if (s == null) throw new ArgumentNullException("s");
            if (width != 1 && width != 2 && width != 4)
                throw new ArgumentOutOfRangeException("width", width, "width must be 1 (UTF-8), 2 (UTF-16) or 4 (UTF-32) bytes");
            byte[] utf8 = ToUtf8(s, "s");
            IntPtr p;
            UIntPtr n;
            Native.Check(Native.vma_alloc_str(H, utf8, (UIntPtr)utf8.Length, (uint)width, out p, out n));
            return (ulong)p.ToInt64();
        }

        /// <summary>Copies <paramref name="bs"/> into a new block; its address.</summary>
        public ulong AllocBytes(byte[] bs)
        {
            if (bs == null) throw new ArgumentNullException("bs");
            IntPtr p;
            Native.Check(Native.vma_alloc_bytes(H, bs, (UIntPtr)bs.Length, out p));
            return (ulong)p.ToInt64();
        }

        /// <summary>Parses the hex byte string <paramref name="s"/> ("00 ab f9 0x42", C escapes,
        /// comments from ';', '#', '//') into a new block; its address. A bad string throws a
        /// <see cref="MallocatorException"/> with the byte offset, and allocates nothing.</summary>
        public ulong AllocByteStr(string s)
        {
            ulong length;
            return AllocByteStr(s, out length);
        }

        /// <summary><see cref="AllocByteStr(string)"/>, also giving the number of bytes.</summary>
        public ulong AllocByteStr(string s, out ulong length)
        {
            if (s == null) throw new ArgumentNullException("s");
            byte[] utf8 = ToUtf8(s, "s");
            IntPtr p;
            UIntPtr n;
            Native.Check(Native.vma_alloc_hex(H, utf8, (UIntPtr)utf8.Length, out p, out n));
            length = (ulong)n;
            return (ulong)p.ToInt64();
        }

        /// <summary>Releases the region to the OS. Freeing twice does nothing. If the OS refuses,
        /// throws <see cref="MallocatorException"/> and the arena stays usable (Free may be
        /// retried; otherwise the finalizer tries once more, silently).</summary>
        public void Free()
        {
            if (handle.IsClosed) return;
            bool added = false;
            int status;
            handle.DangerousAddRef(ref added);
            try
            {
                status = Native.vma_free(handle.DangerousGetHandle());
            }
            finally
            {
                if (added) handle.DangerousRelease();
            }
            Native.Check(status);
            handle.SetHandleAsInvalid(); // freed: the finalizer has nothing left to do
        }

        /// <summary>The first address of the region.</summary>
        public ulong Base
        {
            get { IntPtr p; Native.Check(Native.vma_base(H, out p)); return (ulong)p.ToInt64(); }
        }

        /// <summary>The address of the next free byte.</summary>
        public ulong Ptr
        {
            get { IntPtr p; Native.Check(Native.vma_ptr(H, out p)); return (ulong)p.ToInt64(); }
        }

        /// <summary>The size of the region in bytes.</summary>
        public ulong Size
        {
            get { UIntPtr n; Native.Check(Native.vma_size(H, out n)); return (ulong)n; }
        }

        // ------------------------------------------------------------ beyond the original

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

        /// <summary>Bytes handed out so far.</summary>
        public ulong Used
        {
            get { UIntPtr n; Native.Check(Native.vma_used(H, out n)); return (ulong)n; }
        }

        /// <summary>Bytes left between the pointer and the end.</summary>
        public ulong Remaining
        {
            get { UIntPtr n; Native.Check(Native.vma_remaining(H, out n)); return (ulong)n; }
        }

        /// <summary>Bytes of the region backed by memory.</summary>
        public ulong Committed
        {
            get { UIntPtr n; Native.Check(Native.vma_committed(H, out n)); return (ulong)n; }
        }

        /// <summary>Bytes of address space the region holds.</summary>
        public ulong Reserved
        {
            get { UIntPtr n; Native.Check(Native.vma_reserved(H, out n)); return (ulong)n; }
        }

        /// <summary>The most bytes ever in use at once.</summary>
        public ulong HighWaterMark
        {
            get { UIntPtr n; Native.Check(Native.vma_high_water_mark(H, out n)); return (ulong)n; }
        }

        /// <summary>The huge pages in effect.</summary>
        public HugePages HugePages
        {
            get { uint v; Native.Check(Native.vma_huge_pages(H, out v)); return (HugePages)v; }
        }

        /// <summary>The protection of every page of the region, or null when pages differ;
        /// setting it changes every page.</summary>
        public VirtualAlloc.MemoryProtectionConstants? Protection
        {
            get { uint v; Native.Check(Native.vma_protection(H, out v)); return v == Native.VMA_PROT_MIXED ? (VirtualAlloc.MemoryProtectionConstants?)null : FromVma(v); }
            set
            {
                if (!value.HasValue) throw new ArgumentNullException("value");
                Native.Check(Native.vma_set_protection(H, ToVma(value.Value)));
            }
        }

        /// <summary>Sets the protection of the pages [offset, offset + length) touches (offsets from Base).</summary>
        public void Protect(ulong offset, ulong length, VirtualAlloc.MemoryProtectionConstants protect)
        {
            Native.Check(Native.vma_protect(H, ToSize(offset), ToSize(length), ToVma(protect)));
        }

        /// <summary>Makes the code in [offset, offset + length) read+execute, instruction cache coherent.</summary>
        public void Publish(ulong offset, ulong length)
        {
            Native.Check(Native.vma_publish(H, ToSize(offset), ToSize(length)));
        }

        /// <summary>Makes [offset, offset + length) read+write again, to patch published code.</summary>
        public void MakeWritable(ulong offset, ulong length)
        {
            Native.Check(Native.vma_make_writable(H, ToSize(offset), ToSize(length)));
        }

        /// <summary>The protection of the page holding the byte at <paramref name="offset"/>.</summary>
        public VirtualAlloc.MemoryProtectionConstants ProtectionAt(ulong offset)
        {
            uint v;
            Native.Check(Native.vma_protection_at(H, ToSize(offset), out v));
            return FromVma(v);
        }

        /// <summary>The protection of the pages a range touches; null when they differ.</summary>
        public VirtualAlloc.MemoryProtectionConstants? ProtectionOf(ulong offset, ulong length)
        {
            uint v;
            Native.Check(Native.vma_protection_of(H, ToSize(offset), ToSize(length), out v));
            if (v == Native.VMA_PROT_MIXED) return null;
            return FromVma(v);
        }

        /// <summary>Moves the pointer back to Base; contents stay.</summary>
        public void Reset() { Native.Check(Native.vma_reset(H)); }

        /// <summary>Reset, and every byte reads zero.</summary>
        public void ResetZeroed() { Native.Check(Native.vma_reset_zeroed(H)); }

        /// <summary>Reset, and the memory goes back to the OS.</summary>
        public void ResetDecommit() { Native.Check(Native.vma_reset_decommit(H)); }

        /// <summary>Returns the committed memory above the pointer to the OS.</summary>
        public void Trim() { Native.Check(Native.vma_trim(H)); }

        /// <summary>The current pointer, to <see cref="Rewind"/> to later.</summary>
        public MallocatorCheckpoint Checkpoint()
        {
            MallocatorCheckpoint cp;
            Native.Check(Native.vma_checkpoint(H, out cp));
            return cp;
        }

        /// <summary>Moves the pointer back to <paramref name="checkpoint"/>; contents stay.</summary>
        public void Rewind(MallocatorCheckpoint checkpoint)
        {
            Native.Check(Native.vma_rewind(H, ref checkpoint));
        }

        public override string ToString()
        {
            if (IsFreed) return "Mallocator (freed)";
            return string.Format("Mallocator {{ Base = 0x{0:x}, Ptr = 0x{1:x}, Size = {2}, Used = {3} }}", Base, Ptr, Size, Used);
        }

        // ------------------------------------------------------------ conversions

        private static UIntPtr ToSize(ulong v)
        {
            if (UIntPtr.Size == 4 && v > uint.MaxValue) throw new ArgumentOutOfRangeException("size", v, "larger than the address space");
            return (UIntPtr)v;
        }

        private static byte[] ToUtf8(string s, string name)
        {
            try
            {
                return Utf8.GetBytes(s);
            }
            catch (EncoderFallbackException e)
            {
                throw new ArgumentException("the string holds an unpaired surrogate: " + e.Message, name, e);
            }
        }

        internal static uint ToVma(VirtualAlloc.MemoryProtectionConstants p)
        {
            switch (p)
            {
                case VirtualAlloc.MemoryProtectionConstants.PAGE_NOACCESS: return 0;
                case VirtualAlloc.MemoryProtectionConstants.PAGE_READONLY: return 1;
                case VirtualAlloc.MemoryProtectionConstants.PAGE_READWRITE: return 3;
                case VirtualAlloc.MemoryProtectionConstants.PAGE_EXECUTE: return 4;
                case VirtualAlloc.MemoryProtectionConstants.PAGE_EXECUTE_READ: return 5;
                case VirtualAlloc.MemoryProtectionConstants.PAGE_EXECUTE_READWRITE: return 7;
                default:
                    throw new ArgumentOutOfRangeException("protect", p,
                        "supported: PAGE_NOACCESS, PAGE_READONLY, PAGE_READWRITE, PAGE_EXECUTE, PAGE_EXECUTE_READ, PAGE_EXECUTE_READWRITE");
            }
        }

        internal static VirtualAlloc.MemoryProtectionConstants FromVma(uint v)
        {
            switch (v)
            {
                case 0: return VirtualAlloc.MemoryProtectionConstants.PAGE_NOACCESS;
                case 1: return VirtualAlloc.MemoryProtectionConstants.PAGE_READONLY;
                case 3: return VirtualAlloc.MemoryProtectionConstants.PAGE_READWRITE;
                case 4: return VirtualAlloc.MemoryProtectionConstants.PAGE_EXECUTE;
                case 5: return VirtualAlloc.MemoryProtectionConstants.PAGE_EXECUTE_READ;
                default: return VirtualAlloc.MemoryProtectionConstants.PAGE_EXECUTE_READWRITE;
            }
        }
    }

    /// <summary>The C ABI (vmallocator.h).</summary>
    internal static partial class Native
    {
        private const string Lib = "vmallocator_c";
        internal const uint VMA_PROT_MIXED = 0x100;

        internal static void Check(int status)
        {
            if (status != 0) Throw(status);
        }

        private static void Throw(int status)
        {
            // The message is UTF-8, valid until the next failing call on this thread.
            IntPtr message8 = vma_last_error_message();
            int len = 0;
            while (Marshal.ReadByte(message8, len) != 0) len++;
            byte[] bytes = new byte[len];
            Marshal.Copy(message8, bytes, 0, len);
            string message = Encoding.UTF8.GetString(bytes);
            ulong offset = (ulong)vma_last_error_offset();
            ulong sizeMax = UIntPtr.Size == 8 ? ulong.MaxValue : uint.MaxValue;
            long off = offset == sizeMax ? -1 : (long)offset;
            throw new MallocatorException((MallocatorStatus)status, message, off, vma_last_error_os_code());
        }

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int vma_create(out MallocatorHandle m);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int vma_create_with_size(UIntPtr size, uint protection, out MallocatorHandle m);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int vma_free(IntPtr m);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl, EntryPoint = "vma_alloc")] internal static extern int vma_alloc_raw(IntPtr m, UIntPtr size, UIntPtr align, out IntPtr p);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int vma_alloc_bytes(MallocatorHandle m, byte[] bytes, UIntPtr len, out IntPtr p);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int vma_alloc_str(MallocatorHandle m, byte[] s, UIntPtr len, uint width, out IntPtr p, out UIntPtr n);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int vma_alloc_hex(MallocatorHandle m, byte[] s, UIntPtr len, out IntPtr p, out UIntPtr n);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int vma_base(MallocatorHandle m, out IntPtr p);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int vma_ptr(MallocatorHandle m, out IntPtr p);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int vma_size(MallocatorHandle m, out UIntPtr n);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int vma_used(MallocatorHandle m, out UIntPtr n);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int vma_remaining(MallocatorHandle m, out UIntPtr n);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int vma_committed(MallocatorHandle m, out UIntPtr n);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int vma_reserved(MallocatorHandle m, out UIntPtr n);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int vma_high_water_mark(MallocatorHandle m, out UIntPtr n);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int vma_protection(MallocatorHandle m, out uint p);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int vma_huge_pages(MallocatorHandle m, out uint p);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int vma_set_protection(MallocatorHandle m, uint p);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int vma_protect(MallocatorHandle m, UIntPtr offset, UIntPtr len, uint p);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int vma_publish(MallocatorHandle m, UIntPtr offset, UIntPtr len);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int vma_make_writable(MallocatorHandle m, UIntPtr offset, UIntPtr len);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int vma_protection_at(MallocatorHandle m, UIntPtr offset, out uint p);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int vma_protection_of(MallocatorHandle m, UIntPtr offset, UIntPtr len, out uint p);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int vma_reset(MallocatorHandle m);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int vma_reset_zeroed(MallocatorHandle m);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int vma_reset_decommit(MallocatorHandle m);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int vma_trim(MallocatorHandle m);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int vma_checkpoint(MallocatorHandle m, out MallocatorCheckpoint cp);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int vma_rewind(MallocatorHandle m, ref MallocatorCheckpoint cp);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int vma_checkpoint_used(ref MallocatorCheckpoint cp, out UIntPtr n);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern IntPtr vma_builder_new();
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern void vma_builder_free(IntPtr b);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int vma_builder_size(IntPtr b, UIntPtr v);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int vma_builder_reserve(IntPtr b, UIntPtr v);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int vma_builder_commit_step(IntPtr b, UIntPtr v);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int vma_builder_protection(IntPtr b, uint v);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int vma_builder_huge_pages(IntPtr b, uint v);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int vma_builder_guard_pages(IntPtr b, UIntPtr before, UIntPtr after);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int vma_builder_at(IntPtr b, UIntPtr addr);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int vma_builder_near(IntPtr b, UIntPtr addr, UIntPtr distance);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int vma_builder_build(IntPtr b, out MallocatorHandle m);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern IntPtr vma_last_error_message();
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern UIntPtr vma_last_error_offset();
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int vma_last_error_os_code();
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern UIntPtr vma_page_size();
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern UIntPtr vma_granularity();
    }
}
