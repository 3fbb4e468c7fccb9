//! Dossiers in blocks: what the rules read, a few thousand dossiers to a block, column by column
//! with the repeated texts (unit, field, channel, procedure) in a dictionary. The compute reads a
//! province's million dossiers as a few hundred values, not a million rows: row by row, a driver
//! copies every column of every row, which cost more than the whole computation.
//!
//! A block belongs to one source and holds each dossier once; blocks are numbered per source in
//! the order they were first filled, and new dossiers go to the last one until it is full. An
//! update rewrites the block that holds the dossier. [`KeyIndex`] knows which block holds each
//! key; it is built from the blocks and kept between writes while the source's generation (a
//! counter every write moves) says no other process wrote since.
//!
//! Pure: encoding, decoding and the merge rule; `sqlite.rs` and `postgres.rs` move the bytes.

use super::UpsertCounts;
use crate::domain::{Dossier, Instant, ResultKind, Status};
use crate::keys::HashedKeys;
use crate::sources::export::Interner;
use std::collections::{BTreeMap, HashMap};

/// Dossiers per block.
pub const BLOCK_SIZE: usize = 4096;

const MAGIC: u32 = 0x4243_4431; // "BCD1"
const NONE: i64 = i64::MIN;

/// Encodes dossiers as one block.
pub fn encode(dossiers: &[Dossier]) -> Vec<u8> {
    let n = dossiers.len();
    let mut dict: Vec<&str> = Vec::new();
    let mut at: HashMap<&str, u32> = HashMap::new();
    let mut columns: [Vec<u32>; 5] = Default::default();
    for d in dossiers {
        for (c, s) in [
            &*d.procedure_code,
            &*d.field_code,
            &*d.field_name,
            &*d.unit_code,
            &*d.channel,
        ]
        .into_iter()
        .enumerate()
        {
            let i = *at.entry(s).or_insert_with(|| {
                dict.push(s);
                (dict.len() - 1) as u32
            });
            columns[c].push(i);
        }
    }
    let keys: usize = dossiers.iter().map(|d| d.key.len()).sum();
    let texts: usize = dict.iter().map(|s| s.len() + 4).sum();
    let mut out = Vec::with_capacity(16 + texts + keys + n * (4 + 20 + 2 + 48));
    let u32le = |out: &mut Vec<u8>, v: u32| out.extend_from_slice(&v.to_le_bytes());
    u32le(&mut out, MAGIC);
    u32le(&mut out, n as u32);
    u32le(&mut out, dict.len() as u32);
    for s in &dict {
        u32le(&mut out, s.len() as u32);
        out.extend_from_slice(s.as_bytes());
    }
    for d in dossiers {
        u32le(&mut out, d.key.len() as u32);
    }
    for d in dossiers {
        out.extend_from_slice(d.key.as_bytes());
    }
    for column in &columns {
        for v in column {
            u32le(&mut out, *v);
        }
    }
    out.extend(dossiers.iter().map(|d| d.status.code()));
    out.extend(
        dossiers.iter().map(|d| {
            u8::from(d.result_kind == ResultKind::Withdrawal) | (u8::from(d.deleted) << 1)
        }),
    );
    let instants: [fn(&Dossier) -> Option<Instant>; 6] = [
        |d| d.received_at.get(),
        |d| d.due_at.get(),
        |d| d.supplement_requested_at.get(),
        |d| d.finished_at.get(),
        |d| d.returned_at.get(),
        |d| d.updated_at.get(),
    ];
    for get in instants {
        for d in dossiers {
            out.extend_from_slice(&get(d).map_or(NONE, |i| i.0).to_le_bytes());
        }
    }
    out
}

/// Reads a block field by field, failing with what is wrong rather than past the end.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or_else(|| {
                format!(
                    "a block ends at byte {} where {n} more were expected",
                    self.at
                )
            })?;
        let s = &self.bytes[self.at..end];
        self.at = end;
        Ok(s)
    }

    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }

    fn u32s(&mut self, n: usize) -> Result<Vec<u32>, String> {
        let bytes = self.take(n.checked_mul(4).ok_or("a block is too large")?)?;
        Ok(bytes
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect())
    }

    fn text(&mut self, n: usize) -> Result<&'a str, String> {
        std::str::from_utf8(self.take(n)?)
            .map_err(|_| "a block holds text that is not UTF-8".into())
    }
}

/// The parts of a block every reader needs: its texts and keys.
struct Head<'a> {
    n: usize,
    dict: Vec<&'a str>,
    keys: Vec<&'a str>,
    reader: Reader<'a>,
}

fn head(bytes: &[u8]) -> Result<Head<'_>, String> {
    let mut r = Reader { bytes, at: 0 };
    if r.u32()? != MAGIC {
        return Err("not a dossier block (wrong magic number)".into());
    }
    let n = r.u32()? as usize;
    let entries = r.u32()? as usize;
    if n > 16 * BLOCK_SIZE || entries > 5 * n + 5 {
        return Err(format!("a block claims {n} dossiers and {entries} texts"));
    }
    let mut dict = Vec::with_capacity(entries);
    for _ in 0..entries {
        let len = r.u32()? as usize;
        dict.push(r.text(len)?);
    }
    let lens = r.u32s(n)?;
    let total = lens
        .iter()
        .try_fold(0usize, |a, l| a.checked_add(*l as usize))
        .ok_or("a block's keys are too long")?;
    let region = r.text(total)?;
    let mut keys = Vec::with_capacity(n);
    let mut at = 0;
    for len in lens {
        let end = at + len as usize;
        keys.push(
            region
                .get(at..end)
                .ok_or("a block's keys do not fall on character boundaries")?,
        );
        at = end;
    }
    Ok(Head {
        n,
        dict,
        keys,
        reader: r,
    })
}

/// The keys of a block, in order.
pub fn keys(bytes: &[u8]) -> Result<Vec<&str>, String> {
    Ok(head(bytes)?.keys)
}

/// Decodes a block; repeated texts are shared through `strings`.
pub fn decode(bytes: &[u8], strings: &mut Interner) -> Result<Vec<Dossier>, String> {
    let mut out = Vec::new();
    decode_into(bytes, strings, &mut out)?;
    Ok(out)
}

/// Decodes a block onto the end of `out` (a million dossiers are built in place, not moved).
pub fn decode_into(
    bytes: &[u8],
    strings: &mut Interner,
    out: &mut Vec<Dossier>,
) -> Result<(), String> {
    let Head {
        n,
        dict,
        keys,
        mut reader,
    } = head(bytes)?;
    let dict: Vec<std::sync::Arc<str>> = dict.iter().map(|s| strings.intern(s)).collect();
    let mut columns = Vec::with_capacity(5);
    for _ in 0..5 {
        let column = reader.u32s(n)?;
        if let Some(bad) = column.iter().find(|&&i| i as usize >= dict.len()) {
            return Err(format!("a block refers to text #{bad} of {}", dict.len()));
        }
        columns.push(column);
    }
    let statuses = reader.take(n)?;
    let flags = reader.take(n)?;
    let mut instants = Vec::with_capacity(6);
    for _ in 0..6 {
        let raw = reader.take(n.checked_mul(8).ok_or("a block is too large")?)?;
        instants.push(raw);
    }
    let instant = |column: usize, i: usize| {
        let v = i64::from_le_bytes(
            instants[column][i * 8..i * 8 + 8]
                .try_into()
                .expect("8 bytes"),
        );
        (v != NONE).then_some(Instant(v))
    };
    out.reserve(n);
    for (i, key) in keys.into_iter().enumerate() {
        let status = Status::new(statuses[i])
            .ok_or_else(|| format!("dossier {key} has status {}", statuses[i]))?;
        let text = |c: usize| dict[columns[c][i] as usize].clone();
        out.push(Dossier {
            key: key.into(),
            procedure_code: text(0),
            field_code: text(1),
            field_name: text(2),
            unit_code: text(3),
            channel: text(4),
            status,
            received_at: instant(0, i).into(),
            due_at: instant(1, i).into(),
            supplement_requested_at: instant(2, i).into(),
            finished_at: instant(3, i).into(),
            returned_at: instant(4, i).into(),
            updated_at: instant(5, i).into(),
            result_kind: if flags[i] & 1 != 0 {
                ResultKind::Withdrawal
            } else {
                ResultKind::Other
            },
            deleted: flags[i] & 2 != 0,
        });
    }
    Ok(())
}

/// Where a dossier is: its block and its place in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    pub block: i64,
    pub at: u32,
}

/// Which block holds each key of one source, and how full the last block is.
#[derive(Debug, Clone, Default)]
pub struct KeyIndex {
    /// The source's generation the index was built at.
    pub generation: i64,
    keys: HashedKeys<Slot>,
    /// The last block and the dossiers in it.
    pub last: Option<(i64, u32)>,
}

impl KeyIndex {
    /// An index of no keys, at `generation`.
    pub fn empty(generation: i64) -> KeyIndex {
        KeyIndex {
            generation,
            ..KeyIndex::default()
        }
    }

    /// Builds the index from a source's blocks (id and encoded bytes), in block order.
    pub fn build<'a>(
        generation: i64,
        blocks: impl IntoIterator<Item = (i64, &'a [u8])>,
    ) -> Result<KeyIndex, String> {
        let mut index = KeyIndex::empty(generation);
        for (block, bytes) in blocks {
            index.add_block(block, bytes)?;
        }
        Ok(index)
    }

    /// Adds the keys of the next block.
    pub fn add_block(&mut self, block: i64, bytes: &[u8]) -> Result<(), String> {
        let keys = keys(bytes)?;
        for (at, key) in keys.iter().enumerate() {
            self.keys.insert(
                key,
                Slot {
                    block,
                    at: at as u32,
                },
            );
        }
        self.last = Some((block, keys.len() as u32));
        Ok(())
    }

    /// Where `key` may be (each slot to check against the block's key).
    fn candidates(&self, key: &str) -> impl Iterator<Item = Slot> + '_ {
        self.keys.candidates(key)
    }

    /// The blocks that may hold any of `keys`.
    pub fn blocks_of<'k>(&self, keys: impl IntoIterator<Item = &'k str>) -> Vec<i64> {
        let mut out: Vec<i64> = keys
            .into_iter()
            .flat_map(|k| self.candidates(k).map(|s| s.block))
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// A write in progress: the blocks it touches, decoded, and the index it keeps current.
#[derive(Debug)]
pub struct Merge {
    pub index: KeyIndex,
    blocks: BTreeMap<i64, Touched>,
    strings: Interner,
}

#[derive(Debug)]
struct Touched {
    dossiers: Vec<Dossier>,
    dirty: bool,
}

impl Merge {
    pub fn new(index: KeyIndex) -> Merge {
        Merge {
            index,
            blocks: BTreeMap::new(),
            strings: Interner::default(),
        }
    }

    /// The stored blocks `records` need that are not loaded yet: those holding their keys, and the
    /// last block while it has room.
    pub fn needed(&self, records: &[&Dossier]) -> Vec<i64> {
        let mut want: Vec<i64> = records
            .iter()
            .flat_map(|d| self.index.candidates(&d.key).map(|s| s.block))
            .chain(
                self.index
                    .last
                    .filter(|(_, n)| (*n as usize) < BLOCK_SIZE)
                    .map(|(b, _)| b),
            )
            .filter(|b| !self.blocks.contains_key(b))
            .collect();
        want.sort_unstable();
        want.dedup();
        want
    }

    /// Adds a stored block, read because [`Merge::needed`] asked for it.
    pub fn load(&mut self, block: i64, bytes: &[u8]) -> Result<(), String> {
        let dossiers = decode(bytes, &mut self.strings)?;
        self.blocks.insert(
            block,
            Touched {
                dossiers,
                dirty: false,
            },
        );
        Ok(())
    }

    /// Applies the replacement rule to each record: a new key goes to the last block (a new one
    /// when it is full); an existing one is replaced when the incoming CapNhatLuc is later (an
    /// absent one is older than any), or equal with a different record. Every block
    /// [`Merge::needed`] named must be loaded.
    pub fn add(&mut self, records: &[&Dossier]) -> Result<UpsertCounts, String> {
        let mut counts = UpsertCounts::default();
        for d in records {
            let found = self.index.candidates(&d.key).find(|slot| {
                self.blocks
                    .get(&slot.block)
                    .and_then(|b| b.dossiers.get(slot.at as usize))
                    .is_some_and(|stored| stored.key == d.key)
            });
            match found {
                Some(slot) => {
                    let block = self.blocks.get_mut(&slot.block).expect("loaded");
                    let stored = &mut block.dossiers[slot.at as usize];
                    let (old, new) = (
                        stored.updated_at.get().map_or(i64::MIN, |i| i.0),
                        d.updated_at.get().map_or(i64::MIN, |i| i.0),
                    );
                    if new > old || (new == old && *stored != **d) {
                        *stored = (*d).clone();
                        block.dirty = true;
                        counts.updated += 1;
                    } else {
                        counts.unchanged += 1;
                    }
                }
                None => {
                    let (block, at) = match self.index.last {
                        Some((b, n)) if (n as usize) < BLOCK_SIZE => (b, n),
                        Some((b, _)) => (b + 1, 0),
                        None => (0, 0),
                    };
                    let touched = self.blocks.entry(block).or_insert_with(|| Touched {
                        dossiers: Vec::new(),
                        dirty: true,
                    });
                    if touched.dossiers.len() != at as usize {
                        return Err(format!(
                            "block {block} holds {} dossiers where the index says {at}; this is a bug, please report it",
                            touched.dossiers.len()
                        ));
                    }
                    touched.dossiers.push((*d).clone());
                    touched.dirty = true;
                    self.index.keys.insert(&d.key, Slot { block, at });
                    self.index.last = Some((block, at + 1));
                    counts.new += 1;
                }
            }
        }
        Ok(counts)
    }

    /// The blocks to write: id, dossiers in it, encoded bytes.
    pub fn dirty(&self) -> Vec<(i64, usize, Vec<u8>)> {
        self.blocks
            .iter()
            .filter(|(_, b)| b.dirty)
            .map(|(id, b)| (*id, b.dossiers.len(), encode(&b.dossiers)))
            .collect()
    }

    /// Forgets the decoded blocks once written (a long import holds a few at a time).
    pub fn written(&mut self) {
        self.blocks.clear();
    }

    /// Blocks held decoded.
    pub fn held(&self) -> usize {
        self.blocks.len()
    }

    /// The index, kept current by the merge.
    pub fn into_index(self) -> KeyIndex {
        self.index
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dossier(key: &str, updated: i64) -> Dossier {
        Dossier {
            key: key.into(),
            procedure_code: "1.0".into(),
            field_code: "F".into(),
            field_name: "Lĩnh vực".into(),
            unit_code: "U".into(),
            channel: "2".into(),
            status: Status::new(9).unwrap(),
            received_at: Some(Instant(1_690_000_000)).into(),
            due_at: None.into(),
            supplement_requested_at: Some(Instant(-5)).into(),
            finished_at: Some(Instant(1_690_100_000)).into(),
            returned_at: None.into(),
            updated_at: Some(Instant(updated)).into(),
            result_kind: ResultKind::Withdrawal,
            deleted: key.ends_with('x'),
        }
    }

    #[test]
    fn a_block_decodes_to_what_was_encoded() {
        let mut d = vec![
            dossier("A-1", 10),
            dossier("Bx", 11),
            dossier("Hồ sơ 3", 12),
        ];
        d[1].channel = "x".into();
        d[2].result_kind = ResultKind::Other;
        d[2].status = Status::new(2).unwrap();
        let bytes = encode(&d);
        assert_eq!(decode(&bytes, &mut Interner::default()).unwrap(), d);
        assert_eq!(keys(&bytes).unwrap(), ["A-1", "Bx", "Hồ sơ 3"]);
        assert_eq!(decode(&encode(&[]), &mut Interner::default()).unwrap(), []);
    }

    #[test]
    fn a_damaged_block_is_an_error_not_a_panic() {
        let bytes = encode(&[dossier("A", 1), dossier("B", 2)]);
        for cut in [0, 3, 8, 20, bytes.len() - 1] {
            assert!(
                decode(&bytes[..cut], &mut Interner::default()).is_err(),
                "cut at {cut}"
            );
        }
        let mut wrong = bytes.clone();
        wrong[0] ^= 0xff;
        assert!(decode(&wrong, &mut Interner::default()).is_err());
    }

    #[test]
    fn the_merge_follows_the_replacement_rule_and_fills_blocks_in_order() {
        let mut merge = Merge::new(KeyIndex::default());
        let first: Vec<Dossier> = (0..BLOCK_SIZE + 2)
            .map(|i| dossier(&format!("K{i}"), 5))
            .collect();
        let refs: Vec<&Dossier> = first.iter().collect();
        assert!(merge.needed(&refs).is_empty());
        let counts = merge.add(&refs).unwrap();
        assert_eq!(
            (counts.new, counts.updated, counts.unchanged),
            (BLOCK_SIZE as u64 + 2, 0, 0)
        );
        let dirty = merge.dirty();
        assert_eq!(
            dirty.iter().map(|(b, n, _)| (*b, *n)).collect::<Vec<_>>(),
            [(0, BLOCK_SIZE), (1, 2)]
        );
        // Written, then a second write with a fresh merge over the same index.
        let stored: HashMap<i64, Vec<u8>> =
            dirty.into_iter().map(|(b, _, bytes)| (b, bytes)).collect();
        let mut merge = Merge::new(merge.index);
        let newer = dossier("K1", 6);
        let same = dossier("K2", 5);
        let mut changed_same_time = dossier("K3", 5);
        changed_same_time.channel = "1".into();
        let older = dossier(&format!("K{}", BLOCK_SIZE + 1), 4);
        let fresh = dossier("NEW", 1);
        let batch = [&newer, &same, &changed_same_time, &older, &fresh];
        let needed = merge.needed(&batch);
        assert_eq!(
            needed,
            [0, 1],
            "the blocks of the keys, and the last one with room"
        );
        for b in needed {
            merge.load(b, &stored[&b]).unwrap();
        }
        let counts = merge.add(&batch).unwrap();
        assert_eq!((counts.new, counts.updated, counts.unchanged), (1, 2, 2));
        let dirty = merge.dirty();
        assert_eq!(
            dirty.iter().map(|(b, n, _)| (*b, *n)).collect::<Vec<_>>(),
            [(0, BLOCK_SIZE), (1, 3)]
        );
        let block0 = decode(&dirty[0].2, &mut Interner::default()).unwrap();
        assert_eq!(block0[1], newer);
        assert_eq!(block0[3], changed_same_time);
        assert_eq!(merge.index.len(), BLOCK_SIZE + 3);
        assert_eq!(merge.index.last, Some((1, 3)));
        // The index rebuilt from the blocks agrees.
        let rebuilt =
            KeyIndex::build(7, [(0, dirty[0].2.as_slice()), (1, dirty[1].2.as_slice())]).unwrap();
        assert_eq!(
            (rebuilt.len(), rebuilt.last),
            (BLOCK_SIZE + 3, Some((1, 3)))
        );
    }

    #[test]
    fn keys_whose_hashes_meet_are_still_told_apart() {
        let a = dossier("A", 1);
        let b = dossier("B", 1);
        let mut merge = Merge::new(KeyIndex::default());
        merge.add(&[&a]).unwrap();
        // Make B's hash lead to A's slot, as a collision would.
        let slot_of_a = merge.index.candidates("A").next().unwrap();
        merge.index.keys.force_hash("B", slot_of_a);
        let counts = merge.add(&[&b]).unwrap();
        assert_eq!(counts.new, 1, "B is not taken for A");
        assert_eq!(merge.index.keys.held_whole(), 1, "B is held whole");
        let again = merge.add(&[&b, &a]).unwrap();
        assert_eq!((again.new, again.unchanged), (0, 2));
    }
}
