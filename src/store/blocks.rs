//! Dossiers in blocks: what the rules read, a few thousand dossiers to a block, column by column
//! with the repeated texts (unit, field, channel, procedure) in a dictionary. The compute reads a
//! province's million dossiers as a few hundred values, not a million rows: row by row, a driver
//! copies every column of every row, which cost more than the whole computation.
//!
//! **Buckets**: a block belongs to one source and one bucket — the half-month a dossier stopped
//! mattering to new periods (of the local day its processing finished, for a dossier closed in the
//! ordinary way), [`ALWAYS`] for one that matters to every period (still open, or an anomaly every
//! period's findings name), [`NEVER`] for one no period counts (excluded statuses, deleted). A
//! period from day T needs only the buckets from T's half-month on (and `ALWAYS`): years of closed
//! dossiers behind it are not read, let alone decoded. A dossier whose bucket changes (it closes,
//! it is reopened) moves: out of its block, onto the end of its new bucket's last block.
//!
//! Each dossier carries its **sequence** in the source's first-stored order, so that a read of
//! some buckets still gives them in that order, and [`FieldFirst`] keeps, per field code, what
//! the rules read of the whole history (the first dossier, the first name seen) without reading
//! it. [`KeyIndex`] knows which block holds each key; it is built from the blocks and kept between
//! writes while the source's generation (a counter every write moves) says no other process wrote
//! since.
//!
//! Pure: encoding, decoding, buckets and the merge rule; `block_io.rs` moves the bytes.

use super::UpsertCounts;
use crate::domain::{Dossier, Instant, ResultKind, Status, StatusClass};
use crate::keys::HashedKeys;
use crate::sources::export::Interner;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};

/// Dossiers per block.
pub const BLOCK_SIZE: usize = 4096;

/// "BCD1": the layout before sequences; read once, by the re-layout.
const MAGIC_V1: u32 = 0x4243_4431;
/// "BCD2": the keys followed by each dossier's sequence.
const MAGIC: u32 = 0x4243_4432;
const NONE: i64 = i64::MIN;

/// A dossier's place in its source's first-stored order.
pub type Seq = i64;

/// The bucket of dossiers no period counts (excluded statuses, deleted).
pub const NEVER: i64 = i64::MIN;
/// The bucket of dossiers every period may count or name: still open, or an anomaly (no
/// reception date, finished without a finish date, finished before received).
pub const ALWAYS: i64 = i64::MAX;

/// Dossiers decoded by this process (what a read cost, for tests and benchmarks).
static DECODED: AtomicU64 = AtomicU64::new(0);

/// Dossiers decoded so far by this process.
pub fn decoded() -> u64 {
    DECODED.load(Ordering::Relaxed)
}

/// Dossiers whose reception columns alone were read ([`ReceptionReader`]).
static SCANNED: AtomicU64 = AtomicU64::new(0);

/// Dossiers scanned so far by this process, their reception columns alone.
pub fn scanned() -> u64 {
    SCANNED.load(Ordering::Relaxed)
}

/// The bucket of a local day: its half-month (days 1–14, days 15 to the end), counted from year
/// 0. The Decree's windows start on a 15th: a period's first bucket holds none of the days before.
pub fn day_bucket(day: chrono::NaiveDate) -> i64 {
    use chrono::Datelike;
    (i64::from(day.year()) * 12 + i64::from(day.month0())) * 2 + i64::from(day.day() >= 15)
}

/// Which bucket a dossier belongs in: the half-month of its finish day when it closed in the
/// ordinary way, else [`ALWAYS`] or [`NEVER`]. A period from day T is placed by the rules from the
/// buckets at or after T's alone: a dossier closed before T is outside it (domain.md §5), and so is
/// one no period counts.
pub fn bucket(d: &Dossier) -> i64 {
    if d.deleted || d.status.class() == StatusClass::Excluded {
        return NEVER;
    }
    let (Some(received), Some(finished)) = (d.received_at.get(), d.finished_at.get()) else {
        return ALWAYS;
    };
    if !d.status.reads_finish_date() {
        return ALWAYS;
    }
    let (received, finished) = (received.to_local().date(), finished.to_local().date());
    if finished < received {
        // finished_before_received: named by every period from its reception on.
        return ALWAYS;
    }
    day_bucket(finished)
}

/// Encodes dossiers (and their sequences) as one block.
pub fn encode(dossiers: &[Dossier], seqs: &[Seq]) -> Vec<u8> {
    assert_eq!(dossiers.len(), seqs.len(), "a sequence for every dossier");
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
    for seq in seqs {
        out.extend_from_slice(&seq.to_le_bytes());
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

    /// A block's body after its head: the five text columns (procedure, field code, field name,
    /// unit, channel: indexes into a dictionary of `texts`, each checked), the statuses, the
    /// flags, then the first `instants` of its six instant columns.
    fn body(&mut self, n: usize, texts: usize, instants: usize) -> Result<Body<'a>, String> {
        let mut columns = Vec::with_capacity(5);
        for _ in 0..5 {
            let column = self.u32s(n)?;
            if let Some(bad) = column.iter().find(|&&i| i as usize >= texts) {
                return Err(format!("a block refers to text #{bad} of {texts}"));
            }
            columns.push(column);
        }
        let statuses = self.take(n)?;
        let flags = self.take(n)?;
        let mut columns_of_instants = Vec::with_capacity(instants);
        for _ in 0..instants {
            columns_of_instants.push(self.take(n.checked_mul(8).ok_or("a block is too large")?)?);
        }
        Ok(Body {
            columns,
            statuses,
            flags,
            instants: columns_of_instants,
        })
    }
}

/// A block's columns, as [`Reader::body`] reads them.
struct Body<'a> {
    columns: Vec<Vec<u32>>,
    statuses: &'a [u8],
    flags: &'a [u8],
    instants: Vec<&'a [u8]>,
}

impl Body<'_> {
    /// The instant of column `column` of dossier `i`, if it has one.
    fn instant(&self, column: usize, i: usize) -> Option<Instant> {
        let v = i64::from_le_bytes(
            self.instants[column][i * 8..i * 8 + 8]
                .try_into()
                .expect("8 bytes"),
        );
        (v != NONE).then_some(Instant(v))
    }
}

/// The parts of a block every reader needs: its texts, keys and sequences.
struct Head<'a> {
    n: usize,
    dict: Vec<&'a str>,
    keys: Vec<&'a str>,
    /// `None` for a block of the layout before sequences.
    seqs: Option<Vec<Seq>>,
    reader: Reader<'a>,
}

fn head(bytes: &[u8]) -> Result<Head<'_>, String> {
    let mut r = Reader { bytes, at: 0 };
    let magic = r.u32()?;
    if magic != MAGIC && magic != MAGIC_V1 {
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
    let seqs = if magic == MAGIC {
        let raw = r.take(n.checked_mul(8).ok_or("a block is too large")?)?;
        Some(
            raw.chunks_exact(8)
                .map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes")))
                .collect(),
        )
    } else {
        None
    };
    Ok(Head {
        n,
        dict,
        keys,
        seqs,
        reader: r,
    })
}

/// The keys of a block, in order.
pub fn keys(bytes: &[u8]) -> Result<Vec<&str>, String> {
    Ok(head(bytes)?.keys)
}

/// How many of a block's bytes its head takes (its texts, keys and sequences): the prefix
/// [`keys_and_seqs`] reads, all that the key index needs of a block stored whole.
pub fn head_bytes(bytes: &[u8]) -> Result<usize, String> {
    Ok(head(bytes)?.reader.at)
}

/// Decodes a block; repeated texts are shared through `strings`.
pub fn decode(bytes: &[u8], strings: &mut Interner) -> Result<Vec<Dossier>, String> {
    let mut out = Vec::new();
    decode_into(bytes, strings, &mut out)?;
    Ok(out)
}

/// The keys of a block and their sequences (`None` for the layout before sequences).
pub fn keys_and_seqs(bytes: &[u8]) -> Result<(Vec<&str>, Option<Vec<Seq>>), String> {
    let h = head(bytes)?;
    Ok((h.keys, h.seqs))
}

/// Decodes a block with its dossiers' sequences (empty for the layout before sequences).
pub fn decode_with_seqs(
    bytes: &[u8],
    strings: &mut Interner,
) -> Result<(Vec<Dossier>, Vec<Seq>), String> {
    let mut out = Vec::new();
    let mut seqs = Vec::new();
    decode_onto(bytes, strings, &mut out, Some(&mut seqs))?;
    Ok((out, seqs))
}

/// Decodes a block onto the end of `out` (a million dossiers are built in place, not moved).
pub fn decode_into(
    bytes: &[u8],
    strings: &mut Interner,
    out: &mut Vec<Dossier>,
) -> Result<(), String> {
    decode_onto(bytes, strings, out, None)
}

/// Decodes a block onto the end of `out`, and its sequences onto `seqs` when asked.
pub fn decode_onto(
    bytes: &[u8],
    strings: &mut Interner,
    out: &mut Vec<Dossier>,
    seqs: Option<&mut Vec<Seq>>,
) -> Result<(), String> {
    let Head {
        n,
        dict,
        keys,
        seqs: stored_seqs,
        mut reader,
    } = head(bytes)?;
    if let Some(seqs) = seqs {
        seqs.extend(stored_seqs.unwrap_or_default());
    }
    DECODED.fetch_add(n as u64, Ordering::Relaxed);
    let dict: Vec<std::sync::Arc<str>> = dict.iter().map(|s| strings.intern(s)).collect();
    let body = reader.body(n, dict.len(), 6)?;
    let (columns, statuses, flags) = (&body.columns, body.statuses, body.flags);
    let instant = |column: usize, i: usize| body.instant(column, i);
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

/// Reads [`crate::domain::Receptions`] out of blocks: the unit, channel, status, flag and two
/// instant columns, nothing else (no key, no dossier built).
#[derive(Debug, Default)]
pub struct ReceptionReader {
    texts: Vec<std::sync::Arc<str>>,
    at: HashMap<String, u32>,
    rows: Vec<crate::domain::Reception>,
}

impl ReceptionReader {
    pub fn reserve(&mut self, n: usize) {
        self.rows.reserve(n);
    }

    /// Adds one block's rows.
    pub fn add_block(&mut self, bytes: &[u8]) -> Result<(), String> {
        let Head {
            n,
            dict,
            mut reader,
            ..
        } = head(bytes)?;
        SCANNED.fetch_add(n as u64, Ordering::Relaxed);
        let mut global = Vec::with_capacity(dict.len());
        for text in &dict {
            let id = match self.at.get(*text) {
                Some(id) => *id,
                None => {
                    let id = self.texts.len() as u32;
                    self.texts.push(std::sync::Arc::from(*text));
                    self.at.insert((*text).to_owned(), id);
                    id
                }
            };
            global.push(id);
        }
        // Instant columns up to the finish (received, due, supplement, finished); returned and
        // updated are not needed.
        let body = reader.body(n, dict.len(), 4)?;
        let (columns, statuses, flags) = (&body.columns, body.statuses, body.flags);
        let instant =
            |column: usize, i: usize| crate::domain::Moment::from(body.instant(column, i));
        for i in 0..n {
            let status = Status::new(statuses[i])
                .ok_or_else(|| format!("a dossier has status {}", statuses[i]))?;
            self.rows.push(crate::domain::Reception {
                unit: global[columns[3][i] as usize],
                channel: global[columns[4][i] as usize],
                status,
                deleted: flags[i] & 2 != 0,
                received_at: instant(0, i),
                finished_at: instant(3, i),
            });
        }
        Ok(())
    }

    pub fn finish(self) -> crate::domain::Receptions {
        crate::domain::Receptions {
            texts: self.texts,
            rows: self.rows,
        }
    }
}

/// Puts `dossiers` in the order of their sequences (`seqs`, one each); a run already in order
/// (one bucket's blocks, the usual case) is left as it is.
pub fn order_by_seq(dossiers: &mut [Dossier], seqs: &[Seq]) {
    assert_eq!(dossiers.len(), seqs.len(), "a sequence for every dossier");
    if seqs.is_sorted() {
        return;
    }
    let mut order: Vec<usize> = (0..seqs.len()).collect();
    order.sort_unstable_by_key(|&i| seqs[i]);
    // Position j takes the dossier at order[j]: follow each cycle of the permutation once.
    let mut done = vec![false; order.len()];
    for start in 0..order.len() {
        if done[start] {
            continue;
        }
        let mut j = start;
        loop {
            done[j] = true;
            let k = order[j];
            if k == start {
                break;
            }
            dossiers.swap(j, k);
            j = k;
        }
    }
}

/// Where a dossier is: its block and its place in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    pub block: i64,
    pub at: u32,
}

/// What the rules read of a field code over the whole history of a source: its first dossier
/// (for `unknown_field`, named by its first dossier) and its first non-empty name (the label
/// without a catalogue), both in first-stored order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldFirst {
    pub first_seq: Seq,
    /// The first dossier: its key, its unit and the field name it carries (which may be empty).
    pub first_key: String,
    pub first_unit: String,
    pub first_name: String,
    pub label_seq: Option<Seq>,
    pub label: String,
}

impl FieldFirst {
    /// The firsts of a field whose only dossier is `d`.
    fn of(d: &Dossier, seq: Seq) -> FieldFirst {
        let named = !d.field_name.is_empty();
        FieldFirst {
            first_seq: seq,
            first_key: d.key.to_string(),
            first_unit: d.unit_code.to_string(),
            first_name: d.field_name.to_string(),
            label_seq: named.then_some(seq),
            label: if named {
                d.field_name.to_string()
            } else {
                String::new()
            },
        }
    }
}

/// A source's [`FieldFirst`] by field code.
pub type FieldFirsts = HashMap<String, FieldFirst>;

/// A [`Slot`] in 8 bytes, as the key index holds it: the block above [`AT_BITS`], the place below.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Packed(u64);

/// Bits of a [`Packed`] slot for the place in the block (a block holds at most [`BLOCK_SIZE`]).
const AT_BITS: u32 = 20;

impl Slot {
    fn pack(self) -> Result<Packed, String> {
        match u64::try_from(self.block) {
            Ok(block) if block < 1 << (64 - AT_BITS) && self.at < 1 << AT_BITS => {
                Ok(Packed((block << AT_BITS) | u64::from(self.at)))
            }
            _ => Err(format!(
                "block {} place {} is beyond what the key index can hold; this is a bug, please report it",
                self.block, self.at
            )),
        }
    }
}

impl From<Packed> for Slot {
    fn from(p: Packed) -> Slot {
        Slot {
            block: (p.0 >> AT_BITS) as i64,
            at: (p.0 & ((1 << AT_BITS) - 1)) as u32,
        }
    }
}

/// Which block holds each key of one source, each bucket's last block, what comes next.
#[derive(Debug, Clone, Default)]
pub struct KeyIndex {
    /// The source's generation the index was built at.
    pub generation: i64,
    keys: HashedKeys<Packed>,
    /// Each bucket's last block and the dossiers in it.
    pub last: HashMap<i64, (i64, u32)>,
    /// The next block's number, and the next dossier's sequence.
    pub next_block: i64,
    pub next_seq: Seq,
}

/// A [`KeyIndex`] being built from a source's stored blocks; it answers no lookup until
/// [`KeyIndexBuilder::finish`].
pub struct KeyIndexBuilder {
    keys: crate::keys::BulkKeys<Packed>,
    index: KeyIndex,
}

impl KeyIndexBuilder {
    /// An index at `generation` of blocks holding `keys` keys in all (room is made once).
    pub fn new(generation: i64, keys: usize) -> KeyIndexBuilder {
        KeyIndexBuilder {
            keys: HashedKeys::bulk(keys),
            index: KeyIndex {
                generation,
                ..KeyIndex::default()
            },
        }
    }

    /// Adds the keys of a stored block (of `bucket`), the blocks in any order.
    pub fn add_block(&mut self, block: i64, bucket: i64, bytes: &[u8]) -> Result<(), String> {
        let (keys, seqs) = keys_and_seqs(bytes)?;
        for (at, key) in keys.iter().enumerate() {
            let at = u32::try_from(at).map_err(|_| format!("block {block} holds too many keys"))?;
            self.keys.push(key, Slot { block, at }.pack()?);
        }
        let index = &mut self.index;
        let last = index.last.entry(bucket).or_insert((block, 0));
        if block >= last.0 {
            *last = (block, keys.len() as u32);
        }
        index.next_block = index.next_block.max(block + 1);
        if let Some(max) = seqs.iter().flatten().max() {
            index.next_seq = index.next_seq.max(max + 1);
        }
        Ok(())
    }

    pub fn finish(self) -> KeyIndex {
        KeyIndex {
            keys: self.keys.finish(),
            ..self.index
        }
    }
}

impl KeyIndex {
    /// Holds `slot` for `key` (a key not held yet).
    fn insert(&mut self, key: &str, slot: Slot) -> Result<(), String> {
        self.keys.insert(key, slot.pack()?);
        Ok(())
    }

    /// Moves `key` from `old` to `new`.
    fn replace(&mut self, key: &str, old: Slot, new: Slot) -> Result<(), String> {
        self.keys.replace(key, old.pack()?, new.pack()?);
        Ok(())
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

    /// Where `key` may be (each slot to check against the block's key).
    fn candidates(&self, key: &str) -> impl Iterator<Item = Slot> + '_ {
        self.keys.candidates(key).map(Slot::from)
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// A write in progress: the blocks it touches, decoded, the index and the field firsts it keeps
/// current.
#[derive(Debug)]
pub struct Merge {
    pub index: KeyIndex,
    blocks: BTreeMap<i64, Touched>,
    strings: Interner,
    fields: FieldFirsts,
    /// Field codes whose firsts changed (to write), and those whose first dossier or name went
    /// away (to find again over every block).
    fields_changed: HashSet<String>,
    pub invalidated: HashSet<String>,
}

/// Which of a merge's dirty blocks a write stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    /// Every one: the transaction's last write.
    All,
    /// Those the write forgets. Each bucket's open last block stays held and dirty: a long import
    /// fills it on over several batches and writes it once, when it fills or at the end, rather
    /// than again at every write (a block rewritten is a whole new value to the store).
    Filled,
}

#[derive(Debug)]
struct Touched {
    bucket: i64,
    dossiers: Vec<Dossier>,
    seqs: Vec<Seq>,
    /// False for a dossier moved out during this batch (removed when the batch ends).
    live: Vec<bool>,
    dirty: bool,
}

impl Merge {
    pub fn new(index: KeyIndex) -> Merge {
        Merge::with_fields(index, FieldFirsts::new())
    }

    /// A merge over a source whose field firsts are `fields`.
    pub fn with_fields(index: KeyIndex, fields: FieldFirsts) -> Merge {
        Merge {
            index,
            blocks: BTreeMap::new(),
            strings: Interner::default(),
            fields,
            fields_changed: HashSet::new(),
            invalidated: HashSet::new(),
        }
    }

    /// The stored blocks `records` need that are not loaded yet: those holding their keys, and the
    /// last block of each of their buckets while it has room.
    pub fn needed(&self, records: &[&Dossier]) -> Vec<i64> {
        let buckets: HashSet<i64> = records.iter().map(|d| bucket(d)).collect();
        let mut want: Vec<i64> = records
            .iter()
            .flat_map(|d| self.index.candidates(&d.key).map(|s| s.block))
            .chain(buckets.iter().filter_map(|b| {
                self.index
                    .last
                    .get(b)
                    .filter(|(_, n)| (*n as usize) < BLOCK_SIZE)
                    .map(|(block, _)| *block)
            }))
            .filter(|b| !self.blocks.contains_key(b))
            .collect();
        want.sort_unstable();
        want.dedup();
        want
    }

    /// Adds a stored block of `bucket`, read because [`Merge::needed`] asked for it.
    pub fn load(&mut self, block: i64, bucket: i64, bytes: &[u8]) -> Result<(), String> {
        let mut dossiers = Vec::new();
        let mut seqs = Vec::new();
        decode_onto(bytes, &mut self.strings, &mut dossiers, Some(&mut seqs))?;
        if seqs.len() != dossiers.len() {
            return Err(format!(
                "block {block} has no sequences (the layout before buckets); it must be laid out again"
            ));
        }
        let live = vec![true; dossiers.len()];
        self.blocks.insert(
            block,
            Touched {
                bucket,
                dossiers,
                seqs,
                live,
                dirty: false,
            },
        );
        Ok(())
    }

    /// Applies the replacement rule to each record: a new key goes to the last block of its
    /// bucket (a new block when it is full); an existing one is replaced when the incoming
    /// CapNhatLuc is later (an absent one is older than any), or equal with a different record —
    /// in place, or moved to its new bucket. Every block [`Merge::needed`] named must be loaded.
    pub fn add(&mut self, records: &[&Dossier]) -> Result<UpsertCounts, String> {
        let mut counts = UpsertCounts::default();
        let mut shrunk: HashSet<i64> = HashSet::new();
        for d in records {
            let to = bucket(d);
            let found = self.index.candidates(&d.key).find(|slot| {
                self.blocks.get(&slot.block).is_some_and(|b| {
                    b.dossiers
                        .get(slot.at as usize)
                        .is_some_and(|stored| stored.key == d.key)
                        && b.live[slot.at as usize]
                })
            });
            let Some(slot) = found else {
                let seq = self.index.next_seq;
                self.index.next_seq += 1;
                let placed = self.append(to, (*d).clone(), seq)?;
                self.index.insert(&d.key, placed)?;
                self.note_new(d, seq);
                counts.new += 1;
                continue;
            };
            let block = self.blocks.get_mut(&slot.block).expect("loaded");
            let stored = &block.dossiers[slot.at as usize];
            let (old, new) = (
                stored.updated_at.get().map_or(i64::MIN, |i| i.0),
                d.updated_at.get().map_or(i64::MIN, |i| i.0),
            );
            if !(new > old || (new == old && *stored != **d)) {
                counts.unchanged += 1;
                continue;
            }
            let seq = block.seqs[slot.at as usize];
            let before = stored.clone();
            if block.bucket == to {
                block.dossiers[slot.at as usize] = (*d).clone();
                block.dirty = true;
            } else {
                block.live[slot.at as usize] = false;
                block.dirty = true;
                shrunk.insert(slot.block);
                let placed = self.append(to, (*d).clone(), seq)?;
                self.index.replace(&d.key, slot, placed)?;
            }
            self.note_replaced(&before, d, seq);
            counts.updated += 1;
        }
        for block in shrunk {
            self.compact(block)?;
        }
        Ok(counts)
    }

    /// Puts a dossier at the end of its bucket's last block (or a new one); where it went.
    fn append(&mut self, bucket: i64, d: Dossier, seq: Seq) -> Result<Slot, String> {
        let (block, at) = match self.index.last.get(&bucket) {
            Some(&(b, n)) if (n as usize) < BLOCK_SIZE => (b, n),
            _ => {
                let b = self.index.next_block;
                self.index.next_block += 1;
                (b, 0)
            }
        };
        let touched = self.blocks.entry(block).or_insert_with(|| Touched {
            bucket,
            dossiers: Vec::new(),
            seqs: Vec::new(),
            live: Vec::new(),
            dirty: true,
        });
        if touched.dossiers.len() != at as usize || touched.bucket != bucket {
            return Err(format!(
                "block {block} holds {} dossiers of bucket {} where the index says {at} of bucket {bucket}; this is a bug, please report it",
                touched.dossiers.len(),
                touched.bucket
            ));
        }
        touched.dossiers.push(d);
        touched.seqs.push(seq);
        touched.live.push(true);
        touched.dirty = true;
        self.index.last.insert(bucket, (block, at + 1));
        Ok(Slot { block, at })
    }

    /// Removes the dossiers moved out of a block; those after them move up, and the index with
    /// them.
    fn compact(&mut self, block: i64) -> Result<(), String> {
        let t = self.blocks.get_mut(&block).expect("loaded");
        let mut kept = 0u32;
        let mut moves = Vec::new();
        let taken: Vec<(Dossier, Seq, bool)> = std::mem::take(&mut t.dossiers)
            .into_iter()
            .zip(std::mem::take(&mut t.seqs))
            .zip(std::mem::take(&mut t.live))
            .map(|((d, s), l)| (d, s, l))
            .collect();
        for (at, (d, seq, live)) in taken.into_iter().enumerate() {
            if !live {
                continue;
            }
            if at as u32 != kept {
                moves.push((d.key.clone(), at as u32, kept));
            }
            t.dossiers.push(d);
            t.seqs.push(seq);
            t.live.push(true);
            kept += 1;
        }
        if let Some(last) = self.index.last.get_mut(&t.bucket)
            && last.0 == block
        {
            last.1 = kept;
        }
        for (key, from, to) in moves {
            self.index
                .replace(&key, Slot { block, at: from }, Slot { block, at: to })?;
        }
        Ok(())
    }

    fn note_new(&mut self, d: &Dossier, seq: Seq) {
        self.note(d, seq);
    }

    /// A stored dossier became `after`: its field's firsts follow, and a field it left (or whose
    /// name it emptied) is found again if it held that field's firsts.
    fn note_replaced(&mut self, before: &Dossier, after: &Dossier, seq: Seq) {
        if let Some(f) = self.fields.get(&*before.field_code) {
            let held_first = f.first_seq == seq;
            let held_label = f.label_seq == Some(seq);
            let moved = before.field_code != after.field_code;
            if (moved && (held_first || held_label)) || (held_label && after.field_name.is_empty())
            {
                self.invalidated.insert(before.field_code.to_string());
            }
        }
        self.note(after, seq);
    }

    /// Dossier `d`, of sequence `seq`, as stored now: its field's firsts take it if it comes first.
    /// (Called for every dossier written: nothing is allocated unless a first changes.)
    fn note(&mut self, d: &Dossier, seq: Seq) {
        let (code, name) = (&*d.field_code, &*d.field_name);
        let Some(f) = self.fields.get_mut(code) else {
            self.fields.insert(code.to_owned(), FieldFirst::of(d, seq));
            self.fields_changed.insert(code.to_owned());
            return;
        };
        let mut changed = false;
        if seq < f.first_seq
            || (seq == f.first_seq && (f.first_unit != *d.unit_code || f.first_name != name))
        {
            let first = FieldFirst::of(d, seq);
            f.first_seq = seq;
            f.first_key = first.first_key;
            f.first_unit = first.first_unit;
            f.first_name = first.first_name;
            changed = true;
        }
        if !name.is_empty() {
            let takes = match f.label_seq {
                None => true,
                Some(l) => seq < l || (seq == l && f.label != name),
            };
            if takes {
                f.label_seq = Some(seq);
                f.label = name.to_owned();
                changed = true;
            }
        }
        if changed && !self.fields_changed.contains(code) {
            self.fields_changed.insert(code.to_owned());
        }
    }

    /// The field firsts to write: (code, its firsts).
    pub fn changed_fields(&self) -> Vec<(&str, &FieldFirst)> {
        let mut out: Vec<(&str, &FieldFirst)> = self
            .fields_changed
            .iter()
            .filter_map(|c| self.fields.get(c).map(|f| (c.as_str(), f)))
            .collect();
        out.sort_by_key(|(c, _)| *c);
        out
    }

    /// The firsts of the invalidated codes, found again over `all` (every block of the source,
    /// as (dossiers, sequences)): each code's firsts as they are now, `None` when no dossier has
    /// it any more.
    pub fn refind(
        &mut self,
        all: &[(Vec<Dossier>, Vec<Seq>)],
    ) -> Vec<(String, Option<FieldFirst>)> {
        let mut found: HashMap<&str, FieldFirst> = HashMap::new();
        for (dossiers, seqs) in all {
            for (d, &seq) in dossiers.iter().zip(seqs) {
                if !self.invalidated.contains(&*d.field_code) {
                    continue;
                }
                let f = found
                    .entry(&d.field_code)
                    .or_insert_with(|| FieldFirst::of(d, seq));
                if seq < f.first_seq {
                    let FieldFirst {
                        first_seq,
                        first_key,
                        first_unit,
                        first_name,
                        ..
                    } = FieldFirst::of(d, seq);
                    (f.first_seq, f.first_key, f.first_unit, f.first_name) =
                        (first_seq, first_key, first_unit, first_name);
                }
                if !d.field_name.is_empty() && f.label_seq.is_none_or(|l| seq < l) {
                    f.label_seq = Some(seq);
                    f.label = d.field_name.to_string();
                }
            }
        }
        let out: Vec<(String, Option<FieldFirst>)> = self
            .invalidated
            .iter()
            .map(|c| (c.clone(), found.get(c.as_str()).cloned()))
            .collect();
        for (code, f) in &out {
            match f {
                Some(f) => {
                    self.fields.insert(code.clone(), f.clone());
                }
                None => {
                    self.fields.remove(code);
                }
            }
            self.fields_changed.remove(code);
        }
        self.invalidated.clear();
        out
    }

    /// The blocks to write (`which` of the dirty ones): id, bucket, dossiers in it, encoded bytes
    /// (an emptied block: none).
    pub fn dirty(&self, which: Write) -> Vec<(i64, i64, usize, Vec<u8>)> {
        let open = self.kept_open(which);
        self.blocks
            .iter()
            .filter(|(id, b)| b.dirty && !open.contains(id))
            .map(|(id, b)| {
                (
                    *id,
                    b.bucket,
                    b.dossiers.len(),
                    encode(&b.dossiers, &b.seqs),
                )
            })
            .collect()
    }

    /// Forgets the decoded blocks once `which` of them were written (a long import holds a few at
    /// a time), but for each bucket's last block while it has room: the next batch fills it on.
    pub fn written(&mut self, which: Write) {
        let open: HashSet<i64> = self.open_blocks();
        let unwritten = self.kept_open(which);
        self.blocks.retain(|id, b| {
            if !unwritten.contains(id) {
                b.dirty = false;
            }
            open.contains(id)
        });
    }

    /// The open blocks a write of `which` leaves unwritten.
    fn kept_open(&self, which: Write) -> HashSet<i64> {
        match which {
            Write::All => HashSet::new(),
            Write::Filled => self.open_blocks(),
        }
    }

    /// Each bucket's last block while it has room.
    fn open_blocks(&self) -> HashSet<i64> {
        self.index
            .last
            .values()
            .filter(|(_, n)| (*n as usize) < BLOCK_SIZE)
            .map(|(b, _)| *b)
            .collect()
    }

    /// Blocks held decoded that a write would forget (not counting the buckets' open last
    /// blocks).
    pub fn held(&self) -> usize {
        let open = self.open_blocks();
        self.blocks.keys().filter(|b| !open.contains(b)).count()
    }

    /// The index, kept current by the merge.
    pub fn into_index(self) -> KeyIndex {
        self.index
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2023-07-20 10:00 local (a finish day in July's second half).
    const JULY_20: i64 = 1_689_822_000;
    const DAY: i64 = 86_400;

    fn dossier(key: &str, updated: i64) -> Dossier {
        Dossier {
            key: key.into(),
            procedure_code: "1.0".into(),
            field_code: "F".into(),
            field_name: "Lĩnh vực".into(),
            unit_code: "U".into(),
            channel: "2".into(),
            status: Status::new(9).unwrap(),
            received_at: Some(Instant(JULY_20 - 3 * DAY)).into(),
            due_at: None.into(),
            supplement_requested_at: Some(Instant(-5)).into(),
            finished_at: Some(Instant(JULY_20)).into(),
            returned_at: None.into(),
            updated_at: Some(Instant(updated)).into(),
            result_kind: ResultKind::Withdrawal,
            deleted: key.ends_with('x'),
        }
    }

    fn day(text: &str) -> chrono::NaiveDate {
        text.parse().unwrap()
    }

    /// A block as the layout before sequences wrote it: the same bytes without them.
    fn v1(dossiers: &[Dossier]) -> Vec<u8> {
        let seqs: Vec<Seq> = (0..dossiers.len() as i64).collect();
        let v2 = encode(dossiers, &seqs);
        let keys: usize = dossiers.iter().map(|d| d.key.len()).sum();
        let mut at = 12;
        let entries = u32::from_le_bytes(v2[8..12].try_into().unwrap());
        for _ in 0..entries {
            at += 4 + u32::from_le_bytes(v2[at..at + 4].try_into().unwrap()) as usize;
        }
        at += 4 * dossiers.len() + keys;
        let mut out = v2[..at].to_vec();
        out.extend_from_slice(&v2[at + 8 * dossiers.len()..]);
        out[..4].copy_from_slice(&MAGIC_V1.to_le_bytes());
        out
    }

    /// The index as the store builds it: from each block's head alone, the blocks in any order
    /// (here the last first).
    fn index_of(blocks: &[(i64, i64, usize, Vec<u8>)]) -> KeyIndex {
        let mut index = KeyIndexBuilder::new(1, 0);
        for (block, bucket, n, bytes) in blocks.iter().rev() {
            if *n > 0 {
                let head = &bytes[..head_bytes(bytes).unwrap()];
                index.add_block(*block, *bucket, head).unwrap();
            }
        }
        index.finish()
    }

    #[test]
    fn a_block_s_head_holds_its_keys_and_sequences_and_no_more() {
        let d = vec![dossier("A-1", 10), dossier("Hồ sơ 2", 11)];
        let bytes = encode(&d, &[4, 5]);
        // Magic, count and text count; the five texts the two share, each once with its
        // length; the key lengths, the keys, the sequences.
        let texts: usize = ["1.0", "F", "Lĩnh vực", "U", "2"]
            .iter()
            .map(|t| 4 + t.len())
            .sum();
        let keys = 4 + "A-1".len() + 4 + "Hồ sơ 2".len();
        let head = head_bytes(&bytes).unwrap();
        assert_eq!(head, 12 + texts + keys + 16);
        assert_eq!(
            keys_and_seqs(&bytes[..head]).unwrap(),
            (vec!["A-1", "Hồ sơ 2"], Some(vec![4, 5]))
        );
        assert!(keys_and_seqs(&bytes[..head - 1]).is_err());
    }

    #[test]
    fn a_block_decodes_to_what_was_encoded_with_its_sequences() {
        let mut d = vec![
            dossier("A-1", 10),
            dossier("Bx", 11),
            dossier("Hồ sơ 3", 12),
        ];
        d[1].channel = "x".into();
        d[2].result_kind = ResultKind::Other;
        d[2].status = Status::new(2).unwrap();
        let bytes = encode(&d, &[7, 3, 9]);
        let (decoded, seqs) = decode_with_seqs(&bytes, &mut Interner::default()).unwrap();
        assert_eq!((decoded, seqs), (d.clone(), vec![7, 3, 9]));
        assert_eq!(keys(&bytes).unwrap(), ["A-1", "Bx", "Hồ sơ 3"]);
        assert_eq!(
            decode(&encode(&[], &[]), &mut Interner::default()).unwrap(),
            []
        );
        // A block of the layout before sequences still reads, without them.
        let old = v1(&d);
        let (decoded, seqs) = decode_with_seqs(&old, &mut Interner::default()).unwrap();
        assert_eq!((decoded, seqs), (d, vec![]));
    }

    #[test]
    fn a_damaged_block_is_an_error_not_a_panic() {
        let bytes = encode(&[dossier("A", 1), dossier("B", 2)], &[0, 1]);
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
    fn a_dossier_is_bucketed_by_what_periods_read_of_it() {
        let closed = dossier("A", 1);
        // 2023-07-20 local is in July's second half; the 14th in its first.
        assert_eq!(bucket(&closed), day_bucket(day("2023-07-15")));
        assert_eq!(
            day_bucket(day("2023-07-14")) + 1,
            day_bucket(day("2023-07-15"))
        );
        assert_eq!(
            day_bucket(day("2023-07-31")) + 1,
            day_bucket(day("2023-08-01"))
        );
        assert_eq!(
            day_bucket(day("2023-12-20")) + 1,
            day_bucket(day("2024-01-01"))
        );
        // The local day decides: 16:59:59 UTC on the 14th is its last second, 17:00 the 15th.
        let mut evening = dossier("E", 1);
        evening.received_at = Some(Instant(JULY_20 - 30 * DAY)).into();
        evening.finished_at = Some(Instant(1_689_353_999)).into(); // 2023-07-14 23:59:59 local
        assert_eq!(bucket(&evening), day_bucket(day("2023-07-14")));
        evening.finished_at = Some(Instant(1_689_354_000)).into(); // 2023-07-15 00:00:00 local
        assert_eq!(bucket(&evening), day_bucket(day("2023-07-15")));
        let with = |f: &dyn Fn(&mut Dossier)| {
            let mut d = dossier("X1", 1);
            f(&mut d);
            bucket(&d)
        };
        assert_eq!(
            with(&|d| d.status = Status::new(4).unwrap()),
            ALWAYS,
            "open"
        );
        assert_eq!(
            with(&|d| d.status = Status::new(5).unwrap()),
            ALWAYS,
            "paused"
        );
        assert_eq!(with(&|d| d.received_at = None.into()), ALWAYS, "no TN");
        assert_eq!(
            with(&|d| d.finished_at = None.into()),
            ALWAYS,
            "9 without KT"
        );
        assert_eq!(
            with(&|d| {
                d.status = Status::new(7).unwrap();
                d.finished_at = None.into();
            }),
            ALWAYS,
            "7 without KT: still pending"
        );
        assert_eq!(
            with(&|d| d.received_at = Some(Instant(JULY_20 + DAY)).into()),
            ALWAYS,
            "finished before received"
        );
        assert_eq!(with(&|d| d.status = Status::new(1).unwrap()), NEVER);
        assert_eq!(with(&|d| d.status = Status::new(3).unwrap()), NEVER);
        assert_eq!(with(&|d| d.deleted = true), NEVER);
        assert_eq!(
            with(&|d| d.status = Status::new(7).unwrap()),
            day_bucket(day("2023-07-15")),
            "withdrawn with KT closes like a resolved one"
        );
    }

    #[test]
    fn a_write_of_the_filled_blocks_keeps_each_bucket_s_open_block_until_the_last_write() {
        let mut merge = Merge::new(KeyIndex::default());
        let july = day_bucket(day("2023-07-15"));
        let first: Vec<Dossier> = (0..BLOCK_SIZE + 2)
            .map(|i| dossier(&format!("K{i}"), 5))
            .collect();
        merge.add(&first.iter().collect::<Vec<_>>()).unwrap();
        let shape = |d: &[(i64, i64, usize, Vec<u8>)]| -> Vec<(i64, i64, usize)> {
            d.iter().map(|(b, k, n, _)| (*b, *k, *n)).collect()
        };
        assert_eq!(
            shape(&merge.dirty(Write::Filled)),
            [(0, july, BLOCK_SIZE)],
            "the open block 1 (2 dossiers, room left) is not written yet"
        );
        merge.written(Write::Filled);
        assert_eq!(merge.held(), 0, "the filled block is forgotten");
        let second: Vec<Dossier> = (0..3).map(|i| dossier(&format!("L{i}"), 5)).collect();
        let refs: Vec<&Dossier> = second.iter().collect();
        assert!(
            merge.needed(&refs).is_empty(),
            "the open block is still held: nothing to read back"
        );
        merge.add(&refs).unwrap();
        assert!(merge.dirty(Write::Filled).is_empty());
        let last = merge.dirty(Write::All);
        assert_eq!(
            shape(&last),
            [(1, july, 5)],
            "both batches' dossiers, written once"
        );
        let (held, _) = decode_with_seqs(&last[0].3, &mut Interner::default()).unwrap();
        let keys: Vec<&str> = held.iter().map(|d| &*d.key).collect();
        let expected = [
            format!("K{BLOCK_SIZE}"),
            format!("K{}", BLOCK_SIZE + 1),
            "L0".into(),
            "L1".into(),
            "L2".into(),
        ];
        assert_eq!(
            keys,
            expected.iter().map(String::as_str).collect::<Vec<_>>()
        );
        merge.written(Write::All);
        assert!(merge.dirty(Write::All).is_empty());
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
        let july = day_bucket(day("2023-07-15"));
        let dirty = merge.dirty(Write::All);
        assert_eq!(
            dirty
                .iter()
                .map(|(b, k, n, _)| (*b, *k, *n))
                .collect::<Vec<_>>(),
            [(0, july, BLOCK_SIZE), (1, july, 2)]
        );
        // Written, then a second write with a fresh merge over the same index.
        let stored: HashMap<i64, Vec<u8>> = dirty
            .into_iter()
            .map(|(b, _, _, bytes)| (b, bytes))
            .collect();
        let mut merge = Merge::new(merge.into_index());
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
            merge.load(b, july, &stored[&b]).unwrap();
        }
        let counts = merge.add(&batch).unwrap();
        assert_eq!((counts.new, counts.updated, counts.unchanged), (1, 2, 2));
        let dirty = merge.dirty(Write::All);
        assert_eq!(
            dirty
                .iter()
                .map(|(b, _, n, _)| (*b, *n))
                .collect::<Vec<_>>(),
            [(0, BLOCK_SIZE), (1, 3)]
        );
        let (block0, seqs0) = decode_with_seqs(&dirty[0].3, &mut Interner::default()).unwrap();
        assert_eq!(block0[1], newer);
        assert_eq!(block0[3], changed_same_time);
        assert_eq!(
            seqs0[..4],
            [0, 1, 2, 3],
            "a replaced dossier keeps its sequence"
        );
        let (_, seqs1) = decode_with_seqs(&dirty[1].3, &mut Interner::default()).unwrap();
        assert_eq!(seqs1, [4096, 4097, 4098], "a new one takes the next");
        let index = merge.into_index();
        assert_eq!(index.len(), BLOCK_SIZE + 3);
        assert_eq!(index.last.get(&july), Some(&(1, 3)));
        // The index rebuilt from the blocks agrees.
        let rebuilt = index_of(&dirty);
        assert_eq!(
            (rebuilt.len(), rebuilt.last.get(&july), rebuilt.next_seq),
            (BLOCK_SIZE + 3, Some(&(1, 3)), 4099)
        );
    }

    #[test]
    fn a_dossier_whose_bucket_changes_moves_and_its_block_closes_the_gap() {
        let mut merge = Merge::new(KeyIndex::default());
        let first: Vec<Dossier> = (0..5).map(|i| dossier(&format!("K{i}"), 5)).collect();
        merge.add(&first.iter().collect::<Vec<_>>()).unwrap();
        let stored = merge.dirty(Write::All);
        let july = day_bucket(day("2023-07-15"));
        let mut merge = Merge::new(merge.into_index());
        // K1 is reopened (open: every period's), K3 deleted (no period's).
        let mut reopened = dossier("K1", 6);
        reopened.status = Status::new(4).unwrap();
        let mut deleted = dossier("K3", 6);
        deleted.deleted = true;
        let batch = [&reopened, &deleted];
        for b in merge.needed(&batch) {
            let (_, bucket, _, bytes) = stored.iter().find(|s| s.0 == b).unwrap();
            merge.load(b, *bucket, bytes).unwrap();
        }
        let counts = merge.add(&batch).unwrap();
        assert_eq!(counts.updated, 2);
        let dirty = merge.dirty(Write::All);
        let by_bucket: HashMap<i64, (Vec<Dossier>, Vec<Seq>)> = dirty
            .iter()
            .map(|(_, k, _, bytes)| {
                (
                    *k,
                    decode_with_seqs(bytes, &mut Interner::default()).unwrap(),
                )
            })
            .collect();
        let keys_of = |k: i64| -> Vec<(String, Seq)> {
            let (d, s) = &by_bucket[&k];
            d.iter()
                .map(|d| d.key.to_string())
                .zip(s.iter().copied())
                .collect()
        };
        assert_eq!(
            keys_of(july),
            [("K0".into(), 0), ("K2".into(), 2), ("K4".into(), 4)],
            "the July block closes the gaps"
        );
        assert_eq!(keys_of(ALWAYS), [("K1".into(), 1)]);
        assert_eq!(keys_of(NEVER), [("K3".into(), 3)]);
        // Every key is found where it is now; the index rebuilt from the blocks agrees.
        let index = merge.into_index();
        let rebuilt = index_of(&dirty);
        for (key, k) in [
            ("K0", july),
            ("K1", ALWAYS),
            ("K2", july),
            ("K3", NEVER),
            ("K4", july),
        ] {
            let (block, _, _, _) = dirty.iter().find(|d| d.1 == k).unwrap();
            assert_eq!(index.blocks_of([key]), [*block], "{key}");
            assert_eq!(rebuilt.blocks_of([key]), [*block], "{key}");
        }
        assert_eq!(index.last.get(&july).map(|l| l.1), Some(3));
        // Read back in any bucket order, the sequences give the first-stored order.
        let mut all = Vec::new();
        let mut seqs = Vec::new();
        for k in [NEVER, ALWAYS, july] {
            all.extend(by_bucket[&k].0.clone());
            seqs.extend(by_bucket[&k].1.clone());
        }
        order_by_seq(&mut all, &seqs);
        let keys: Vec<&str> = all.iter().map(|d| &*d.key).collect();
        assert_eq!(keys, ["K0", "K1", "K2", "K3", "K4"]);
    }

    #[test]
    fn ordering_by_sequence_is_a_permutation() {
        let mut d: Vec<Dossier> = (0..7).map(|i| dossier(&format!("D{i}"), i)).collect();
        let seqs = [40, 10, 60, 0, 30, 20, 50];
        order_by_seq(&mut d, &seqs);
        let order: Vec<i64> = d.iter().map(|d| d.updated_at.get().unwrap().0).collect();
        assert_eq!(order, [3, 1, 5, 4, 0, 6, 2]);
    }

    #[test]
    fn field_firsts_follow_the_first_dossier_and_the_first_name() {
        let with = |key: &str, code: &str, name: &str, updated: i64| {
            let mut d = dossier(key, updated);
            d.field_code = code.into();
            d.field_name = name.into();
            d
        };
        let mut merge = Merge::new(KeyIndex::default());
        let a = with("A", "F1", "", 1);
        let b = with("B", "F1", "Tên cũ", 1);
        let c = with("C", "F2", "Hai", 1);
        merge.add(&[&a, &b, &c]).unwrap();
        let first = |m: &Merge, code: &str| m.fields.get(code).cloned();
        let f1 = first(&merge, "F1").unwrap();
        assert_eq!(
            (
                f1.first_key.as_str(),
                f1.first_name.as_str(),
                f1.label.as_str()
            ),
            ("A", "", "Tên cũ"),
            "the first dossier carries no name; the label is the first name seen"
        );
        // A gains a name: it is first, so its name is the label now.
        let a2 = with("A", "F1", "Tên mới", 2);
        merge.add(&[&a2]).unwrap();
        let f1 = first(&merge, "F1").unwrap();
        assert_eq!(
            (f1.first_name.as_str(), f1.label.as_str()),
            ("Tên mới", "Tên mới")
        );
        assert!(merge.invalidated.is_empty());
        // A moves to F2: F1's firsts must be found again (B now), F2's first stays C (A came first,
        // so A takes it).
        let a3 = with("A", "F2", "", 3);
        merge.add(&[&a3]).unwrap();
        assert!(merge.invalidated.contains("F1"));
        let f2 = first(&merge, "F2").unwrap();
        assert_eq!((f2.first_key.as_str(), f2.label.as_str()), ("A", "Hai"));
        let all: Vec<(Vec<Dossier>, Vec<Seq>)> = merge
            .dirty(Write::All)
            .iter()
            .map(|(_, _, _, bytes)| decode_with_seqs(bytes, &mut Interner::default()).unwrap())
            .collect();
        let refound = merge.refind(&all);
        let f1 = refound[0].1.clone().unwrap();
        assert_eq!(
            (
                refound[0].0.as_str(),
                f1.first_key.as_str(),
                f1.label.as_str()
            ),
            ("F1", "B", "Tên cũ")
        );
        assert_eq!(
            merge
                .changed_fields()
                .iter()
                .map(|(c, _)| *c)
                .collect::<Vec<_>>(),
            ["F2"],
            "F1 was written by the re-find"
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
        merge.index.keys.force_hash("B", slot_of_a.pack().unwrap());
        let counts = merge.add(&[&b]).unwrap();
        assert_eq!(counts.new, 1, "B is not taken for A");
        assert_eq!(merge.index.keys.held_whole(), 1, "B is held whole");
        let again = merge.add(&[&b, &a]).unwrap();
        assert_eq!((again.new, again.unchanged), (0, 2));
    }

    #[test]
    fn a_slot_packs_into_eight_bytes_and_back() {
        for slot in [
            Slot { block: 0, at: 0 },
            Slot {
                block: 123_456,
                at: BLOCK_SIZE as u32 - 1,
            },
            Slot {
                block: (1 << (64 - AT_BITS)) - 1,
                at: (1 << AT_BITS) - 1,
            },
        ] {
            assert_eq!(Slot::from(slot.pack().unwrap()), slot);
        }
        assert!(Slot { block: -1, at: 0 }.pack().is_err());
        assert!(
            Slot {
                block: 1 << (64 - AT_BITS),
                at: 0
            }
            .pack()
            .is_err()
        );
        assert!(
            Slot {
                block: 0,
                at: 1 << AT_BITS
            }
            .pack()
            .is_err()
        );
    }
}
