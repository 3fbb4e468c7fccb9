//! NDJSON / JSON Lines: one dossier object per line. Blank lines are skipped; a line that is not a
//! JSON object is an `invalid_record` at `line:N`.

use super::wire::JsonRecord;
use super::{Item, Position, ReadCtx, invalid, to_item};
use std::io::Read;

const BLOCK: usize = 1 << 22;

pub(super) fn read(
    mut reader: impl Read,
    ctx: &mut ReadCtx,
    each: &mut dyn FnMut(Item),
) -> std::io::Result<()> {
    let mut buf: Vec<u8> = Vec::with_capacity(BLOCK * 2);
    let mut line_no = 0usize;
    let mut eof = false;
    while !eof {
        let start = buf.len();
        buf.resize(start + BLOCK, 0);
        let n = read_full(&mut reader, &mut buf[start..])?;
        buf.truncate(start + n);
        eof = n == 0;
        // Parse every complete line; keep the tail for the next block (or all of it at the end).
        let complete = if eof {
            buf.len()
        } else {
            memchr::memrchr(b'\n', &buf).map_or(0, |i| i + 1)
        };
        for line in buf[..complete].split(|&b| b == b'\n') {
            line_no += 1;
            parse_line(line, line_no, ctx, each);
        }
        // `split` yields one more (empty) piece after a final newline: it was not a line.
        if complete > 0 && buf[complete - 1] == b'\n' {
            line_no -= 1;
        }
        buf.drain(..complete);
    }
    Ok(())
}

fn read_full(reader: &mut impl Read, mut out: &mut [u8]) -> std::io::Result<usize> {
    let mut total = 0;
    while !out.is_empty() {
        match reader.read(out) {
            Ok(0) => break,
            Ok(n) => {
                total += n;
                out = &mut out[n..];
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(total)
}

fn parse_line(line: &[u8], line_no: usize, ctx: &mut ReadCtx, each: &mut dyn FnMut(Item)) {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.iter().all(u8::is_ascii_whitespace) {
        return;
    }
    let at = Position::Line(line_no);
    match serde_json::from_slice::<JsonRecord>(line) {
        Ok(JsonRecord::Object(wire)) => each(to_item(&wire, at, ctx)),
        Ok(JsonRecord::NotAnObject) => each(invalid(
            None,
            at,
            "the line is JSON but not an object",
            None,
        )),
        Err(e) => each(invalid(
            None,
            at,
            &format!("the line is not JSON ({e})"),
            None,
        )),
    }
}
