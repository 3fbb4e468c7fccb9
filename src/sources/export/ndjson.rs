//! NDJSON / JSON Lines: one record object per line. Blank lines are skipped; a line that is not a
//! JSON object is an `invalid_record` at `line:N`.
//!
//! Parsing is the hot path of a million-dossier report, so blocks of whole lines are parsed on
//! every core while one thread reads; results are handed on in file order, so "first seen" and
//! "last one wins" mean what they say. A caller's map of each item runs on the parsing threads
//! too (the report's fold places each dossier there and hands on only what it keeps).

use super::wire::{FromWire, JsonRecord, json_record, json_record_str};
use super::{Item, Position, ReadCtx, invalid, to_item};
use std::collections::BTreeMap;
use std::io::Read;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};

const BLOCK: usize = 1 << 22;

/// Whole lines, and the number of the first.
struct Block {
    index: usize,
    first_line: usize,
    bytes: Vec<u8>,
}

pub(super) fn read<R: FromWire, T: Send>(
    reader: impl Read + Send,
    ctx: &mut ReadCtx,
    map: &(dyn Fn(Item<R>) -> T + Sync),
    each: &mut dyn FnMut(T),
) -> std::io::Result<()> {
    read_in_blocks(reader, BLOCK, ctx, map, each)
}

fn read_in_blocks<R: FromWire, T: Send>(
    reader: impl Read + Send,
    block_size: usize,
    ctx: &mut ReadCtx,
    map: &(dyn Fn(Item<R>) -> T + Sync),
    each: &mut dyn FnMut(T),
) -> std::io::Result<()> {
    let keep_raw = ctx.keep_raw;
    // Keeping raw records means an import: a store writer needs a core of its own.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let workers = if keep_raw.any() {
        cores.saturating_sub(1)
    } else {
        cores
    }
    .clamp(1, 8);
    std::thread::scope(|scope| {
        let (block_tx, block_rx) = sync_channel::<Block>(workers * 2);
        let (item_tx, item_rx) = sync_channel::<(usize, Vec<T>)>(workers * 2);
        let block_rx = Arc::new(Mutex::new(block_rx));
        for _ in 0..workers {
            let (rx, tx) = (Arc::clone(&block_rx), item_tx.clone());
            scope.spawn(move || parse_blocks::<R, T>(&rx, &tx, keep_raw, map));
        }
        drop(item_tx);
        let splitter = scope.spawn(move || split_blocks(reader, block_size, block_tx));
        // Hand items on in block order, whatever order the workers finish in.
        let mut pending: BTreeMap<usize, Vec<T>> = BTreeMap::new();
        let mut next = 0;
        for (index, items) in item_rx {
            pending.insert(index, items);
            while let Some(items) = pending.remove(&next) {
                items.into_iter().for_each(&mut *each);
                next += 1;
            }
        }
        debug_assert!(pending.is_empty(), "every block was handed on");
        splitter.join().expect("the NDJSON reader thread panicked")
    })
}

/// Reads `reader` into blocks that end on a line boundary.
fn split_blocks(
    mut reader: impl Read,
    block_size: usize,
    out: SyncSender<Block>,
) -> std::io::Result<()> {
    let mut carry: Vec<u8> = Vec::new();
    let mut first_line = 1;
    let mut index = 0;
    loop {
        let mut buf = std::mem::take(&mut carry);
        let start = buf.len();
        buf.resize(start + block_size, 0);
        let n = read_full(&mut reader, &mut buf[start..])?;
        buf.truncate(start + n);
        let eof = n == 0;
        let cut = if eof {
            buf.len()
        } else {
            memchr::memrchr(b'\n', &buf).map_or(0, |i| i + 1)
        };
        carry = buf.split_off(cut);
        let lines = memchr::memchr_iter(b'\n', &buf).count();
        if !buf.is_empty() {
            if out
                .send(Block {
                    index,
                    first_line,
                    bytes: buf,
                })
                .is_err()
            {
                break;
            }
            index += 1;
        }
        first_line += lines;
        if eof {
            break;
        }
    }
    Ok(())
}

fn parse_blocks<R: FromWire, T>(
    blocks: &Mutex<Receiver<Block>>,
    out: &SyncSender<(usize, Vec<T>)>,
    keep_raw: super::KeepRaw,
    map: &(dyn Fn(Item<R>) -> T + Sync),
) {
    let mut ctx = ReadCtx {
        keep_raw,
        ..ReadCtx::default()
    };
    loop {
        let block = match blocks.lock().expect("block queue poisoned").recv() {
            Ok(b) => b,
            Err(_) => return,
        };
        let mut items = Vec::with_capacity(block.bytes.len() / 400);
        let body = block.bytes.strip_suffix(b"\n").unwrap_or(&block.bytes);
        // The block checked as UTF-8 at once, with SIMD (its lines then need no check each, nor
        // their strings one by one); a block that is not is read line by line, to name the bad
        // lines. Vietnamese text is mostly not ASCII: the standard library's check took a tenth
        // of a report's time.
        match simdutf8::basic::from_utf8(body) {
            Ok(text) => {
                for (i, line) in text.split('\n').enumerate() {
                    parse_line(
                        Line::Text(line),
                        block.first_line + i,
                        &mut ctx,
                        &mut |item| items.push(map(item)),
                    );
                }
            }
            Err(_) => {
                for (i, line) in body.split(|&b| b == b'\n').enumerate() {
                    parse_line(
                        Line::Bytes(line),
                        block.first_line + i,
                        &mut ctx,
                        &mut |item| items.push(map(item)),
                    );
                }
            }
        }
        if out.send((block.index, items)).is_err() {
            return;
        }
    }
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

/// A line of a block: text when the block was checked as UTF-8, else bytes.
#[derive(Clone, Copy)]
enum Line<'a> {
    Text(&'a str),
    Bytes(&'a [u8]),
}

fn parse_line<R: FromWire>(
    line: Line<'_>,
    line_no: usize,
    ctx: &mut ReadCtx,
    each: &mut dyn FnMut(Item<R>),
) {
    let (line, text) = match line {
        Line::Text(t) => {
            let t = t.strip_suffix('\r').unwrap_or(t);
            (t.as_bytes(), Some(t))
        }
        Line::Bytes(b) => (b.strip_suffix(b"\r").unwrap_or(b), None),
    };
    if line.iter().all(u8::is_ascii_whitespace) {
        return;
    }
    let at = Position::Line(line_no);
    let parsed = match text {
        Some(text) => json_record_str(text, R::FIELDS),
        None => json_record(line, R::FIELDS),
    };
    match parsed {
        // The line is the record as received (a line that parsed as JSON is UTF-8); checking that
        // again costs a seventh of a report's time, so only when the record is to be kept.
        Ok(JsonRecord::Object(wire)) => {
            let raw = if ctx.keep_raw.any() {
                text.or_else(|| std::str::from_utf8(line).ok())
            } else {
                None
            };
            each(to_item(&wire, at, ctx, raw))
        }
        Ok(JsonRecord::NotAnObject) => each(invalid(
            None,
            at,
            "the line is JSON but not an object",
            None,
        )),
        // serde_json names the bytes that are not UTF-8 only as an error of their position.
        Err(_) if std::str::from_utf8(line).is_err() => each(invalid(
            None,
            at,
            "the line is not UTF-8 text (an export saved in another encoding?): save it as UTF-8",
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Dossier;

    /// Lines split across many small blocks keep their numbers and their order.
    #[test]
    fn line_numbers_and_order_survive_block_splitting() {
        let mut text = String::new();
        for i in 1..=5000 {
            match i % 7 {
                0 => text.push_str("not json\n"),
                3 => text.push('\n'),
                _ => text.push_str(&format!(
                    "{{\"MaHoSo\":\"K{i}\",\"TrangThaiHoSo\":\"2\"}}\n"
                )),
            }
        }
        let mut ctx = ReadCtx::default();
        let mut seen = Vec::new();
        // Blocks far smaller than a line, and a few lines long: both cuts are exercised.
        // The map runs on the parsing threads; what it returns is handed on in order.
        let name = |item: Item<Dossier>| match item {
            Item::Record { record, .. } => record.key.to_string(),
            Item::Invalid { finding, .. } => finding.record,
        };
        read_in_blocks(text.as_bytes(), 17, &mut ctx, &name, &mut |key| {
            seen.push(key)
        })
        .unwrap();
        let expected: Vec<String> = (1..=5000)
            .filter(|i| i % 7 != 3)
            .map(|i| {
                if i % 7 == 0 {
                    format!("line:{i}")
                } else {
                    format!("K{i}")
                }
            })
            .collect();
        assert_eq!(seen, expected);
        let mut again = Vec::new();
        read_in_blocks(
            text.as_bytes(),
            300,
            &mut ReadCtx::default(),
            &|item: Item<Dossier>| item,
            &mut |_| again.push(()),
        )
        .unwrap();
        assert_eq!(again.len(), expected.len());
    }
}
