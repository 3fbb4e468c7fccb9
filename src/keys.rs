//! Values by record key, held by a 64-bit hash of the key so that a million keys are not stored
//! a second time. Keys are laid in at once (sorted by hash in one array) and then added one by
//! one (in maps, where a key whose hash another already holds is kept whole). A lookup gives
//! candidates: the caller, who has the records, says which one is really the key's.
//!
//! The store uses it to find the block that holds a key.

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};

/// The hashes are already uniform: the map over them needs no second hashing.
#[derive(Default)]
pub struct Identity(u64);

impl Hasher for Identity {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) | u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

#[derive(Debug, Clone)]
pub struct HashedKeys<V> {
    /// Seeded per process: keys an export chose cannot make their hashes meet.
    hasher: foldhash::quality::RandomState,
    /// The keys laid in at once ([`HashedKeys::bulk`]), grouped by hash.
    base: Grouped<V>,
    /// Keys added one by one after that.
    by_hash: HashMap<u64, V, BuildHasherDefault<Identity>>,
    whole: HashMap<Box<str>, V, foldhash::fast::RandomState>,
}

impl<V> Default for HashedKeys<V> {
    fn default() -> Self {
        HashedKeys {
            hasher: Default::default(),
            base: Grouped::default(),
            by_hash: Default::default(),
            whole: Default::default(),
        }
    }
}

/// Hashes and values sorted by hash, with the start of each run of hashes that share their top
/// bits: 16 bytes a key for an 8-byte value plus 2 for the starts, no empty buckets, built by one
/// sort in place instead of ten million random inserts into a map made large enough beforehand.
#[derive(Debug, Clone)]
struct Grouped<V> {
    /// A hash's group is its top `64 - shift` bits.
    shift: u32,
    /// Where each group starts in `entries`, and where the last one ends.
    starts: Vec<usize>,
    entries: Vec<(u64, V)>,
}

impl<V> Default for Grouped<V> {
    fn default() -> Self {
        Grouped {
            shift: 64,
            starts: vec![0, 0],
            entries: Vec::new(),
        }
    }
}

impl<V: Copy + Send> Grouped<V> {
    /// Sorts `entries` by hash and finds where each group starts (about four keys a group). A
    /// large index is sorted on every core: in a profile of the incremental day, the sort of a
    /// source's ten million keys took about 0.2 s of one core while the import waited for it.
    fn new(mut entries: Vec<(u64, V)>) -> Self {
        if entries.len() >= 1 << 16 {
            use rayon::slice::ParallelSliceMut;
            entries.par_sort_unstable_by_key(|e| e.0);
        } else {
            entries.sort_unstable_by_key(|e| e.0);
        }
        let bits = (entries.len() / 4)
            .max(1)
            .next_power_of_two()
            .trailing_zeros();
        let shift = 64 - bits;
        let mut starts = vec![0usize; (1usize << bits) + 1];
        for (hash, _) in &entries {
            starts[group(*hash, shift) + 1] += 1;
        }
        for i in 1..starts.len() {
            starts[i] += starts[i - 1];
        }
        Grouped {
            shift,
            starts,
            entries,
        }
    }

    /// Where the entries whose hash is `hash` are.
    fn range(&self, hash: u64) -> std::ops::Range<usize> {
        let g = group(hash, self.shift);
        let (lo, hi) = (self.starts[g], self.starts[g + 1]);
        let run = &self.entries[lo..hi];
        lo + run.partition_point(|e| e.0 < hash)..lo + run.partition_point(|e| e.0 <= hash)
    }

    fn of(&self, hash: u64) -> &[(u64, V)] {
        &self.entries[self.range(hash)]
    }

    fn of_mut(&mut self, hash: u64) -> &mut [(u64, V)] {
        let r = self.range(hash);
        &mut self.entries[r]
    }
}

fn group(hash: u64, shift: u32) -> usize {
    hash.checked_shr(shift).unwrap_or(0) as usize
}

/// Keys being laid into a [`HashedKeys`] at once: pushed in any order, queried only once
/// [`BulkKeys::finish`] has grouped them.
pub struct BulkKeys<V> {
    hasher: foldhash::quality::RandomState,
    entries: Vec<(u64, V)>,
}

impl<V: Copy + Send> BulkKeys<V> {
    /// Holds `value` for `key` (each key once; two keys with one hash are both kept).
    pub fn push(&mut self, key: &str, value: V) {
        self.entries.push((self.hasher.hash_one(key), value));
    }

    pub fn finish(self) -> HashedKeys<V> {
        HashedKeys {
            hasher: self.hasher,
            base: Grouped::new(self.entries),
            ..Default::default()
        }
    }
}

impl<V: Copy + Send> HashedKeys<V> {
    /// Keys laid in at once, with room for `n` of them made beforehand.
    pub fn bulk(n: usize) -> BulkKeys<V> {
        BulkKeys {
            hasher: Default::default(),
            entries: Vec::with_capacity(n),
        }
    }

    /// The values `key` may have: one held under the whole key, one under its hash, and those
    /// laid in at once under its hash (any of which may be another key's).
    pub fn candidates(&self, key: &str) -> impl Iterator<Item = V> + '_ {
        let hash = self.hasher.hash_one(key);
        self.whole
            .get(key)
            .copied()
            .into_iter()
            .chain(self.by_hash.get(&hash).copied())
            .chain(self.base.of(hash).iter().map(|e| e.1))
    }

    /// The value of `key`, `is` telling whether a candidate is really this key's.
    pub fn get(&self, key: &str, is: impl Fn(V) -> bool) -> Option<V> {
        self.candidates(key).find(|v| is(*v))
    }

    /// Holds `value` for `key` (a key not held yet).
    pub fn insert(&mut self, key: &str, value: V) {
        use std::collections::hash_map::Entry;
        match self.by_hash.entry(self.hasher.hash_one(key)) {
            Entry::Vacant(v) => {
                v.insert(value);
            }
            Entry::Occupied(_) => {
                self.whole.insert(key.into(), value);
            }
        }
    }

    /// Moves `key` from `old` to `new`, wherever it is held (the caller knows `old` is the key's).
    pub fn replace(&mut self, key: &str, old: V, new: V)
    where
        V: PartialEq,
    {
        if let Some(v) = self.whole.get_mut(key)
            && *v == old
        {
            *v = new;
            return;
        }
        let hash = self.hasher.hash_one(key);
        if let Some(v) = self.by_hash.get_mut(&hash)
            && *v == old
        {
            *v = new;
            return;
        }
        if let Some(e) = self.base.of_mut(hash).iter_mut().find(|e| e.1 == old) {
            e.1 = new;
            return;
        }
        self.insert(key, new);
    }

    /// Keys held.
    pub fn len(&self) -> usize {
        self.base.entries.len() + self.by_hash.len() + self.whole.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Keys held whole (their hashes met another's).
    pub fn held_whole(&self) -> usize {
        self.whole.len()
    }

    /// Puts `value` under `key`'s hash whatever it held, as a collision would (for tests).
    #[cfg(test)]
    pub fn force_hash(&mut self, key: &str, value: V) {
        let hash = self.hasher.hash_one(key);
        self.by_hash.insert(hash, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_whose_hash_is_taken_is_held_whole() {
        let mut keys: HashedKeys<u32> = HashedKeys::default();
        let names = ["A", "B"];
        keys.insert("A", 0);
        // B's hash leads to A's value, as a collision would.
        keys.force_hash("B", 0);
        assert_eq!(keys.get("B", |v| names[v as usize] == "B"), None);
        keys.insert("B", 1);
        assert_eq!(keys.held_whole(), 1);
        assert_eq!(keys.get("B", |v| names[v as usize] == "B"), Some(1));
        assert_eq!(keys.get("A", |v| names[v as usize] == "A"), Some(0));
    }

    #[test]
    fn keys_laid_in_at_once_are_found_moved_and_joined_by_later_ones() {
        let names: Vec<String> = (0..10_000).map(|i| format!("K{i}")).collect();
        let mut bulk = HashedKeys::bulk(names.len());
        for (i, name) in names.iter().enumerate().rev() {
            bulk.push(name, i as u32);
        }
        let mut keys = bulk.finish();
        assert_eq!(keys.len(), names.len());
        for (i, name) in names.iter().enumerate() {
            let is = |v: u32| names[v as usize] == *name;
            assert_eq!(keys.get(name, is), Some(i as u32), "{name}");
        }
        assert_eq!(
            keys.get("absent", |_| true),
            None,
            "no candidate for a key never held"
        );
        // A key laid in at once moves; another is added after.
        keys.replace("K7", 7, 20_007);
        assert_eq!(keys.candidates("K7").collect::<Vec<_>>(), vec![20_007]);
        keys.insert("new", 30_000);
        assert_eq!(keys.candidates("new").collect::<Vec<_>>(), vec![30_000]);
        assert_eq!(keys.len(), names.len() + 1);
        assert_eq!(keys.held_whole(), 0);
    }

    #[test]
    fn two_keys_laid_in_under_one_hash_are_both_candidates() {
        let mut bulk: BulkKeys<u32> = HashedKeys::bulk(2);
        let hash = bulk.hasher.hash_one("A");
        bulk.push("A", 0);
        // B under A's hash, as a collision would put it.
        bulk.entries.push((hash, 1));
        let keys = bulk.finish();
        let mut found: Vec<u32> = keys.candidates("A").collect();
        found.sort_unstable();
        assert_eq!(found, vec![0, 1]);
        let names = ["A", "B"];
        assert_eq!(keys.get("A", |v| names[v as usize] == "A"), Some(0));
    }

    #[test]
    fn a_large_bulk_sorted_on_every_core_loses_no_entry() {
        // Above the size sorted on every core: every key found, the entries in hash order with
        // each (hash, value) kept, as a plain sort gives them (collisions included).
        let names: Vec<String> = (0..150_000).map(|i| format!("000.00.{i}.H55")).collect();
        let mut bulk = HashedKeys::bulk(names.len() + 3);
        for (i, name) in names.iter().enumerate() {
            bulk.push(name, i as u32);
        }
        let taken = bulk.hasher.hash_one(&names[42]);
        for v in [1_000_000, 1_000_001, 1_000_002] {
            bulk.entries.push((taken, v));
        }
        let mut expected = bulk.entries.clone();
        expected.sort_unstable();
        let keys = bulk.finish();
        let mut got = keys.base.entries.clone();
        assert!(got.windows(2).all(|w| w[0].0 <= w[1].0), "sorted by hash");
        got.sort_unstable();
        assert_eq!(got, expected, "the same entries, none lost or repeated");
        for (i, name) in names.iter().enumerate() {
            assert_eq!(keys.get(name, |v| v == i as u32), Some(i as u32), "{name}");
        }
        let mut under: Vec<u32> = keys.candidates(&names[42]).collect();
        under.sort_unstable();
        assert_eq!(under, vec![42, 1_000_000, 1_000_001, 1_000_002]);
    }

    #[test]
    fn an_empty_bulk_holds_nothing() {
        let mut keys = HashedKeys::<u32>::bulk(0).finish();
        assert!(keys.is_empty());
        assert_eq!(keys.candidates("A").count(), 0);
        keys.insert("A", 1);
        assert_eq!(keys.candidates("A").collect::<Vec<_>>(), vec![1]);
    }
}
