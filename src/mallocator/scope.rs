//! Nested scopes: a [`Scope`] hands out blocks that live as long as the scope, and
//! [`Scope::scope`] opens an inner one that is rewound when its closure returns.
//!
//! The borrow checker proves the rewind sound. A `Scope<'a>` is the only way into its
//! arena while it lives (it is made from `&'a mut Mallocator` and is neither `Clone` nor
//! `Copy`), and its blocks are `&'a mut`, not tied to the borrow of the handle, so they stay
//! usable inside inner scopes. Opening an inner scope borrows the outer handle mutably, so
//! nothing is allocated through it meanwhile: every block above the inner scope's start
//! comes from the inner handle, whose lifetime is a fresh one of the closure that the
//! result cannot name. When the closure returns those blocks are dead, and the pointer goes
//! back down through [`Mallocator::lower_to_unchecked`], the one lowering primitive.

use core::alloc::Layout;
use core::marker::PhantomData;
use core::ops::Deref;
use core::ptr::NonNull;

use super::Mallocator;
use crate::{CharWidth, Error};

/// A level of nested scratch allocation over a [`Mallocator`]: blocks made through it live
/// as long as the scope (`'a`), inner scopes opened with [`scope`](Self::scope) are rewound
/// when their closure returns, and blocks of outer levels stay usable inside inner ones.
///
/// Get one with [`Mallocator::as_scope`] (the arena stays borrowed while the scope lives)
/// or inside [`Mallocator::scope`]. It dereferences to the arena for statistics
/// ([`used`](Mallocator::used), [`remaining`](Mallocator::remaining), …).
///
/// ```
/// use vmallocator::{CharWidth, Mallocator};
///
/// let mut m = Mallocator::new()?;
/// let mut s = m.as_scope();
/// let header = s.alloc_bytes(b"header")?;
/// let used = s.used();
/// let total = s.scope(|inner| -> Result<usize, vmallocator::Error> {
///     let name = inner.alloc_str("scratch", CharWidth::U8)?;
///     let deeper = inner.scope(|t| t.alloc_bytes(&[1; 100]).map(|b| b.len()))?;
///     header[0] = b'H'; // blocks of outer levels stay usable inside
///     Ok(header.len() + name.len() + deeper)
/// })?;
/// assert_eq!(total, 6 + 8 + 100);
/// assert_eq!(s.used(), used); // everything made inside is rewound
/// assert_eq!(header, b"Header");
/// # Ok::<(), vmallocator::Error>(())
/// ```
///
/// A block made inside cannot leave its scope, neither as the result nor through a
/// variable of an outer level:
///
/// ```compile_fail,E0521
/// let mut m = vmallocator::Mallocator::new()?;
/// let mut s = m.as_scope();
/// let mut kept = Vec::new();
/// s.scope(|inner| kept.push(inner.alloc_bytes(b"temporary").unwrap()));
/// kept[0][0] = 0; // error: the block escapes the inner scope
/// # Ok::<(), vmallocator::Error>(())
/// ```
///
/// The outer level cannot allocate while an inner one is open (the rewind would take its
/// block back too):
///
/// ```compile_fail,E0502
/// let mut m = vmallocator::Mallocator::new()?;
/// let mut s = m.as_scope();
/// s.scope(|_inner| {
///     let _ = s.alloc_bytes(b"outer"); // error: `s` is borrowed by the inner scope
/// });
/// # Ok::<(), vmallocator::Error>(())
/// ```
///
/// And no block of a scope outlives the arena's next reset:
///
/// ```compile_fail,E0499
/// let mut m = vmallocator::Mallocator::new()?;
/// let s = m.as_scope();
/// let block = s.alloc_bytes(b"x")?;
/// m.reset(); // error: `m` is still borrowed by the scope's block
/// block[0] = 1;
/// # Ok::<(), vmallocator::Error>(())
/// ```
pub struct Scope<'a> {
    pub(super) arena: &'a Mallocator,
    /// Invariant in `'a`: a handle of one level cannot pass for another's.
    _level: PhantomData<fn(&'a ()) -> &'a ()>,
}

impl Mallocator {
    /// The arena as the outermost [`Scope`]: blocks made through it live as long as the
    /// scope, and inner scopes opened from it can use them. The arena is borrowed until the
    /// scope and its blocks are dead.
    ///
    /// ```
    /// let mut m = vmallocator::Mallocator::new()?;
    /// let s = m.as_scope();
    /// let a = s.alloc_bytes(b"a")?;
    /// let b = s.alloc_bytes(b"b")?;
    /// a[0] = b'A';
    /// assert_eq!((&a[..], &b[..]), (&b"A"[..], &b"b"[..]));
    /// # Ok::<(), vmallocator::Error>(())
    /// ```
    pub fn as_scope(&mut self) -> Scope<'_> {
        Scope {
            arena: self,
            _level: PhantomData,
        }
    }
}

impl<'a> Scope<'a> {
    /// Runs `f` with an inner scope, then rewinds the arena to where it was before:
    /// everything made inside is handed out again later. **Contents:** unchanged, as with
    /// [`rewind`](Mallocator::rewind). Should `f` panic, nothing is rewound (the blocks stay
    /// used until a reset), which is sound.
    ///
    /// ```
    /// let mut m = vmallocator::Mallocator::new()?;
    /// let mut s = m.as_scope();
    /// let kept = s.alloc_bytes(b"kept")?;
    /// let n = s.scope(|t| t.alloc_bytes(&[0; 64]).map(|b| b.len() + kept.len()))?;
    /// assert_eq!((n, s.used()), (68, 4));
    /// # Ok::<(), vmallocator::Error>(())
    /// ```
    pub fn scope<R>(&mut self, f: impl FnOnce(&mut Scope<'_>) -> R) -> R {
        let start = self.arena.ptr_addr();
        let mut inner = Scope {
            arena: self.arena,
            _level: PhantomData,
        };
        let result = f(&mut inner);
        // Only ever down: should the pointer have gone below `start` meanwhile, there is
        // nothing above it to rewind.
        if start < self.arena.ptr_addr() {
            // SAFETY: `start` is in `[base, ptr)`; every block above it came from the inner
            // scope (`self` is mutably borrowed meanwhile) and has its lifetime, which `R`
            // cannot name: they are dead now.
            unsafe { self.arena.lower_to_unchecked(start) };
        }
        result
    }

    /// [`Mallocator::alloc`], with a block that lives as long as the scope.
    ///
    /// # Errors
    /// As [`Mallocator::alloc`].
    #[inline]
    pub fn alloc(&self, size: usize, align: usize) -> Result<NonNull<u8>, Error> {
        self.arena.alloc(size, align)
    }

    /// [`Mallocator::alloc_layout`], with a block that lives as long as the scope.
    ///
    /// # Errors
    /// As [`Mallocator::alloc_layout`].
    #[inline]
    pub fn alloc_layout(&self, layout: Layout) -> Result<NonNull<u8>, Error> {
        self.arena.alloc_layout(layout)
    }

    /// [`Mallocator::alloc_bytes`], with a block that lives as long as the scope.
    ///
    /// # Errors
    /// As [`Mallocator::alloc_bytes`].
    pub fn alloc_bytes(&self, bytes: &[u8]) -> Result<&'a mut [u8], Error> {
        self.arena.alloc_bytes(bytes)
    }

    /// [`Mallocator::alloc_str`], with a block that lives as long as the scope.
    ///
    /// # Errors
    /// As [`Mallocator::alloc_str`].
    pub fn alloc_str(&self, s: &str, width: CharWidth) -> Result<&'a mut [u8], Error> {
        self.arena.alloc_str(s, width)
    }

    /// [`Mallocator::alloc_hex`], with a block that lives as long as the scope.
    ///
    /// # Errors
    /// As [`Mallocator::alloc_hex`].
    pub fn alloc_hex(&self, hex: &str) -> Result<&'a mut [u8], Error> {
        self.arena.alloc_hex(hex)
    }
}

/// A scope as a value instead of a closure: blocks made through [`scope`](Self::scope) live
/// as long as that borrow of the guard, and dropping the guard (or
/// [`reset`](Self::reset)) rewinds the arena to where it was when the guard was made.
/// bump-scope's `scope_guard`, for code where a closure does not fit (a loop body that
/// returns early, state kept in a struct).
///
/// Made by [`Mallocator::scope_guard`] or [`Scope::scope_guard`]; the arena or outer scope
/// stays borrowed while the guard lives. Forgetting the guard (`mem::forget`) leaves the
/// blocks allocated until a reset, which is sound.
///
/// ```
/// let mut m = vmallocator::Mallocator::new()?;
/// let mut s = m.as_scope();
/// let kept = s.alloc_bytes(b"kept")?;
/// for word in ["a", "bb", "ccc"] {
///     let mut guard = s.scope_guard();
///     let scratch = guard.scope().alloc_bytes(word.as_bytes())?;
///     if scratch.len() > 2 {
///         continue; // rewound here too
///     }
///     assert_eq!(kept.len(), 4);
/// }
/// assert_eq!(s.used(), 4);
/// # Ok::<(), vmallocator::Error>(())
/// ```
///
/// A block made through the guard cannot outlive it:
///
/// ```compile_fail,E0597
/// let mut m = vmallocator::Mallocator::new()?;
/// let block = {
///     let mut guard = m.scope_guard();
///     guard.scope().alloc_bytes(b"x")? // error: `guard` does not live long enough
/// };
/// block[0] = 1;
/// # Ok::<(), vmallocator::Error>(())
/// ```
pub struct ScopeGuard<'a> {
    arena: &'a Mallocator,
    start: usize,
    _level: PhantomData<fn(&'a ()) -> &'a ()>,
}

impl Mallocator {
    /// A [`ScopeGuard`] over the arena: rewinds to the current pointer when dropped.
    pub fn scope_guard(&mut self) -> ScopeGuard<'_> {
        ScopeGuard::new(self)
    }
}

impl<'a> Scope<'a> {
    /// A [`ScopeGuard`] inside this scope: rewinds to the current pointer when dropped.
    /// Blocks of this and outer levels stay usable while it lives.
    pub fn scope_guard(&mut self) -> ScopeGuard<'_> {
        ScopeGuard::new(self.arena)
    }
}

impl<'g> ScopeGuard<'g> {
    /// A guard over `arena`, which the caller holds exclusively for `'g`.
    fn new(arena: &'g Mallocator) -> Self {
        ScopeGuard {
            arena,
            start: arena.ptr_addr(),
            _level: PhantomData,
        }
    }

    /// The guard's level, to allocate through: its blocks live as long as this borrow
    /// of the guard.
    pub fn scope(&mut self) -> Scope<'_> {
        Scope {
            arena: self.arena,
            _level: PhantomData,
        }
    }

    /// Rewinds the arena to where it was when the guard was made; the guard stays usable.
    pub fn reset(&mut self) {
        if self.start < self.arena.ptr_addr() {
            // SAFETY: `start` is in `[base, ptr)`; every block above it came from a `Scope`
            // borrowed from this guard (nothing else reaches the arena), and `&mut self`
            // means every such borrow, and so every block, has ended.
            unsafe { self.arena.lower_to_unchecked(self.start) };
        }
    }
}

impl Drop for ScopeGuard<'_> {
    fn drop(&mut self) {
        self.reset();
    }
}

impl core::fmt::Debug for ScopeGuard<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ScopeGuard")
            .field("start", &self.start)
            .field("arena", self.arena)
            .finish()
    }
}

impl Deref for Scope<'_> {
    type Target = Mallocator;

    /// The arena, for its statistics and for allocations that live as long as this borrow.
    fn deref(&self) -> &Mallocator {
        self.arena
    }
}

impl core::fmt::Debug for Scope<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Scope").field("arena", self.arena).finish()
    }
}
