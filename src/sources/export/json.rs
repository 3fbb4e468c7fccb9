//! A JSON array of record objects, streamed element by element. An element that is not an object,
//! or that cannot be parsed into a dossier, is an `invalid_record` at `row:N` (N counts elements
//! from 1); an array that is not valid JSON as a whole is unusable input.

use super::wire::{FromWire, JsonRecord, JsonRecordSeed};
use super::{Item, Position, ReadCtx, invalid, to_item};
use serde::de::{DeserializeSeed, Deserializer, SeqAccess, Visitor};
use std::fmt;
use std::io::{BufReader, Read};

pub(super) fn read<R: FromWire>(
    reader: impl Read,
    ctx: &mut ReadCtx,
    each: &mut dyn FnMut(Item<R>),
) -> Result<(), String> {
    let mut de = serde_json::Deserializer::from_reader(BufReader::with_capacity(1 << 20, reader));
    ArraySeed { each, ctx }
        .deserialize(&mut de)
        .map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())
}

struct ArraySeed<'a, 'b, R> {
    each: &'a mut dyn FnMut(Item<R>),
    ctx: &'b mut ReadCtx,
}

impl<'de, R: FromWire> DeserializeSeed<'de> for ArraySeed<'_, '_, R> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, R: FromWire> Visitor<'de> for ArraySeed<'_, '_, R> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of record objects")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut row = 0;
        while let Some(record) = seq.next_element_seed(JsonRecordSeed(R::FIELDS))? {
            row += 1;
            let at = Position::Row(row);
            match record {
                JsonRecord::Object(wire) => (self.each)(to_item(&wire, at, self.ctx, None)),
                JsonRecord::NotAnObject => (self.each)(invalid(
                    None,
                    at,
                    "the array element is not an object",
                    None,
                )),
            }
        }
        Ok(())
    }
}
