//! The error of [`Mallocator::free`]: the OS's refusal, with the arena handed back.

use core::fmt;

use super::Mallocator;
use crate::Error;

/// The OS refused to release a region: the [`Error`], and the arena, unchanged and still
/// usable, to retry [`free`](Mallocator::free) later, keep using, or drop.
///
/// `?` in a function returning `Result<_, Error>` converts it into its [`Error`] (dropping
/// the arena, which tries the release once more and leaks the region if that fails too).
///
/// ```
/// use vmallocator::{Error, FreeError, Mallocator};
///
/// fn release(m: Mallocator) -> Result<(), Error> {
///     match m.free() {
///         Ok(()) => Ok(()),
///         // Keep the arena for a later try instead of leaking it.
///         Err(e) => {
///             let (error, arena) = e.into_parts();
///             assert_eq!(arena.used(), 0);
///             Err(error)
///         }
///     }
/// }
/// release(Mallocator::new()?)?;
/// # Ok::<(), vmallocator::Error>(())
/// ```
///
/// The same type serves [`SharedArena::free`](crate::SharedArena::free), with the shared
/// arena handed back: `FreeError<SharedArena>`.
pub struct FreeError<A = Mallocator> {
    error: Error,
    arena: A,
}

impl<A> FreeError<A> {
    pub(crate) fn new(error: Error, arena: A) -> Self {
        FreeError { error, arena }
    }

    /// Why the OS refused: an [`Error::Os`] with the failed call and its code.
    pub fn error(&self) -> &Error {
        &self.error
    }

    /// The arena, exactly as it was before the call.
    pub fn into_arena(self) -> A {
        self.arena
    }

    /// The error and the arena.
    pub fn into_parts(self) -> (Error, A) {
        (self.error, self.arena)
    }
}

impl<A> From<FreeError<A>> for Error {
    fn from(e: FreeError<A>) -> Error {
        e.error
    }
}

impl<A: fmt::Debug> fmt::Debug for FreeError<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FreeError")
            .field("error", &self.error)
            .field("arena", &self.arena)
            .finish()
    }
}

impl<A> fmt::Display for FreeError<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "releasing the region failed: {}", self.error)
    }
}

impl<A: fmt::Debug> std::error::Error for FreeError<A> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}
