//! The fuzz target's input format, shared with the seed writer (`src/bin/seeds.rs`).
//!
//! An input is a sequence of operations, each:
//!
//! | bytes | meaning |
//! |---|---|
//! | 1 | bit 0: kernel-mode requestor; bit 1: the sink pin (else the capture pin); bit 2: a state byte follows |
//! | 0 or 1 | the pin state to walk to first (mod 4) |
//! | 1 | the set: an index into [`SETS`], or any other value: a GUID from the next 4 bytes |
//! | 1 | the property id |
//! | 4 | KSPROPERTY.Flags, little endian, as is |
//! | 1 | InputBufferLength |
//! | 2 | OutputBufferLength, little endian |
//! | 1 + … | the value: 0 a prepared handle (1 byte: which), 1 a forged handle (8 bytes), 2 NULL, 3 raw bytes (1 byte count, then the bytes) |
//!
//! Missing bytes read as zero; decoding stops at the end of the input.

use ksframe::ks::*;
use ksframe::property::KSPROPSETID_KsframeAllocator;

/// The sets a selector byte names.
pub const SETS: [GUID; 6] = [
    KSPROPSETID_Connection,
    KSPROPSETID_Stream,
    KSPROPSETID_KsframeAllocator,
    PROPSETID_VIDCAP_DROPPEDFRAMES,
    KSPROPSETID_Pin,
    GUID_NULL,
];

/// A Set's value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// One of the prepared handles (kernel allocator, user allocator, file, event).
    Handle(u8),
    /// A handle value no one opened.
    Forged(u64),
    /// A NULL handle.
    Null,
    /// Raw bytes.
    Bytes(Vec<u8>),
}

/// One property request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Op {
    /// Kernel-mode requestor.
    pub kernel: bool,
    /// To the sink pin (else the capture pin).
    pub sink: bool,
    /// Walk the pin to this state first.
    pub state: Option<u8>,
    /// The property set.
    pub set: GUID,
    /// The property id.
    pub id: u32,
    /// KSPROPERTY.Flags.
    pub flags: u32,
    /// InputBufferLength.
    pub input_len: u32,
    /// OutputBufferLength.
    pub output_len: u32,
    /// The value.
    pub value: Value,
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn u8(&mut self) -> u8 {
        let (first, rest) = self.0.split_first().map_or((0, &[][..]), |(f, r)| (*f, r));
        self.0 = rest;
        first
    }
    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
    fn u64(&mut self) -> u64 {
        u64::from(self.u32()) | u64::from(self.u32()) << 32
    }
}

/// The operations of an input.
pub fn decode(data: &[u8]) -> Vec<Op> {
    let mut r = Reader(data);
    let mut ops = Vec::new();
    while !r.0.is_empty() && ops.len() < 64 {
        let head = r.u8();
        let state = (head & 4 != 0).then(|| r.u8());
        let selector = r.u8();
        let set = match SETS.get(usize::from(selector)) {
            Some(set) => *set,
            None => GUID::from_u128(u128::from(r.u32()) << 96),
        };
        let id = u32::from(r.u8());
        let flags = r.u32();
        let input_len = u32::from(r.u8());
        let output_len = u32::from(r.u16()).min(4096);
        let value = match r.u8() % 4 {
            0 => Value::Handle(r.u8()),
            1 => Value::Forged(r.u64()),
            2 => Value::Null,
            _ => {
                let n = r.u8() % 64;
                Value::Bytes((0..n).map(|_| r.u8()).collect())
            }
        };
        ops.push(Op {
            kernel: head & 1 != 0,
            sink: head & 2 != 0,
            state,
            set,
            id,
            flags,
            input_len,
            output_len,
            value,
        });
    }
    ops
}

/// The bytes `decode` reads as `ops` (sets outside [`SETS`] are not encodable).
pub fn encode(ops: &[Op]) -> Vec<u8> {
    let mut out = Vec::new();
    for op in ops {
        out.push(u8::from(op.kernel) | u8::from(op.sink) << 1 | u8::from(op.state.is_some()) << 2);
        if let Some(s) = op.state {
            out.push(s);
        }
        let selector = SETS.iter().position(|s| *s == op.set).expect("a set of SETS");
        out.push(selector as u8);
        out.push(op.id as u8);
        out.extend_from_slice(&op.flags.to_le_bytes());
        out.push(op.input_len as u8);
        out.extend_from_slice(&(op.output_len as u16).to_le_bytes());
        match &op.value {
            Value::Handle(k) => out.extend_from_slice(&[0, *k]),
            Value::Forged(h) => {
                out.push(1);
                out.extend_from_slice(&h.to_le_bytes());
            }
            Value::Null => out.push(2),
            Value::Bytes(b) => {
                out.extend_from_slice(&[3, b.len() as u8]);
                out.extend_from_slice(b);
            }
        }
    }
    out
}
