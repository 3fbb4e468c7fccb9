//! XLSX: the first sheet, DVCQG field names in the first row. Cells may be text or numbers (an
//! integer-valued number means its digits) and an Excel date cell means that local instant. A row
//! whose cell holds an Excel error is an `invalid_record` at `row:N` (the sheet's row number).
//!
//! Cells are read with calamine's streaming cell reader: the sheet is never held whole.

use super::wire::{FromWire, WireRecord, number_text};
use super::{Input, Item, Position, ReadCtx, ReadError, invalid, to_item};
use calamine::{DataRef, Reader, Xlsx};
use std::borrow::Cow;
use std::io::{BufReader, Cursor, Read, Seek};

pub(super) fn read<R: FromWire>(
    input: &Input,
    reader: Box<dyn Read + Send>,
    ctx: &mut ReadCtx,
    each: &mut dyn FnMut(Item<R>),
) -> Result<(), ReadError> {
    let fail = |reason: String| ReadError::Xlsx {
        input: input.describe(),
        reason,
    };
    match input {
        Input::File(path) => {
            let file = std::fs::File::open(path).map_err(|e| ReadError::open(path, e))?;
            drop(reader);
            read_workbook(BufReader::new(file), ctx, each).map_err(fail)
        }
        Input::Bytes(bytes) => {
            drop(reader);
            read_workbook(Cursor::new(bytes.clone()), ctx, each).map_err(fail)
        }
        Input::Stdin => {
            // A zip needs seeking: standard input is read whole first.
            let mut bytes = Vec::new();
            let mut reader = reader;
            reader
                .read_to_end(&mut bytes)
                .map_err(|e| ReadError::io(input, e))?;
            read_workbook(Cursor::new(bytes), ctx, each).map_err(fail)
        }
    }
}

fn read_workbook<W: Read + Seek, R: FromWire>(
    reader: W,
    ctx: &mut ReadCtx,
    each: &mut dyn FnMut(Item<R>),
) -> Result<(), String> {
    let mut book = Xlsx::new(reader).map_err(|e| e.to_string())?;
    let sheet = book
        .sheet_names()
        .first()
        .cloned()
        .ok_or("the workbook has no sheet")?;
    let merged = Merged::of(
        book.merge_cells_by_sheet_name(&sheet)
            .map_err(|e| e.to_string())?,
    );
    let mut cells = book
        .worksheet_cells_reader(&sheet)
        .map_err(|e| e.to_string())?;
    let mut columns: Vec<Option<usize>> = Vec::new();
    let mut header_row: Option<u32> = None;
    let mut row = Row::new(R::FIELDS);
    while let Some(cell) = cells.next_cell().map_err(|e| e.to_string())? {
        let (r, c) = cell.get_position();
        let header = *header_row.get_or_insert(r);
        if r == header {
            let c = c as usize;
            if columns.len() <= c {
                columns.resize(c + 1, None);
            }
            columns[c] = cell_text(cell.get_value())
                .ok()
                .flatten()
                .and_then(|t| WireRecord::index_of(R::FIELDS, &t));
            continue;
        }
        if row.number != Some(r) {
            row.finish(ctx, each);
            row.start(r, &columns, &merged)?;
        }
        row.cell(c as usize, cell.get_value(), &columns);
    }
    if header_row.is_none() {
        return Err("the first sheet is empty".into());
    }
    row.finish(ctx, each);
    Ok(())
}

/// The sheet's merged cells: each merge shows its first cell's value over cells that are empty in
/// the file.
struct Merged(Vec<(calamine::Dimensions, String)>);

impl Merged {
    fn of(regions: Vec<calamine::Dimensions>) -> Merged {
        Merged(
            regions
                .into_iter()
                .map(|d| {
                    let name = format!(
                        "{}{}:{}{}",
                        column_name(d.start.1),
                        d.start.0 + 1,
                        column_name(d.end.1),
                        d.end.0 + 1
                    );
                    (d, name)
                })
                .collect(),
        )
    }

    /// The cells of `row` in `columns` that a merge covers (all but its first), with the merge.
    fn covering<'a>(
        &'a self,
        row: u32,
        columns: &'a [Option<usize>],
    ) -> impl Iterator<Item = (usize, &'a str)> + 'a {
        self.0
            .iter()
            .filter(move |(d, _)| d.start.0 <= row && row <= d.end.0)
            .flat_map(move |(d, name)| {
                columns.iter().enumerate().filter_map(move |(c, field)| {
                    let c32 = c as u32;
                    let inside = d.start.1 <= c32 && c32 <= d.end.1 && (row, c32) != d.start;
                    Some(((*field)?, name.as_str())).filter(|_| inside)
                })
            })
    }
}

/// `A`, `B`, … `Z`, `AA`, … for a column counted from 0.
fn column_name(mut c: u32) -> String {
    let mut name = Vec::new();
    loop {
        name.push(b'A' + (c % 26) as u8);
        if c < 26 {
            break;
        }
        c = c / 26 - 1;
    }
    name.reverse();
    String::from_utf8(name).expect("ASCII")
}

struct Row {
    fields: &'static [&'static str],
    number: Option<u32>,
    wire: WireRecord<'static>,
    error: Option<String>,
    any_value: bool,
}

impl Row {
    fn new(fields: &'static [&'static str]) -> Row {
        Row {
            fields,
            number: None,
            wire: WireRecord::new(fields),
            error: None,
            any_value: false,
        }
    }

    fn start(&mut self, r: u32, columns: &[Option<usize>], merged: &Merged) -> Result<(), String> {
        if !columns.contains(&Some(0)) {
            return Err(format!("the header row has no {} column", self.fields[0]));
        }
        if let Some(reason) = super::repeated_column(self.fields, columns) {
            return Err(format!("the header row: {reason}"));
        }
        *self = Row {
            number: Some(r),
            ..Row::new(self.fields)
        };
        // A cell a merge covers is empty in the file, though it shows its neighbour's value.
        if let Some((field, region)) = merged.covering(r, columns).next() {
            self.any_value = true;
            self.error = Some(format!(
                "{} is in the merged cells {region}: unmerge them and give every row its own value",
                self.fields[field]
            ));
        }
        Ok(())
    }

    fn cell(&mut self, c: usize, value: &DataRef<'_>, columns: &[Option<usize>]) {
        let Some(Some(field)) = columns.get(c) else {
            return;
        };
        match cell_text(value) {
            Ok(text) => {
                self.any_value |= text.is_some();
                self.wire.set(*field, text.map(Cow::Owned));
            }
            Err(reason) => {
                self.any_value = true;
                self.error = Some(format!("{} {reason}", self.fields[*field]));
            }
        }
    }

    fn finish<R: FromWire>(&mut self, ctx: &mut ReadCtx, each: &mut dyn FnMut(Item<R>)) {
        let Some(r) = self.number.take() else { return };
        if !self.any_value {
            return;
        }
        let at = Position::Row(r as usize + 1);
        match self.error.take() {
            Some(reason) => {
                let raw = ctx.keep_raw.any().then(|| self.wire.to_json());
                each(invalid(
                    self.wire.key().map(str::to_owned),
                    at,
                    &reason,
                    raw,
                ))
            }
            None => each(to_item(&self.wire, at, ctx, None)),
        }
    }
}

/// A cell as text; `None` when empty; an error for Excel error cells.
fn cell_text(value: &DataRef<'_>) -> Result<Option<String>, String> {
    Ok(match value {
        DataRef::Empty => None,
        DataRef::String(s) => Some(s.clone()),
        DataRef::SharedString(s) => Some((*s).to_owned()),
        DataRef::Int(i) => Some(i.to_string()),
        DataRef::Float(f) => Some(number_text(*f)),
        DataRef::Bool(b) => Some(if *b { "1" } else { "0" }.to_owned()),
        DataRef::DateTime(dt) if dt.is_datetime() => {
            let local = dt
                .as_datetime()
                .ok_or("holds a date Excel cannot convert")?;
            Some(local.format("%Y-%m-%d %H:%M:%S").to_string())
        }
        DataRef::DateTime(dt) => Some(number_text(dt.as_f64())),
        // An ISO date-time cell without an offset is local time, like any Excel date.
        DataRef::DateTimeIso(s) if s.len() == 19 && s.as_bytes()[10] == b'T' => {
            Some(s.replacen('T', " ", 1))
        }
        DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => Some(s.clone()),
        DataRef::Error(e) => return Err(format!("holds the Excel error {e}")),
    }
    .filter(|s| !s.is_empty()))
}
