//! CSV: comma-separated UTF-8 with a header row of DVCQG field names; a byte-order mark is
//! tolerated. A row that is not UTF-8 or has the wrong number of cells is an `invalid_record` at
//! `row:N`, N being the file line the row starts on (the header is line 1).
//!
//! Lines are counted here, from the bytes: the csv crate's own line count falls one behind after a
//! line that ends in CRLF or a blank line, and exports from Excel on Windows end lines in CRLF.

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
    let lines = Lines::default();
    let mut csv = ::csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(Counting {
            inner: reader,
            read: 0,
            lines: lines.clone(),
        });
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
    if let Some(reason) = super::repeated_column(R::FIELDS, &columns) {
        return Err(header_error(reason));
    }
    let mut record = ::csv::ByteRecord::new();
    loop {
        let start = csv.position().byte();
        match csv.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let byte = record.position().map_or(start, ::csv::Position::byte);
                let at = Position::Row(lines.line_at(byte));
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
                let byte = e.position().map_or(start, ::csv::Position::byte);
                let at = Position::Row(lines.line_at(byte));
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

/// Where the line ends are, for the rows still to come: the reader notes every `\r` and `\n` as it
/// reads ahead; rows ask in order and drop what is behind them.
#[derive(Debug, Default, Clone)]
struct Lines(std::rc::Rc<std::cell::RefCell<LineState>>);

#[derive(Debug, Default)]
struct LineState {
    /// Offsets of the `\r` and `\n` bytes not yet passed, and whether each is a `\n`.
    ahead: std::collections::VecDeque<(u64, bool)>,
    /// `\n` bytes passed so far.
    passed: usize,
}

impl Lines {
    /// The 1-based line of the row the csv reader places at `offset` (offsets asked in increasing
    /// order). Depending on the line ends around it, the reader may place a row on the line end
    /// before it: the row starts at the first byte from `offset` on that is not a line end.
    fn line_at(&self, offset: u64) -> usize {
        let mut s = self.0.borrow_mut();
        let mut at = offset;
        while let Some(&(o, newline)) = s.ahead.front() {
            if o > at {
                break;
            }
            if o == at {
                at += 1;
            }
            s.ahead.pop_front();
            s.passed += usize::from(newline);
        }
        s.passed + 1
    }
}

/// A reader that notes where every line end is.
struct Counting<R> {
    inner: R,
    read: u64,
    lines: Lines,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut state = self.lines.0.borrow_mut();
        for at in memchr::memchr2_iter(b'\r', b'\n', &buf[..n]) {
            state
                .ahead
                .push_back((self.read + at as u64, buf[at] == b'\n'));
        }
        self.read += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use crate::domain::Dossier;
    use crate::sources::export::{Input, InputFormat, RecordBatch};

    fn rows_of_findings(text: &str) -> Vec<String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.csv");
        std::fs::write(&path, text).unwrap();
        let batch = RecordBatch::<Dossier>::read(
            &Input::from_arg(path.to_str().unwrap()),
            InputFormat::Csv,
        )
        .unwrap();
        batch.findings.iter().map(|f| f.record.clone()).collect()
    }

    #[test]
    fn rows_are_numbered_by_file_line_with_crlf_and_blank_lines() {
        let header = "MaHoSo,TrangThaiHoSo,NgayTiepNhan";
        // Line 1 header, 2 good, 3 blank, 4 bad status, 5 good, 6 wrong cell count.
        let lf = format!(
            "{header}\nA,2,20230701090000\n\nB,99,20230701090000\nC,2,20230701090000\nD,2\n"
        );
        let crlf = lf.replace('\n', "\r\n");
        for text in [lf, crlf] {
            let mut rows = rows_of_findings(&text);
            rows.sort();
            assert_eq!(rows, ["B", "row:6"], "{text:?}");
        }
        // A row without a readable key is named by its line.
        let bad = "MaHoSo,TrangThaiHoSo\r\nA,2\r\n\r\n,x\r\n";
        assert_eq!(rows_of_findings(bad), ["row:4"]);
    }
}
