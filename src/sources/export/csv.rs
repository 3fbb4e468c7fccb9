//! CSV: comma-separated UTF-8 with a header row of DVCQG field names; a byte-order mark is
//! tolerated. A row that is not UTF-8 or has the wrong number of cells is an `invalid_record` at
//! `row:N`, N being the file line the row starts on (the header is line 1).

use super::wire::{FromWire, WireRecord};
use super::{Item, Position, ReadCtx, ReadError, invalid, to_item};
use std::borrow::Cow;
use std::io::Read;

pub(super) fn read<R: FromWire>(
    reader: impl Read,
    ctx: &mut ReadCtx,
    each: &mut dyn FnMut(Item<R>),
    describe: impl Fn() -> String,
) -> Result<(), ReadError> {
    let header_error = |reason: String| ReadError::CsvHeader {
        input: describe(),
        reason,
    };
    let mut csv = ::csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(reader);
    let headers = csv
        .byte_headers()
        .map_err(|e| header_error(e.to_string()))?
        .clone();
    if headers.is_empty() || (headers.len() == 1 && headers[0].is_empty()) {
        return Err(header_error("the file is empty".into()));
    }
    let mut columns = Vec::with_capacity(headers.len());
    for (i, h) in headers.iter().enumerate() {
        let name = std::str::from_utf8(h)
            .map_err(|_| header_error(format!("column {} is not UTF-8", i + 1)))?;
        columns.push(WireRecord::index_of(R::FIELDS, name));
    }
    if !columns.contains(&Some(0)) {
        return Err(header_error(format!("there is no {} column", R::FIELDS[0])));
    }
    let mut record = ::csv::ByteRecord::new();
    loop {
        let line = csv.position().line() as usize;
        match csv.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let at = Position::Row(record.position().map_or(line, |p| p.line() as usize));
                if record.iter().all(<[u8]>::is_empty) {
                    continue;
                }
                let mut wire = WireRecord::new(R::FIELDS);
                let mut bad_utf8 = false;
                for (cell, column) in record.iter().zip(&columns) {
                    let Some(i) = *column else { continue };
                    match std::str::from_utf8(cell) {
                        Ok(text) => wire.set(i, (!text.is_empty()).then_some(Cow::Borrowed(text))),
                        Err(_) => bad_utf8 = true,
                    }
                }
                if bad_utf8 {
                    let key = wire.key().map(str::to_owned);
                    each(invalid(key, at, "the row is not valid UTF-8", None));
                } else {
                    each(to_item(&wire, at, ctx, None));
                }
            }
            Err(e) => {
                let at = Position::Row(e.position().map_or(line, |p| p.line() as usize));
                match e.kind() {
                    ::csv::ErrorKind::UnequalLengths {
                        expected_len, len, ..
                    } => {
                        let reason =
                            format!("the row has {len} cells where the header has {expected_len}");
                        each(invalid(None, at, &reason, None));
                    }
                    ::csv::ErrorKind::Io(_) => {
                        return Err(ReadError::Io {
                            path: describe(),
                            source: std::io::Error::other(e.to_string()),
                        });
                    }
                    _ => each(invalid(
                        None,
                        at,
                        &format!("the row does not parse as CSV ({e})"),
                        None,
                    )),
                }
            }
        }
    }
    Ok(())
}
