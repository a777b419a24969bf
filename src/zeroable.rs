//! [`Zeroable`]: the types for which a block of zero bytes is a valid value.
//!
//! The marker behind [`Mallocator::alloc_zeroed`](crate::Mallocator::alloc_zeroed) and
//! [`alloc_slice_zeroed`](crate::Mallocator::alloc_slice_zeroed). The crate's own trait
//! rather than a dependency: a handful of `unsafe impl`s, no derive machinery, and users
//! add their own `#[repr(C)]` structs with one line.

use core::cell::{Cell, UnsafeCell};
use core::mem::{ManuallyDrop, MaybeUninit};
use core::num::{NonZero, Wrapping};
use core::ptr::NonNull;

/// Types whose all-zero bit pattern is a valid value: integers, floats, `bool` (`false`),
/// `char` (`'\0'`), raw pointers (null), `Option` of a reference, `NonNull` or `NonZero`
/// (`None`), and arrays and wrappers of such types.
///
/// For your own types, implement it when every field is `Zeroable` and the type has no
/// other invariant that zero breaks:
///
/// ```
/// use vmallocator::{Mallocator, Zeroable};
///
/// #[repr(C)]
/// struct Vertex {
///     pos: [f32; 3],
///     id: u32,
/// }
/// // SAFETY: every field is an integer or float array, for which zero is valid.
/// unsafe impl Zeroable for Vertex {}
///
/// let m = Mallocator::new()?;
/// let v = m.alloc_slice_zeroed::<Vertex>(16)?;
/// assert!(v.iter().all(|v| v.pos == [0.0; 3] && v.id == 0));
/// # Ok::<(), vmallocator::Error>(())
/// ```
///
/// # Safety
/// A value of the type made of zero bytes only must be valid: reading it as the type, and
/// calling any safe method on it, must not be undefined behaviour.
pub unsafe trait Zeroable: Sized {}

macro_rules! zeroable {
    ($($t:ty),* $(,)?) => {
        // SAFETY: zero is a valid value of each of these types (for `Option<NonZero<_>>`,
        // the niche makes it `None`).
        $(unsafe impl Zeroable for $t {})*
    };
}

zeroable!(
    (),
    bool,
    char,
    u8,
    u16,
    u32,
    u64,
    u128,
    usize,
    i8,
    i16,
    i32,
    i64,
    i128,
    isize,
    f32,
    f64
);

// SAFETY: an array of values that may be zero may be all zero.
unsafe impl<T: Zeroable, const N: usize> Zeroable for [T; N] {}
// SAFETY: `MaybeUninit` allows any bytes.
unsafe impl<T> Zeroable for MaybeUninit<T> {}
// SAFETY: same layout and validity as `T`.
unsafe impl<T: Zeroable> Zeroable for ManuallyDrop<T> {}
// SAFETY: same layout and validity as `T`.
unsafe impl<T: Zeroable> Zeroable for Wrapping<T> {}
// SAFETY: same layout and validity as `T`.
unsafe impl<T: Zeroable> Zeroable for Cell<T> {}
// SAFETY: same layout and validity as `T`.
unsafe impl<T: Zeroable> Zeroable for UnsafeCell<T> {}
// SAFETY: a null thin pointer is a valid raw pointer.
unsafe impl<T> Zeroable for *const T {}
// SAFETY: a null thin pointer is a valid raw pointer.
unsafe impl<T> Zeroable for *mut T {}
// SAFETY: the null-pointer optimisation makes zero `None`.
unsafe impl<T> Zeroable for Option<NonNull<T>> {}
// SAFETY: the null-pointer optimisation makes zero `None`.
unsafe impl<T> Zeroable for Option<&T> {}
// SAFETY: the null-pointer optimisation makes zero `None`.
unsafe impl<T> Zeroable for Option<&mut T> {}
zeroable!(
    Option<NonZero<u8>>,
    Option<NonZero<u16>>,
    Option<NonZero<u32>>,
    Option<NonZero<u64>>,
    Option<NonZero<u128>>,
    Option<NonZero<usize>>,
    Option<NonZero<i8>>,
    Option<NonZero<i16>>,
    Option<NonZero<i32>>,
    Option<NonZero<i64>>,
    Option<NonZero<i128>>,
    Option<NonZero<isize>>,
);
