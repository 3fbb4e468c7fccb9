//! Values by record key, held by a 64-bit hash of the key so that a million keys are not stored
//! a second time; a key whose hash another key already holds is kept whole. A lookup gives
//! candidates: the caller, who has the records, says which one is really the key's.
//!
//! The export reader uses it to find a key's earlier record in a batch, the store to find the
//! block that holds a key.

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
    by_hash: HashMap<u64, V, BuildHasherDefault<Identity>>,
    whole: HashMap<Box<str>, V, foldhash::fast::RandomState>,
}

impl<V> Default for HashedKeys<V> {
    fn default() -> Self {
        HashedKeys {
            hasher: Default::default(),
            by_hash: Default::default(),
            whole: Default::default(),
        }
    }
}

impl<V: Copy> HashedKeys<V> {
    /// Room for `n` keys held by hash, so that filling it does not grow the map step by step
    /// (ten million keys grown from empty spent most of an index's build copying).
    pub fn with_capacity(n: usize) -> Self {
        HashedKeys {
            by_hash: HashMap::with_capacity_and_hasher(n, Default::default()),
            ..Default::default()
        }
    }

    /// The values `key` may have: one held under the whole key, then one under its hash (which
    /// may be another key's).
    pub fn candidates(&self, key: &str) -> impl Iterator<Item = V> + '_ {
        let hash = self.hasher.hash_one(key);
        self.whole
            .get(key)
            .copied()
            .into_iter()
            .chain(self.by_hash.get(&hash).copied())
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
        if let Some(v) = self.by_hash.get_mut(&self.hasher.hash_one(key))
            && *v == old
        {
            *v = new;
            return;
        }
        self.insert(key, new);
    }

    /// Keys held.
    pub fn len(&self) -> usize {
        self.by_hash.len() + self.whole.len()
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
}
