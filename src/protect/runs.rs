//! A sorted map from run starts to protections, kept as a two-level array: blocks of at most
//! [`CAP`] entries in address order, and beside them the first key of each block.
//!
//! A lookup is two binary searches over contiguous memory (the block index, then one
//! block); a change moves at most [`CAP`] entries inside one block, and one change in
//! `CAP / 2` splits or merges a block, which moves the block index (N / [`CAP`] words for N
//! entries). For the run counts a process can have (Linux refuses more than about 65,000
//! mappings; each run is one) that is a few dozen words per change, and far fewer cache
//! lines and branches than a pointer-based tree with small nodes. Empty, it allocates
//! nothing.
#![forbid(unsafe_code)]

use crate::Protection;

/// Entries per block at most; a block splits in two halves beyond it.
const CAP: usize = 64;

type Entry = (usize, Protection);

/// A sorted map of `usize` keys to protections.
#[derive(Clone, PartialEq, Eq, Default)]
pub(super) struct Runs {
    /// Non-empty blocks, each sorted, each at most `CAP` entries, all in key order.
    blocks: Vec<Vec<Entry>>,
    /// `firsts[b]` is the first key of `blocks[b]`.
    firsts: Vec<usize>,
    len: usize,
    /// The block of the last change: the first one tried by the next lookup, so changes
    /// that walk through the region find their block without a search.
    hint: usize,
}

impl Runs {
    pub(super) const fn new() -> Self {
        Runs {
            blocks: Vec::new(),
            firsts: Vec::new(),
            len: 0,
            hint: 0,
        }
    }

    #[inline]
    pub(super) fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[inline]
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// The block that would hold `key`: the last one whose first key is at most `key`, or
    /// the first block when `key` precedes them all. `None` when empty.
    #[inline]
    fn block_for(&self, key: usize) -> Option<usize> {
        let n = self.firsts.len();
        if n == 0 {
            return None;
        }
        // The hinted block or the next one, before a binary search.
        let holds = |b: usize| {
            (b == 0 || self.firsts[b] <= key) && self.firsts.get(b + 1).is_none_or(|&f| key < f)
        };
        let h = self.hint;
        if h < n && holds(h) {
            return Some(h);
        }
        if h + 1 < n && holds(h + 1) {
            return Some(h + 1);
        }
        Some(self.firsts.partition_point(|&f| f <= key).saturating_sub(1))
    }

    /// Gives `[start, end)` protection `p` in the interval map whose runs start at 0 with
    /// `first` and at each key of this map, up to `size`; keeps neighbouring runs of one
    /// protection merged. Returns the first run's protection afterwards.
    ///
    /// The usual change (every key it replaces in one block) costs one lookup and one
    /// splice of at most two entries; others go through [`remove_range`](Self::remove_range)
    /// and [`insert`](Self::insert).
    pub(super) fn assign(
        &mut self,
        first: Protection,
        size: usize,
        start: usize,
        end: usize,
        p: Protection,
    ) -> Protection {
        debug_assert!(start < end && end <= size);
        if let Some(b) = self.block_for(start) {
            let block = &self.blocks[b];
            // Keys `[i, j)` of the block lie in `[start, end]`.
            let i = block.partition_point(|e| e.0 < start);
            let mut j = i;
            while j < block.len() && block[j].0 <= end {
                j += 1;
            }
            let ends_inside = j < block.len() || b + 1 == self.blocks.len() || {
                let next = self.firsts[b + 1];
                next > end
            };
            // A key before `start` in this block, or none before it anywhere.
            let prev_here = i.checked_sub(1).map(|k| block[k].1);
            if ends_inside && (prev_here.is_some() || b == 0) {
                let before_start = prev_here.unwrap_or(first);
                let after = if j > i { block[j - 1].1 } else { before_start };
                let mut new = [(0, p); 2];
                let mut n = 0;
                if start > 0 && before_start != p {
                    new[n] = (start, p);
                    n += 1;
                }
                if end < size && after != p {
                    new[n] = (end, after);
                    n += 1;
                }
                self.hint = b;
                self.splice(b, i, j, &new[..n]);
                return if start == 0 { p } else { first };
            }
        }
        // The general case: across blocks, or at the start of a block after others.
        let at = |this: &Self, key: usize| this.prev_le(key).map_or(first, |e| e.1);
        let after = (end < size).then(|| at(self, end));
        let before = (start > 0).then(|| at(self, start - 1));
        self.remove_range(start, end);
        if let Some(b) = before
            && b != p
        {
            self.insert(start, p);
        }
        if let Some(a) = after
            && a != p
        {
            self.insert(end, a);
        }
        if start == 0 { p } else { first }
    }

    /// Replaces entries `[i, j)` of block `b` with `new` (sorted, fitting between the
    /// neighbours), then keeps the block's invariants.
    fn splice(&mut self, b: usize, i: usize, j: usize, new: &[Entry]) {
        let block = &mut self.blocks[b];
        let removed = j - i;
        // At most two entries in and out: overwrite, then one move of the tail at most.
        let kept = removed.min(new.len());
        block[i..i + kept].copy_from_slice(&new[..kept]);
        if removed > kept {
            block.drain(i + kept..j);
        } else {
            for (k, &e) in new[kept..].iter().enumerate() {
                block.insert(j + k, e);
            }
        }
        self.len = self.len - removed + new.len();
        if block.is_empty() {
            self.blocks.remove(b);
            self.firsts.remove(b);
            return;
        }
        self.firsts[b] = block[0].0;
        if block.len() > CAP {
            self.split(b);
        } else if block.len() < CAP / 4 {
            self.merge_around(b);
        }
    }

    /// The entry with the largest key at most `key`.
    #[inline]
    pub(super) fn prev_le(&self, key: usize) -> Option<Entry> {
        let b = self.block_for(key)?;
        let block = &self.blocks[b];
        let i = block.partition_point(|e| e.0 <= key);
        // `i == 0` only in block 0 when `key` precedes every key.
        i.checked_sub(1).map(|i| block[i])
    }

    /// The smallest key above `key`.
    #[inline]
    pub(super) fn next_gt(&self, key: usize) -> Option<usize> {
        let b = self.block_for(key)?;
        let block = &self.blocks[b];
        let i = block.partition_point(|e| e.0 <= key);
        match block.get(i) {
            Some(e) => Some(e.0),
            None => self.firsts.get(b + 1).copied(),
        }
    }

    /// Inserts `key` (not present) with `p`.
    pub(super) fn insert(&mut self, key: usize, p: Protection) {
        self.len += 1;
        let Some(b) = self.block_for(key) else {
            let mut block = Vec::with_capacity(CAP + 1);
            block.push((key, p));
            self.blocks.push(block);
            self.firsts.push(key);
            return;
        };
        let block = &mut self.blocks[b];
        let i = block.partition_point(|e| e.0 < key);
        debug_assert!(block.get(i).is_none_or(|e| e.0 != key), "key present");
        block.insert(i, (key, p));
        if i == 0 {
            self.firsts[b] = key;
        }
        if block.len() > CAP {
            self.split(b);
        }
    }

    /// Splits the over-full block `b` in two halves.
    fn split(&mut self, b: usize) {
        let block = &mut self.blocks[b];
        let mut tail = Vec::with_capacity(CAP + 1);
        tail.extend_from_slice(&block[CAP / 2..]);
        block.truncate(CAP / 2);
        self.firsts.insert(b + 1, tail[0].0);
        self.blocks.insert(b + 1, tail);
    }

    /// Removes every key in `[lo, hi]`.
    pub(super) fn remove_range(&mut self, lo: usize, hi: usize) {
        let Some(mut b) = self.block_for(lo) else {
            return;
        };
        while b < self.blocks.len() && self.firsts[b] <= hi {
            let block = &mut self.blocks[b];
            let from = block.partition_point(|e| e.0 < lo);
            let to = block.partition_point(|e| e.0 <= hi);
            let reaches_end = to == block.len();
            if from < to {
                block.drain(from..to);
                self.len -= to - from;
            }
            if block.is_empty() {
                self.blocks.remove(b);
                self.firsts.remove(b);
                continue; // the next block is now `b`
            }
            self.firsts[b] = block[0].0;
            if block.len() < CAP / 4
                && let Some(merged) = self.merge_around(b)
            {
                if !reaches_end {
                    break;
                }
                // The merged block may hold keys of the range that came from the next
                // block: look at it again. Each merge removes a block, so this ends.
                b = merged;
                continue;
            }
            if !reaches_end {
                break;
            }
            b += 1;
        }
    }

    /// Folds the small block `b` into a neighbour when both fit in one; returns the index of
    /// the merged block, or `None` when neither fits.
    fn merge_around(&mut self, b: usize) -> Option<usize> {
        let len = self.blocks[b].len();
        if b > 0 && self.blocks[b - 1].len() + len <= CAP {
            let block = self.blocks.remove(b);
            self.firsts.remove(b);
            self.blocks[b - 1].extend_from_slice(&block);
            return Some(b - 1);
        }
        if b + 1 < self.blocks.len() && self.blocks[b + 1].len() + len <= CAP {
            let next = self.blocks.remove(b + 1);
            self.firsts.remove(b + 1);
            self.blocks[b].extend_from_slice(&next);
            return Some(b);
        }
        None
    }

    /// The entries in key order.
    pub(super) fn iter(&self) -> impl Iterator<Item = Entry> + '_ {
        self.blocks.iter().flatten().copied()
    }

    #[cfg(test)]
    fn check(&self) {
        assert_eq!(self.blocks.len(), self.firsts.len());
        assert_eq!(self.blocks.iter().map(Vec::len).sum::<usize>(), self.len);
        for (block, &first) in self.blocks.iter().zip(&self.firsts) {
            assert!(!block.is_empty() && block.len() <= CAP);
            assert_eq!(block[0].0, first);
        }
        let keys: Vec<usize> = self.iter().map(|e| e.0).collect();
        assert!(
            keys.windows(2).all(|w| w[0] < w[1]),
            "keys sorted and unique"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// Against a `BTreeMap`, with enough keys to split and merge many blocks.
    #[test]
    fn runs_match_a_btreemap() {
        let all = [
            Protection::READ_WRITE,
            Protection::READ_EXECUTE,
            Protection::READ,
        ];
        let mut runs = Runs::new();
        let mut model = BTreeMap::new();
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let span = 2_000u64;
        // Fewer steps where `VMALLOCATOR_TEST_SCALE` is low; 8,000 still fill the span.
        let steps = ((40_000.0 * crate::test_scale()) as usize).clamp(8_000, 40_000);
        for step in 0..steps {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let k = (x % span) as usize;
            if x >> 60 < 11 {
                if let std::collections::btree_map::Entry::Vacant(v) = model.entry(k) {
                    let p = all[(x >> 32) as usize % 3];
                    v.insert(p);
                    runs.insert(k, p);
                }
            } else {
                let hi = k + ((x >> 20) % 64) as usize;
                model.retain(|&key, _| key < k || key > hi);
                runs.remove_range(k, hi);
            }
            if step % 97 == 0 {
                runs.check();
                assert!(runs.iter().eq(model.iter().map(|(&k, &p)| (k, p))));
            }
            let q = ((x >> 8) % (span + 10)) as usize;
            assert_eq!(
                runs.prev_le(q),
                model.range(..=q).next_back().map(|(&k, &p)| (k, p))
            );
            assert_eq!(
                runs.next_gt(q),
                model.range(q + 1..).next().map(|(&k, _)| k)
            );
            assert_eq!(runs.len(), model.len());
        }
        runs.remove_range(0, usize::MAX);
        runs.check();
        assert!(runs.is_empty() && runs.blocks.is_empty());
    }
}
