//! Page protection flags.

use core::fmt;
use core::ops::{BitAnd, BitOr, BitOrAssign};

/// Access rights of the pages of a region: combinable flags.
///
/// Write access always comes with read access, because Windows has no write-only pages;
/// so there is no `WRITE` flag alone, and every combination maps to exactly one OS constant:
///
/// | `Protection`         | Unix (`mmap`/`mprotect`)      | Windows (`VirtualAlloc`)   |
/// |----------------------|-------------------------------|----------------------------|
/// | `NONE`               | `PROT_NONE`                   | `PAGE_NOACCESS`            |
/// | `READ`               | `PROT_READ`                   | `PAGE_READONLY`            |
/// | `READ_WRITE`         | `PROT_READ \| PROT_WRITE`      | `PAGE_READWRITE`           |
/// | `EXECUTE`            | `PROT_EXEC`                   | `PAGE_EXECUTE`             |
/// | `READ_EXECUTE`       | `PROT_READ \| PROT_EXEC`       | `PAGE_EXECUTE_READ`        |
/// | `READ_WRITE_EXECUTE` | `PROT_READ \| PROT_WRITE \| PROT_EXEC` | `PAGE_EXECUTE_READWRITE` |
///
/// Whether execute-only pages can really be read depends on the CPU: most x86_64 systems
/// let code read `PROT_EXEC` pages anyway.
///
/// ```
/// use vmallocator::Protection;
/// let p = Protection::READ_WRITE | Protection::EXECUTE;
/// assert_eq!(p, Protection::READ_WRITE_EXECUTE);
/// assert!(p.is_writable() && p.is_executable());
/// assert!(p.contains(Protection::READ));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Protection(u8);

const R: u8 = 1;
const W: u8 = 2;
const X: u8 = 4;

impl Protection {
    /// No access: any touch faults.
    pub const NONE: Self = Self(0);
    /// Read only.
    pub const READ: Self = Self(R);
    /// Read and write: the default for data.
    pub const READ_WRITE: Self = Self(R | W);
    /// Execute only (readable too on CPUs that cannot tell the two apart).
    pub const EXECUTE: Self = Self(X);
    /// Read and execute: published machine code.
    pub const READ_EXECUTE: Self = Self(R | X);
    /// Read, write and execute. Prefer writing as [`READ_WRITE`](Self::READ_WRITE), then
    /// switching to [`READ_EXECUTE`](Self::READ_EXECUTE) (W^X).
    pub const READ_WRITE_EXECUTE: Self = Self(R | W | X);

    /// The flags as bits: read 1, write 2, execute 4.
    #[cfg_attr(not(unix), allow(dead_code))]
    #[inline]
    pub(crate) const fn bits(self) -> u8 {
        self.0
    }

    /// Whether the pages can be read.
    #[inline]
    pub const fn is_readable(self) -> bool {
        self.0 & R != 0
    }

    /// Whether the pages can be written.
    #[inline]
    pub const fn is_writable(self) -> bool {
        self.0 & W != 0
    }

    /// Whether the pages can be executed.
    #[inline]
    pub const fn is_executable(self) -> bool {
        self.0 & X != 0
    }

    /// Whether every right in `other` is also in `self`.
    #[inline]
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }
}

impl BitOr for Protection {
    type Output = Self;
    #[inline]
    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}

impl BitOrAssign for Protection {
    #[inline]
    fn bitor_assign(&mut self, rhs: Self) {
        self.0 |= rhs.0;
    }
}

impl BitAnd for Protection {
    type Output = Self;
    /// The rights both sides have. Dropping read from `READ_WRITE` is not expressible,
    /// so `READ_WRITE & EXECUTE` is `NONE` and `READ_WRITE & READ` is `READ`.
    #[inline]
    fn bitand(self, rhs: Self) -> Self {
        let bits = self.0 & rhs.0;
        // Write without read does not exist (see the type's docs).
        Self(if bits & R == 0 { bits & !W } else { bits })
    }
}

impl fmt::Debug for Protection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.0 {
            0 => "NONE",
            R => "READ",
            x if x == R | W => "READ_WRITE",
            X => "EXECUTE",
            x if x == R | X => "READ_EXECUTE",
            _ => "READ_WRITE_EXECUTE",
        };
        f.write_str(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Protection; 6] = [
        Protection::NONE,
        Protection::READ,
        Protection::READ_WRITE,
        Protection::EXECUTE,
        Protection::READ_EXECUTE,
        Protection::READ_WRITE_EXECUTE,
    ];

    #[test]
    fn combinations_close_over_the_six_values() {
        for a in ALL {
            for b in ALL {
                assert!(ALL.contains(&(a | b)), "{a:?} | {b:?}");
                assert!(ALL.contains(&(a & b)), "{a:?} & {b:?}");
            }
        }
        assert_eq!(
            Protection::READ | Protection::EXECUTE,
            Protection::READ_EXECUTE
        );
        assert_eq!(
            Protection::READ_WRITE & Protection::EXECUTE,
            Protection::NONE
        );
        assert_eq!(Protection::READ_WRITE & Protection::READ, Protection::READ);
    }

    #[test]
    fn predicates_and_debug_names() {
        let names: Vec<String> = ALL.iter().map(|p| format!("{p:?}")).collect();
        assert_eq!(
            names,
            [
                "NONE",
                "READ",
                "READ_WRITE",
                "EXECUTE",
                "READ_EXECUTE",
                "READ_WRITE_EXECUTE"
            ]
        );
        assert!(!Protection::READ.is_writable());
        assert!(Protection::READ_WRITE.is_readable());
        assert!(!Protection::READ_EXECUTE.is_writable());
        assert!(Protection::EXECUTE.is_executable() && !Protection::EXECUTE.is_readable());
        assert_eq!(Protection::default(), Protection::NONE);
    }
}
