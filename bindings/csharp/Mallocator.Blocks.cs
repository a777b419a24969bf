// vmallocator for .NET: a block that grows in place at the top of the arena, and nested
// scopes (checkpoints rewound on Dispose). Part of the Mallocator class of Mallocator.cs.
using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;

namespace Vmallocator
{
    public sealed partial class Mallocator
    {
        /// <summary>Opens a block at the top of the arena, aligned to <paramref name="align"/>
        /// (a power of two), that grows in place and is never copied: for code or data whose
        /// length is not known before it is written. Finish it to keep it; disposing it
        /// unfinished gives it back. While it is open, the calls that move the pointer
        /// (Alloc*, Reset*, Rewind) throw <see cref="MallocatorException"/> with
        /// <see cref="MallocatorStatus.TopBlockOpen"/>.</summary>
        public MallocatorTopBlock BeginBlock(uint align = 1)
        {
            Native.Check(Native.vma_top_begin(H, (UIntPtr)align));
            return new MallocatorTopBlock(this);
        }

        /// <summary>Copies every chunk of <paramref name="chunks"/> (any sequence, its length
        /// unknown) into one new block built in place; its address. On an error (or an
        /// exception from the sequence) nothing is kept.</summary>
        public ulong AllocChunks(IEnumerable<byte[]> chunks, out ulong length, uint align = 1)
        {
            if (chunks == null) throw new ArgumentNullException("chunks");
            using (var block = BeginBlock(align))
            {
                foreach (var chunk in chunks) block.Append(chunk);
                return block.Finish(out length);
            }
        }

        /// <summary>A scope: disposing it rewinds the arena to where it was when the scope
        /// began. Scopes nest (dispose the inner one first); blocks of outer levels stay usable
        /// inside inner ones; blocks made inside must not be used after the scope ends.</summary>
        public MallocatorScope Scope()
        {
            return new MallocatorScope(this, Checkpoint());
        }

        internal MallocatorHandle Handle
        {
            get { return H; }
        }
    }

    /// <summary>A block growing at the top of an arena, from <see cref="Mallocator.BeginBlock"/>.
    /// A failed append changes nothing. Used by one thread at a time, like its arena.</summary>
    public sealed class MallocatorTopBlock : IDisposable
    {
        private Mallocator arena;

        internal MallocatorTopBlock(Mallocator arena)
        {
            this.arena = arena;
        }

        private MallocatorHandle H
        {
            get
            {
                if (arena == null) throw new InvalidOperationException("the block is finished or abandoned");
                return arena.Handle;
            }
        }

        /// <summary>Whether the block is still open (neither finished nor abandoned).</summary>
        public bool IsOpen
        {
            get { return arena != null && !arena.IsFreed; }
        }

        /// <summary>Appends <paramref name="bytes"/>, growing the block in place.</summary>
        public void Append(byte[] bytes)
        {
            if (bytes == null) throw new ArgumentNullException("bytes");
            Native.Check(Native.vma_top_append(H, bytes, (UIntPtr)bytes.Length));
        }

        /// <summary>Appends one byte.</summary>
        public void Append(byte b)
        {
            Append(new[] { b });
        }

        /// <summary>Appends <paramref name="s"/> as UTF-8 (no terminator).</summary>
        public void AppendUtf8(string s)
        {
            if (s == null) throw new ArgumentNullException("s");
            Append(new System.Text.UTF8Encoding(false, true).GetBytes(s));
        }

        /// <summary>Grows the block by <paramref name="length"/> bytes; their address, to write
        /// there (with Marshal.Copy, say). Their pages are not checked for write access.</summary>
        public ulong Grow(ulong length)
        {
            IntPtr p;
            Native.Check(Native.vma_top_grow(H, (UIntPtr)length, out p));
            return (ulong)p.ToInt64();
        }

        /// <summary>The block's address: it does not change as the block grows.</summary>
        public ulong Address
        {
            get { IntPtr p; UIntPtr n; Native.Check(Native.vma_top_block(H, out p, out n)); return (ulong)p.ToInt64(); }
        }

        /// <summary>The block's length so far, in bytes.</summary>
        public ulong Length
        {
            get { IntPtr p; UIntPtr n; Native.Check(Native.vma_top_block(H, out p, out n)); return (ulong)n; }
        }

        /// <summary>Keeps the block, as if made by one allocation; its address.</summary>
        public ulong Finish(out ulong length)
        {
            IntPtr p;
            UIntPtr n;
            Native.Check(Native.vma_top_finish(H, out p, out n));
            arena = null;
            length = (ulong)n;
            return (ulong)p.ToInt64();
        }

        /// <summary>Gives the block back: the pointer returns to where it was before it began.</summary>
        public void Abandon()
        {
            Native.Check(Native.vma_top_abandon(H));
            arena = null;
        }

        /// <summary>Abandons the block if it is still open; otherwise does nothing.</summary>
        public void Dispose()
        {
            if (IsOpen) Abandon();
            arena = null;
        }
    }

    /// <summary>A level of nested scratch allocation: disposing it rewinds the arena to where
    /// it was when <see cref="Mallocator.Scope"/> made it.</summary>
    public sealed class MallocatorScope : IDisposable
    {
        private Mallocator arena;
        private readonly MallocatorCheckpoint start;

        internal MallocatorScope(Mallocator arena, MallocatorCheckpoint start)
        {
            this.arena = arena;
            this.start = start;
        }

        /// <summary>Rewinds the arena (once; nothing if it was freed meanwhile).</summary>
        public void Dispose()
        {
            if (arena != null && !arena.IsFreed) arena.Rewind(start);
            arena = null;
        }
    }

    internal static partial class Native
    {
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int vma_top_begin(MallocatorHandle m, UIntPtr align);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int vma_top_append(MallocatorHandle m, byte[] bytes, UIntPtr len);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int vma_top_grow(MallocatorHandle m, UIntPtr len, out IntPtr p);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int vma_top_block(MallocatorHandle m, out IntPtr p, out UIntPtr n);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int vma_top_finish(MallocatorHandle m, out IntPtr p, out UIntPtr n);
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)] internal static extern int vma_top_abandon(MallocatorHandle m);
    }
}
