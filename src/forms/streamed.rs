//! A dossier table's inputs (II.06a, and II.06 over it) folded from dossiers handed on one at a
//! time, keeping 32 bytes of each instead of the dossier: what `report` reads a large export
//! with, so that ten million lines fit in a few hundred megabytes.
//!
//! Each dossier is placed when it is read, for the period and for the previous one (the column-4
//! check), and its findings are written then, by a [`Placer`] on whichever thread parsed it (a
//! reader parsing on every core places there); the fold then files the placed dossiers in input
//! order ([`Streamed::file`]). What is kept of each is its key's 96-bit hash, its
//! CapNhatLuc, the ids of its unit, field code and field name, and its two placements as bits,
//! its place in the input being its index. A key's text is kept only where a finding may name
//! it: for a key a Bloom filter of the hashes seen says may have been seen before (every repeated
//! key is caught; a few others are kept for nothing) and for the first few dossiers of each field
//! (the `unknown_field` warning names a field's first dossier). At the end, the records whose
//! hash is among the kept keys are sorted by hash and every key read more than once is settled
//! by the rule every reader uses ([`crate::domain::versions`]): the version that counts takes
//! the first one's place, the findings of the versions set aside are dropped.
//!
//! The result is what [`super::compute`] would have found from the whole batch: the same
//! tallies, findings and field history. Where it cannot say so — a field's first dossier is one
//! whose key text was not kept, which takes a field changed between two versions of a key ahead
//! of every other dossier of that field; or more than 65,536 distinct unit, field and name texts
//! — [`Streamed::finish`] says [`Incomplete`] and the caller reads the batch whole. Two different
//! keys with one 96-bit hash would be taken for one (about one chance in 10^15 for ten million
//! keys).

use super::checks::procedure_not_online;
use super::ii06a::{FieldHistory, FieldStart, Placement, Tallied, Window, place, rule_finding};
use super::table::Tally;
use crate::catalog::FieldCatalog;
use crate::domain::unit::UnitId;
use crate::domain::versions::settle;
use crate::domain::{Dossier, Finding, FindingCode, Moment, Period, UnitTree};
use smallvec::SmallVec;
use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasher;
use std::sync::Arc;

/// How many dossiers are handed on before the first of them is filed: time to fetch their filter
/// blocks.
const AHEAD: usize = 16;
/// How many dossiers of each field keep their key's text in case one is the field's first.
const FIELD_FIRSTS: usize = 4;
/// Bit of a placement: counted (the low eleven bits are its columns).
const COUNTED: u16 = 1 << 15;
/// Bit of `now`: a version set aside for another of its key.
const SET_ASIDE: u16 = 1 << 14;
/// Bit of `now`: its key's text is kept in `repeated` (the filter said it may have been seen).
const REPEATED: u16 = 1 << 13;
const COLUMNS: u16 = (1 << 11) - 1;

/// What is kept of one dossier: 32 bytes. Its place is its index among the kept records.
#[derive(Debug, Clone, Copy)]
struct Placed {
    hash: u64,
    updated: Moment,
    hash_more: u32,
    unit: u16,
    field: u16,
    name: u16,
    now: u16,
    before: u16,
}

const _: () = assert!(std::mem::size_of::<Placed>() == 32);

/// What places a dossier: the part of the fold any thread can run ([`Placer::prepare`]), so that
/// a reader parsing on several threads places there and hands on only what is kept.
#[derive(Clone, Copy)]
pub struct Placer<'a> {
    units: &'a UnitTree,
    now: Window,
    before: Option<Window>,
    procedures: Option<&'a FieldCatalog>,
}

/// A dossier placed, before it is filed in the fold: its key, its shared texts and what the
/// rules found of it.
///
/// The key is copied in (a real MaHoSo, ~30 bytes, fits in place): the fold keeps few keys' texts,
/// and freeing each dossier's own key on the folding thread, away from the thread that allocated
/// it, took the allocator's locks against the parsing threads (at ten million lines the
/// allocator's share of the time doubled).
pub struct Prepared {
    hash: u64,
    hash_more: u32,
    updated: Moment,
    now: u16,
    before: u16,
    key: SmallVec<[u8; 32]>,
    texts: [Arc<str>; 3],
    notes: Vec<Note>,
}

/// A rule's finding as placing writes it, before the fold knows the unit's id.
enum Note {
    Rule(FindingCode, Cow<'static, str>),
    Full(Box<Finding>),
}

impl Placer<'_> {
    /// Places one readable dossier for the period and the previous one and writes its findings.
    /// Its key and its unit, field and name texts are moved into what is returned; the rest is
    /// freed here, on the thread that read it.
    pub fn prepare(&self, d: Dossier) -> Prepared {
        let (hash, hash_more) = key_hash(&d.key);
        let mut notes = Vec::new();
        let now = match place(&d, self.now, self.units) {
            Placement::Outside => 0,
            Placement::Error(code, message) => {
                notes.push(Note::Rule(code, message));
                0
            }
            Placement::Counted {
                columns, warning, ..
            } => {
                if let Some((code, message)) = warning {
                    notes.push(Note::Rule(code, message));
                }
                if let Some(catalog) = self.procedures {
                    notes.extend(
                        procedure_not_online(&d, &columns, catalog)
                            .map(|f| Note::Full(Box::new(f))),
                    );
                }
                COUNTED | bits(&columns)
            }
        };
        let before = match self.before.map(|w| place(&d, w, self.units)) {
            Some(Placement::Counted { columns, .. }) => COUNTED | bits(&columns),
            _ => 0,
        };
        let Dossier {
            key,
            field_code,
            field_name,
            unit_code,
            updated_at,
            ..
        } = d;
        Prepared {
            hash,
            hash_more,
            updated: updated_at,
            now,
            before,
            key: SmallVec::from_slice(key.as_bytes()),
            texts: [unit_code, field_code, field_name],
            notes,
        }
    }
}

/// A key's text from its copied bytes (copied from a `str`: always UTF-8, nothing replaced).
fn key_text(key: &[u8]) -> Box<str> {
    String::from_utf8_lossy(key).into()
}

/// The period's inputs folded so far.
pub struct Streamed<'a> {
    placer: Placer<'a>,
    records: Vec<Placed>,
    texts: Texts,
    /// Findings of the rules, by the place of the dossier they are about, noted in brief until
    /// the kept records are freed.
    findings: Vec<(u32, Noted)>,
    seen: Seen,
    /// Dossiers handed on whose filter block is being fetched (see [`Streamed::file`]).
    ahead: VecDeque<Prepared>,
    /// Key texts of the versions the filter may have seen before, by hash.
    repeated: HashMap<(u64, u32), Box<str>, foldhash::fast::RandomState>,
    /// By field id: the places and key texts of its first dossiers.
    field_firsts: Vec<Vec<(u32, Box<str>)>>,
    /// Set when the input holds more dossiers than places can be counted in, or more distinct
    /// texts than ids.
    overflow: bool,
}

/// The fold cannot give the whole read's result (a field's first dossier had no key text kept,
/// or the input has more dossiers or distinct texts than ids): read the batch whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Incomplete;

/// What the fold found: the tallies and rule findings, the fields' history, and the
/// `duplicate_record` warnings (findings of the read, by the place of the version set aside).
#[derive(Debug)]
pub struct Folded {
    pub tallied: Tallied,
    pub fields: FieldHistory,
    pub duplicates: Vec<Finding>,
}

impl<'a> Streamed<'a> {
    /// A fold for `period` (and `previous`, the column-4 check's, when given); with
    /// `procedures`, the `procedure_not_online` check. `expected` dossiers size its filter.
    pub fn new(
        units: &'a UnitTree,
        period: &Period,
        previous: Option<&Period>,
        procedures: Option<&'a FieldCatalog>,
        expected: usize,
    ) -> Streamed<'a> {
        Streamed {
            placer: Placer {
                units,
                now: Window::from(period),
                before: previous.map(Window::from),
                procedures,
            },
            records: Vec::new(),
            texts: Texts::default(),
            findings: Vec::new(),
            seen: Seen::new(expected),
            ahead: VecDeque::with_capacity(AHEAD + 1),
            repeated: HashMap::default(),
            field_firsts: Vec::new(),
            overflow: false,
        }
    }

    /// Room for `n` more dossiers (untouched room costs no memory).
    pub fn reserve(&mut self, n: usize) {
        self.records.reserve(n);
    }

    /// What places dossiers for this fold, on any thread.
    pub fn placer(&self) -> Placer<'a> {
        self.placer
    }

    /// Files one dossier placed by [`Placer::prepare`], in input order: keeps its 32 bytes, its
    /// key's text where a finding may name it, and its findings in brief.
    ///
    /// The dossier is filed [`AHEAD`] dossiers later: its filter block is fetched now, and each
    /// block was a cache miss (a tenth of the whole report's time at ten million lines, where
    /// the filter is 16 MB), now waited for while the dossiers before it are filed.
    pub fn file(&mut self, p: Prepared) {
        self.seen.prefetch(p.hash);
        self.ahead.push_back(p);
        if self.ahead.len() > AHEAD
            && let Some(p) = self.ahead.pop_front()
        {
            self.file_now(p);
        }
    }

    /// Files one dossier now. The counts of its shared texts are left raised: they are a
    /// reader's interned texts (alive as long as its interner, which holds them), and lowering each count from
    /// this thread, while the reader's threads raise it for the next dossiers, moved those
    /// counts' cache lines between cores.
    fn file_now(&mut self, p: Prepared) {
        let ids = p.texts.each_ref().map(|t| self.texts.id(t));
        let Prepared {
            hash,
            hash_more,
            updated,
            now,
            before,
            key,
            texts,
            notes,
        } = p;
        std::mem::forget(texts);
        let Ok(seq) = u32::try_from(self.records.len()) else {
            self.overflow = true;
            return;
        };
        let [Some(unit), Some(field), Some(name)] = ids else {
            self.overflow = true;
            return;
        };
        if self.seen.insert(hash, hash_more) {
            self.repeated
                .entry((hash, hash_more))
                .or_insert_with(|| key_text(&key));
        }
        if self.field_firsts.len() <= usize::from(field) {
            self.field_firsts
                .resize_with(usize::from(field) + 1, Vec::new);
        }
        let firsts = &mut self.field_firsts[usize::from(field)];
        if firsts.len() < FIELD_FIRSTS {
            firsts.push((seq, key_text(&key)));
        }
        for note in notes {
            let noted = match note {
                Note::Rule(code, message) => Noted::Rule {
                    code,
                    unit,
                    key: key_text(&key),
                    message,
                },
                Note::Full(f) => Noted::Full(f),
            };
            self.findings.push((seq, noted));
        }
        self.records.push(Placed {
            hash,
            updated,
            hash_more,
            unit,
            field,
            name,
            now,
            before,
        });
    }

    /// Settles duplicates and tallies what counts.
    pub fn finish(mut self) -> Result<Folded, Incomplete> {
        while let Some(p) = self.ahead.pop_front() {
            self.file_now(p);
        }
        if self.overflow {
            return Err(Incomplete);
        }
        let mut set_aside: Vec<u32> = Vec::new();
        // Where a kept version counts, when not in its own place (the first version's).
        let mut moved: HashMap<u32, u32, foldhash::fast::RandomState> = HashMap::default();
        let duplicates = self.settle(&mut set_aside, &mut moved)?;
        // (unit, field, columns) → dossiers: a few thousand cells for millions.
        type Cells = HashMap<(u16, u16, u16), u64, foldhash::fast::RandomState>;
        let (mut now, mut before) = (Cells::default(), Cells::default());
        // By field id: its first dossier and its first non-empty name (place, index / name).
        let mut first: HashMap<u16, (u32, u32), foldhash::fast::RandomState> = HashMap::default();
        let mut label: HashMap<u16, (u32, u16), foldhash::fast::RandomState> = HashMap::default();
        for (i, r) in self.records.iter().enumerate() {
            if r.now & SET_ASIDE != 0 {
                continue;
            }
            if r.now & COUNTED != 0 {
                *now.entry((r.unit, r.field, r.now & COLUMNS)).or_default() += 1;
            }
            if r.before & COUNTED != 0 {
                *before
                    .entry((r.unit, r.field, r.before & COLUMNS))
                    .or_default() += 1;
            }
            let i = i as u32;
            let at = moved.get(&i).copied().unwrap_or(i);
            let f = first.entry(r.field).or_insert((at, i));
            if at < f.0 {
                *f = (at, i);
            }
            if !self.texts.get(r.name).is_empty() {
                let l = label.entry(r.field).or_insert((at, r.name));
                if at < l.0 {
                    *l = (at, r.name);
                }
            }
        }
        let mut fields = FieldHistory::default();
        for (&field, &(_, i)) in &first {
            let r = &self.records[i as usize];
            let key = if r.now & REPEATED != 0 {
                self.repeated.get(&(r.hash, r.hash_more))
            } else {
                self.field_firsts[usize::from(field)]
                    .iter()
                    .find(|(seq, _)| *seq == i)
                    .map(|(_, key)| key)
            };
            let Some(key) = key else {
                return Err(Incomplete);
            };
            fields.fields.insert(
                self.texts.get(field).to_string(),
                FieldStart {
                    first_key: key.to_string(),
                    first_unit: self.texts.get(r.unit).to_string(),
                    first_name: self.texts.get(r.name).to_string(),
                    label: label
                        .get(&field)
                        .map_or_else(String::new, |&(_, name)| self.texts.get(name).to_string()),
                },
            );
        }
        // Freed before the findings are written out in full.
        drop(std::mem::take(&mut self.records));
        set_aside.sort_unstable();
        let mut findings = std::mem::take(&mut self.findings);
        findings.retain(|(seq, _)| set_aside.binary_search(seq).is_err());
        let findings: Vec<Finding> = findings
            .into_iter()
            .map(|(_, noted)| noted.into_finding(&self.texts))
            .collect();
        let mut tree: HashMap<u16, Option<UnitId>, foldhash::fast::RandomState> =
            HashMap::default();
        let mut tally = |cells: Cells| {
            let mut t = Tally::default();
            for ((unit, field, columns), times) in cells {
                let at = *tree
                    .entry(unit)
                    .or_insert_with(|| self.placer.units.find(self.texts.get(unit)));
                // Counted means placed in a unit of the tree.
                let Some(at) = at else { continue };
                let facts: [bool; 11] = std::array::from_fn(|c| columns & (1 << c) != 0);
                t.add_times(at, self.texts.arc(field), &facts, times);
            }
            t
        };
        let now = tally(now);
        let before = self.placer.before.map(|_| tally(before));
        Ok(Folded {
            tallied: Tallied {
                now,
                before,
                findings,
            },
            fields,
            duplicates,
        })
    }

    /// Settles every key read more than once. Only a key the filter said may have been seen can
    /// be one, so only the records whose hash is among those kept are sorted, by hash and place.
    /// The version that counts takes the first one's place (`moved`), the others are marked set
    /// aside (their places in `set_aside`). Returns the `duplicate_record` warnings in the order
    /// the versions set aside were read.
    fn settle(
        &mut self,
        set_aside: &mut Vec<u32>,
        moved: &mut HashMap<u32, u32, foldhash::fast::RandomState>,
    ) -> Result<Vec<Finding>, Incomplete> {
        let mut maybe: Vec<(u64, u32, u32)> = Vec::new();
        for (i, r) in self.records.iter_mut().enumerate() {
            if self.repeated.contains_key(&(r.hash, r.hash_more)) {
                r.now |= REPEATED;
                maybe.push((r.hash, r.hash_more, i as u32));
            }
        }
        maybe.sort_unstable();
        let mut warnings: Vec<(u32, Finding)> = Vec::new();
        for group in maybe.chunk_by(|a, b| (a.0, a.1) == (b.0, b.1)) {
            if group.len() < 2 {
                continue;
            }
            let key = &self.repeated[&(group[0].0, group[0].1)];
            let updated: Vec<_> = group
                .iter()
                .map(|&(_, _, i)| self.records[i as usize].updated.get())
                .collect();
            let settled = settle(&updated);
            for w in &settled.warnings {
                let unit = self.texts.get(self.records[group[w.kept].2 as usize].unit);
                let finding = w.finding(
                    crate::domain::RecordKind::Dossier.as_str(),
                    "MaHoSo",
                    key,
                    unit,
                );
                warnings.push((group[w.at].2, finding));
            }
            for (n, &(_, _, i)) in group.iter().enumerate() {
                if n != settled.kept {
                    self.records[i as usize].now |= SET_ASIDE;
                    set_aside.push(i);
                }
            }
            if settled.kept != 0 {
                moved.insert(group[settled.kept].2, group[0].2);
            }
        }
        warnings.sort_by_key(|(at, _)| *at);
        Ok(warnings.into_iter().map(|(_, f)| f).collect())
    }
}

/// A rule's finding as the fold notes it: a placement's (key, unit id, a message most often
/// shared) in a fifth of a finding's bytes, or a finding in full.
enum Noted {
    Rule {
        code: FindingCode,
        unit: u16,
        key: Box<str>,
        message: Cow<'static, str>,
    },
    Full(Box<Finding>),
}

impl Noted {
    /// The finding `ii06a::rule_finding` writes.
    fn into_finding(self, texts: &Texts) -> Finding {
        match self {
            Noted::Rule {
                code,
                unit,
                key,
                message,
            } => rule_finding(&key, texts.get(unit), code, message),
            Noted::Full(f) => *f,
        }
    }
}

fn bits(columns: &[bool; 11]) -> u16 {
    columns
        .iter()
        .enumerate()
        .fold(0, |acc, (c, &on)| acc | (u16::from(on) << c))
}

/// A key's 96-bit hash: two independently seeded 64-bit hashes, the second cut to 32 bits.
fn key_hash(key: &str) -> (u64, u32) {
    const A: foldhash::quality::FixedState = foldhash::quality::FixedState::with_seed(0x5eed_0001);
    const B: foldhash::quality::FixedState = foldhash::quality::FixedState::with_seed(0x5eed_0002);
    (A.hash_one(key), B.hash_one(key) as u32)
}

/// Texts of units, fields and names, each once, by id. Readers intern them, so a text's pointer
/// finds its id without hashing the text; the pointer's text is held so that it cannot be freed
/// and its address reused.
#[derive(Default)]
struct Texts {
    by_pointer: HashMap<usize, (Arc<str>, u16), foldhash::fast::RandomState>,
    by_text: HashMap<Arc<str>, u16, foldhash::fast::RandomState>,
    all: Vec<Arc<str>>,
}

impl Texts {
    /// The text's id; `None` past 65,536 distinct texts.
    fn id(&mut self, text: &Arc<str>) -> Option<u16> {
        let pointer = Arc::as_ptr(text) as *const u8 as usize;
        if let Some((_, id)) = self.by_pointer.get(&pointer) {
            return Some(*id);
        }
        let id = match self.by_text.get(&**text) {
            Some(&id) => id,
            None => {
                let id = u16::try_from(self.all.len()).ok()?;
                self.all.push(text.clone());
                self.by_text.insert(text.clone(), id);
                id
            }
        };
        self.by_pointer.insert(pointer, (text.clone(), id));
        Some(id)
    }

    fn get(&self, id: u16) -> &str {
        &self.all[usize::from(id)]
    }

    fn arc(&self, id: u16) -> &Arc<str> {
        &self.all[usize::from(id)]
    }
}

/// A Bloom filter of the key hashes seen, blocked (the seven probes of a key fall in one
/// 64-byte block, so one cache miss a key), ten bits for each key expected: about one false
/// "seen" in a hundred when as many come (more when more do, which only keeps more key texts).
/// It never says "not seen" of a key it was given.
struct Seen {
    blocks: Vec<[u64; 8]>,
    mask: u64,
}

impl Seen {
    fn new(expected: usize) -> Seen {
        let blocks = (expected.max(1 << 12) * 10 / 512 + 1).next_power_of_two();
        let mut blocks = vec![[0; 8]; blocks];
        huge_pages(&mut blocks);
        Seen {
            mask: blocks.len() as u64 - 1,
            blocks,
        }
    }

    /// Starts fetching the block of a hash about to be added.
    fn prefetch(&self, hash: u64) {
        let block = &self.blocks[(hash & self.mask) as usize];
        #[cfg(target_arch = "x86_64")]
        // SAFETY: a prefetch is a hint: it reads nothing into the program and cannot fault.
        unsafe {
            use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
            _mm_prefetch::<_MM_HINT_T0>(block.as_ptr().cast::<i8>());
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = block;
    }

    /// Adds a hash; whether it may have been added before.
    fn insert(&mut self, hash: u64, more: u32) -> bool {
        let block = &mut self.blocks[(hash & self.mask) as usize];
        // The block came from the hash's low bits; the probes from the rest.
        let mut probes = u64::from(more).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ (hash >> 32);
        let mut seen = true;
        for _ in 0..7 {
            let bit = (probes & 511) as usize;
            probes >>= 9;
            let (word, mask) = (bit / 64, 1u64 << (bit % 64));
            seen &= block[word] & mask != 0;
            block[word] |= mask;
        }
        seen
    }
}

/// Asks Linux to back the filter with 2 MB pages where they fit in it. Each dossier reads one
/// block at random: over 16 MB of 4 KB pages (ten million lines) nearly every read also missed
/// the address translation cache, and the prefetch waited for the page walk (most of the
/// filing thread's time). Only a hint: nothing changes where transparent huge pages are off.
fn huge_pages(blocks: &mut [[u64; 8]]) {
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let start = blocks.as_mut_ptr() as usize;
        let end = start + std::mem::size_of_val(blocks);
        let (from, to) = (start.next_multiple_of(HUGE), end / HUGE * HUGE);
        if to > from {
            // SAFETY: the range lies inside the filter's own allocation, which `blocks` borrows
            // mutably; MADV_HUGEPAGE changes how its pages are backed, never what they hold.
            unsafe {
                libc::madvise(from as *mut libc::c_void, to - from, libc::MADV_HUGEPAGE);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = blocks;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filter_never_forgets_a_key() {
        let mut seen = Seen::new(1000);
        let keys: Vec<(u64, u32)> = (0..5000).map(|i| key_hash(&format!("K{i}"))).collect();
        let fresh = keys.iter().filter(|(h, m)| seen.insert(*h, *m)).count();
        assert!(fresh < 500, "mostly new the first time: {fresh} said seen");
        assert!(keys.iter().all(|(h, m)| seen.insert(*h, *m)));
    }

    /// A filter large enough to ask for 2 MB pages (4 MB) starts empty and keeps what it is given.
    #[test]
    fn a_filter_on_huge_pages_never_forgets_a_key() {
        let mut seen = Seen::new(2_000_000);
        assert!(std::mem::size_of_val(seen.blocks.as_slice()) >= 4 << 20);
        let keys: Vec<(u64, u32)> = (0..20_000).map(|i| key_hash(&format!("K{i}"))).collect();
        let fresh = keys.iter().filter(|(h, m)| !seen.insert(*h, *m)).count();
        assert!(
            fresh > 19_900,
            "an empty filter said seen of {} keys",
            20_000 - fresh
        );
        assert!(keys.iter().all(|(h, m)| seen.insert(*h, *m)));
    }
}
