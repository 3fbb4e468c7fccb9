//! Exports of dossiers, ratings and feedback: JSON arrays, NDJSON, CSV and XLSX files with DVCQG
//! field names (report-json.md).
//!
//! Every reader streams: it hands each record to a callback as soon as it is read, so a million
//! dossiers never sit in memory as text. A record that cannot be read becomes an `invalid_record`
//! finding with its key, or its `line:N` / `row:N` position, and reading goes on. Only input that
//! is unusable as a whole (no such file, a JSON array or CSV header that does not parse) is an error.

mod csv;
mod json;
mod ndjson;
pub mod wire;
mod xlsx;

use crate::domain::{Dossier, Finding, FindingCode};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::str::FromStr;
pub use wire::FromWire;
pub use wire::Interner;

/// Export file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputFormat {
    Json,
    Ndjson,
    Csv,
    Xlsx,
}

impl InputFormat {
    /// The format a file name's extension names.
    pub fn from_path(path: &Path) -> Option<InputFormat> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        ext.parse().ok()
    }
}

impl FromStr for InputFormat {
    type Err = ReadError;
    fn from_str(s: &str) -> Result<Self, ReadError> {
        match s.to_ascii_lowercase().as_str() {
            "json" => Ok(InputFormat::Json),
            "ndjson" | "jsonl" => Ok(InputFormat::Ndjson),
            "csv" => Ok(InputFormat::Csv),
            "xlsx" => Ok(InputFormat::Xlsx),
            other => Err(ReadError::UnknownFormat(other.to_owned())),
        }
    }
}

/// Where an export comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    File(PathBuf),
    Stdin,
    /// An export already in memory (a request's body, a fuzzer's input).
    Bytes(std::sync::Arc<[u8]>),
}

impl Input {
    /// `-` is standard input.
    pub fn from_arg(arg: &str) -> Input {
        if arg == "-" {
            Input::Stdin
        } else {
            Input::File(PathBuf::from(arg))
        }
    }

    fn open(&self) -> Result<Box<dyn Read + Send>, ReadError> {
        match self {
            Input::Stdin => Ok(Box::new(std::io::stdin())),
            Input::Bytes(b) => Ok(Box::new(std::io::Cursor::new(b.clone()))),
            Input::File(path) => std::fs::File::open(path)
                .map(|f| Box::new(f) as Box<dyn Read + Send>)
                .map_err(|e| ReadError::open(path, e)),
        }
    }

    fn describe(&self) -> String {
        match self {
            Input::Stdin => "standard input".to_owned(),
            Input::Bytes(_) => "the export given".to_owned(),
            Input::File(p) => p.display().to_string(),
        }
    }
}

/// Input that cannot be used at all.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("no such file: {0}")]
    NotFound(String),
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("unknown input format `{0}`: use json, ndjson, jsonl, csv or xlsx")]
    UnknownFormat(String),
    #[error("cannot tell the format of {0} from its extension: pass --input-format")]
    FormatNeeded(String),
    #[error("{input} is not a JSON array of dossier objects: {reason}")]
    NotJsonArray { input: String, reason: String },
    #[error("{input}: CSV header does not parse: {reason}")]
    CsvHeader { input: String, reason: String },
    #[error("{input} is not a readable XLSX workbook: {reason}")]
    Xlsx { input: String, reason: String },
}

impl ReadError {
    fn open(path: &Path, e: std::io::Error) -> ReadError {
        if e.kind() == std::io::ErrorKind::NotFound {
            ReadError::NotFound(path.display().to_string())
        } else {
            ReadError::Io {
                path: path.display().to_string(),
                source: e,
            }
        }
    }

    fn io(input: &Input, source: std::io::Error) -> ReadError {
        ReadError::Io {
            path: input.describe(),
            source,
        }
    }
}

/// One record out of an export, with its text as a JSON object when the reader was asked to keep it.
#[derive(Debug)]
pub enum Item<R> {
    Record {
        record: R,
        raw: Option<String>,
    },
    /// An `invalid_record` finding.
    Invalid {
        finding: Finding,
        raw: Option<String>,
    },
}

/// Which records' own texts a read keeps beside them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum KeepRaw {
    /// None (the report).
    #[default]
    None,
    /// Only the texts of records that cannot be read (kept as rejects): an import of dossiers,
    /// which stores the records themselves, not their texts.
    Rejects,
    /// Every record's (a store that keeps each record's text).
    All,
}

impl KeepRaw {
    fn any(self) -> bool {
        self != KeepRaw::None
    }
}

/// What readers share while reading one input.
#[derive(Debug, Default)]
pub(crate) struct ReadCtx {
    pub strings: Interner,
    /// Which records' texts to keep (for the store); the report path needs none.
    pub keep_raw: KeepRaw,
}

/// Where a record stands in its file, for findings about records without a key.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Position {
    Line(usize),
    Row(usize),
}

impl Position {
    fn label(self) -> String {
        match self {
            Position::Line(n) => format!("line:{n}"),
            Position::Row(n) => format!("row:{n}"),
        }
    }
}

/// Turns a wire record into an item: the record, or an `invalid_record` finding named by its key
/// when it has one, else by its position. `text` is the record's own text when the reader has it
/// (an NDJSON line).
pub(crate) fn to_item<R: FromWire>(
    wire: &wire::WireRecord<'_>,
    at: Position,
    ctx: &mut ReadCtx,
    text: Option<&str>,
) -> Item<R> {
    let raw = |keep: bool| keep.then(|| text.map_or_else(|| wire.to_json(), str::to_owned));
    let keep = ctx.keep_raw;
    match R::parse(wire, &mut ctx.strings) {
        Ok(record) => Item::Record {
            record,
            raw: raw(keep == KeepRaw::All),
        },
        Err(reason) => invalid(wire.key().map(str::to_owned), at, &reason, raw(keep.any())),
    }
}

pub(crate) fn invalid<R>(
    key: Option<String>,
    at: Position,
    reason: &str,
    raw: Option<String>,
) -> Item<R> {
    let place = at.label();
    let message = format!("{reason} ({place}); fix the record at the source and export again");
    Item::Invalid {
        finding: Finding::new(FindingCode::InvalidRecord, key.unwrap_or(place), message),
        raw,
    }
}

/// Reads every record of an export, in file order, handing each to `each`. Items carry the
/// record's fields as a JSON object as `keep_raw` says.
pub fn read_each<R: FromWire>(
    input: &Input,
    format: InputFormat,
    keep_raw: KeepRaw,
    each: impl FnMut(Item<R>),
) -> Result<(), ReadError> {
    read_each_mapped(input, format, keep_raw, &|item| item, each)
}

/// [`read_each`], handing on `map` of each item: where the reader parses on several threads
/// (NDJSON), `map` runs there, so work done per record in it is done in parallel.
pub fn read_each_mapped<R: FromWire, T: Send>(
    input: &Input,
    format: InputFormat,
    keep_raw: KeepRaw,
    map: &(dyn Fn(Item<R>) -> T + Sync),
    mut each: impl FnMut(T),
) -> Result<(), ReadError> {
    let reader = input.open()?;
    let mut ctx = ReadCtx {
        keep_raw,
        ..ReadCtx::default()
    };
    let mut each_item = |item| each(map(item));
    match format {
        InputFormat::Ndjson => {
            ndjson::read(reader, &mut ctx, map, &mut each).map_err(|e| ReadError::io(input, e))
        }
        InputFormat::Json => {
            json::read(reader, &mut ctx, &mut each_item).map_err(|reason| ReadError::NotJsonArray {
                input: input.describe(),
                reason,
            })
        }
        InputFormat::Csv => csv::read(reader, &mut ctx, &mut each_item, || input.describe()),
        InputFormat::Xlsx => xlsx::read(input, reader, &mut ctx, &mut each_item),
    }
}

/// Parses records given as JSON text (the store's raw column, a source's page), in order; with
/// `keep_raw` the batch keeps each record's text beside it.
pub fn parse_raw<'a, R: FromWire>(
    texts: impl IntoIterator<Item = &'a str>,
    keep_raw: bool,
) -> RecordBatch<R> {
    let mut ctx = ReadCtx {
        keep_raw: if keep_raw {
            KeepRaw::All
        } else {
            KeepRaw::None
        },
        ..ReadCtx::default()
    };
    let mut batch = RecordBatch::default();
    for (i, text) in texts.into_iter().enumerate() {
        let at = Position::Row(i + 1);
        let item = match wire::json_record(text.as_bytes(), R::FIELDS) {
            Ok(wire::JsonRecord::Object(w)) => to_item(&w, at, &mut ctx, Some(text)),
            Ok(wire::JsonRecord::NotAnObject) => {
                invalid(None, at, "the stored record is not an object", None)
            }
            Err(e) => invalid(
                None,
                at,
                &format!("the stored record is not JSON ({e})"),
                None,
            ),
        };
        batch.push(item);
    }
    batch.settle_duplicates();
    batch
}

/// The format to read `input` with: the one given, else the file's extension.
/// A header that names one field in two columns, in words (the columns counted from 1): which of
/// the two the export meant cannot be told, so the file is refused.
pub(super) fn repeated_column(fields: &[&str], columns: &[Option<usize>]) -> Option<String> {
    let mut seen: Vec<Option<usize>> = vec![None; fields.len()];
    for (i, column) in columns.iter().enumerate() {
        let Some(field) = *column else { continue };
        if let Some(first) = seen[field] {
            return Some(format!(
                "the column {} appears twice (columns {} and {}): keep one and export again",
                fields[field],
                first + 1,
                i + 1
            ));
        }
        seen[field] = Some(i);
    }
    None
}

pub fn resolve_format(input: &Input, given: Option<InputFormat>) -> Result<InputFormat, ReadError> {
    if let Some(f) = given {
        return Ok(f);
    }
    match input {
        Input::Stdin | Input::Bytes(_) => Err(ReadError::FormatNeeded(input.describe())),
        Input::File(p) => InputFormat::from_path(p)
            .ok_or_else(|| ReadError::FormatNeeded(p.display().to_string())),
    }
}

/// The records of one input, de-duplicated, with the findings about records that could not be
/// read or were superseded.
#[derive(Debug)]
pub struct RecordBatch<R> {
    /// In input order; a superseded duplicate's place is taken by the version that counts.
    pub records: Vec<R>,
    /// The records' own texts, aligned with `records`, when they were read with `keep_raw`.
    pub raws: Vec<String>,
    pub findings: Vec<Finding>,
    /// Records read, readable or not.
    pub records_read: usize,
}

/// The dossiers of one input.
pub type DossierBatch = RecordBatch<Dossier>;

impl<R> Default for RecordBatch<R> {
    fn default() -> Self {
        RecordBatch {
            records: Vec::new(),
            raws: Vec::new(),
            findings: Vec::new(),
            records_read: 0,
        }
    }
}

impl<R: FromWire> RecordBatch<R> {
    /// Reads a whole export into a batch.
    pub fn read(input: &Input, format: InputFormat) -> Result<RecordBatch<R>, ReadError> {
        let mut batch = RecordBatch::default();
        // Room for the records up front (a record takes well over 128 bytes of any export):
        // untouched capacity costs no memory, and a million records are not moved as they grow.
        if let Input::File(path) = input
            && let Ok(meta) = std::fs::metadata(path)
            && format != InputFormat::Xlsx
        {
            batch.records.reserve((meta.len() / 128) as usize);
        }
        read_each(input, format, KeepRaw::None, |item| batch.push(item))?;
        batch.settle_duplicates();
        Ok(batch)
    }

    /// Adds one record, or the finding of one that could not be read. Duplicates are settled
    /// once every record is in ([`RecordBatch::settle_duplicates`]).
    fn push(&mut self, item: Item<R>) {
        self.records_read += 1;
        match item {
            Item::Invalid { finding, .. } => self.findings.push(finding),
            Item::Record { record, raw } => {
                self.records.push(record);
                self.raws.extend(raw);
            }
        }
    }

    /// The same key more than once: the latest CapNhatLuc counts (an absent one is older than
    /// any), the last one read on a tie, in the place of the key's first record; a
    /// `duplicate_record` warning names the key for each version set aside.
    ///
    /// Done once at the end by sorting 64-bit hashes of the keys (16 bytes a record), rather
    /// than with a map of every key while reading, which held three times that at its peak.
    fn settle_duplicates(&mut self) {
        use std::hash::BuildHasher;
        let hasher = foldhash::quality::RandomState::default();
        let mut order: Vec<(u64, u32)> = self
            .records
            .iter()
            .enumerate()
            .map(|(i, r)| (hasher.hash_one(r.key()), i as u32))
            .collect();
        order.sort_unstable();
        let mut set_aside: Vec<usize> = Vec::new();
        let mut warnings: Vec<(usize, Finding)> = Vec::new();
        let mut run = 0;
        while run < order.len() {
            let end = run
                + order[run..]
                    .iter()
                    .take_while(|(h, _)| *h == order[run].0)
                    .count();
            if end - run > 1 {
                // One hash, maybe more than one key: each key's records, in input order.
                let mut rest: Vec<usize> =
                    order[run..end].iter().map(|(_, i)| *i as usize).collect();
                while let Some(&first) = rest.first() {
                    let (same, other): (Vec<usize>, Vec<usize>) = rest
                        .iter()
                        .partition(|&&i| self.records[i].key() == self.records[first].key());
                    self.settle_key(&same, &mut set_aside, &mut warnings);
                    rest = other;
                }
            }
            run = end;
        }
        drop(order);
        if set_aside.is_empty() {
            return;
        }
        set_aside.sort_unstable();
        let keep = |i: usize| set_aside.binary_search(&i).is_err();
        let mut i = 0;
        self.records.retain(|_| {
            i += 1;
            keep(i - 1)
        });
        if !self.raws.is_empty() {
            let mut i = 0;
            self.raws.retain(|_| {
                i += 1;
                keep(i - 1)
            });
        }
        warnings.sort_by_key(|(at, _)| *at);
        self.findings.extend(warnings.into_iter().map(|(_, f)| f));
    }

    /// One key's records (`at`, in input order, at least two): which counts
    /// ([`crate::domain::versions::settle`]), and the warning for each version read after the
    /// first.
    fn settle_key(
        &mut self,
        at: &[usize],
        set_aside: &mut Vec<usize>,
        warnings: &mut Vec<(usize, Finding)>,
    ) {
        let Some((&first, later)) = at.split_first() else {
            return;
        };
        let updated: Vec<_> = at.iter().map(|&i| self.records[i].updated_at()).collect();
        let settled = crate::domain::versions::settle(&updated);
        for w in &settled.warnings {
            let r = &self.records[at[w.kept]];
            let finding = w.finding(R::NAME, R::FIELDS[0], r.key(), r.unit_code());
            warnings.push((at[w.at], finding));
        }
        // The version that counts takes the first one's place; the others are set aside.
        let kept = at[settled.kept];
        if kept != first {
            self.records.swap(first, kept);
            if self.raws.len() == self.records.len() {
                self.raws.swap(first, kept);
            }
        }
        set_aside.extend_from_slice(later);
    }
}
