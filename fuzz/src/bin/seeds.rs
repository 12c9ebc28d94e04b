//! Writes the fuzz corpus seeds: every table-driven property case of tests/property.rs
//! (its 8 properties × 9 verbs × 6 output lengths × 3 input lengths) as one input each,
//! on the capture pin from user mode, plus each case's Set with every prepared handle
//! from both modes. Usage: `seeds DIR`.

use ksframe::ks::*;
use ksframe::property::{
    KSPROPERTY_KSFRAME_ALLOCATOR_RESET, KSPROPERTY_KSFRAME_ALLOCATOR_STATISTICS, KSPROPSETID_KsframeAllocator,
};
use ksframe_fuzz::{Op, Value, decode, encode};

fn main() {
    let dir = std::env::args().nth(1).expect("usage: seeds DIR");
    std::fs::create_dir_all(&dir).expect("create the corpus directory");
    // (set, id, MinData or value size), as tests/property.rs lists them.
    let specs: [(GUID, u32, u32); 8] = [
        (KSPROPSETID_Connection, KSPROPERTY_CONNECTION_ALLOCATORFRAMING, 24),
        (KSPROPSETID_Connection, KSPROPERTY_CONNECTION_ALLOCATORFRAMING_EX, 24 + 88),
        (KSPROPSETID_Connection, KSPROPERTY_CONNECTION_STATE, 4),
        (KSPROPSETID_Stream, KSPROPERTY_STREAM_MASTERCLOCK, 8),
        (KSPROPSETID_Stream, KSPROPERTY_STREAM_ALLOCATOR, 8),
        (KSPROPSETID_KsframeAllocator, KSPROPERTY_KSFRAME_ALLOCATOR_STATISTICS, 48),
        (KSPROPSETID_KsframeAllocator, KSPROPERTY_KSFRAME_ALLOCATOR_RESET, 1),
        (PROPSETID_VIDCAP_DROPPEDFRAMES, KSPROPERTY_DROPPEDFRAMES_CURRENT, 48),
    ];
    let verbs = [
        KSPROPERTY_TYPE_GET,
        KSPROPERTY_TYPE_SET,
        KSPROPERTY_TYPE_BASICSUPPORT,
        KSPROPERTY_TYPE_SETSUPPORT,
        KSPROPERTY_TYPE_GET | KSPROPERTY_TYPE_TOPOLOGY,
        KSPROPERTY_TYPE_RELATIONS,
        0x0002_0000,
        KSPROPERTY_TYPE_GET | KSPROPERTY_TYPE_SET,
        KSPROPERTY_TYPE_GETPAYLOADSIZE,
    ];
    let mut n = 0;
    let mut write = |ops: Vec<Op>| {
        let bytes = encode(&ops);
        assert_eq!(decode(&bytes), ops, "the seed decodes to its case");
        std::fs::write(format!("{dir}/case-{n:04}"), bytes).expect("write a seed");
        n += 1;
    };
    for (set, id, size) in specs {
        for flags in verbs {
            let required =
                if flags & !KSPROPERTY_TYPE_TOPOLOGY == KSPROPERTY_TYPE_BASICSUPPORT { 40 } else { size };
            for output_len in [0, 1, 4, required - 1, required, required + 100] {
                for input_len in [12, 24, 64] {
                    let op = Op {
                        kernel: false,
                        sink: false,
                        state: None,
                        set,
                        id,
                        flags,
                        input_len,
                        output_len,
                        value: Value::Bytes(Vec::new()),
                    };
                    write(vec![op]);
                }
            }
        }
        for kernel in [false, true] {
            for handle in 0..4 {
                let op = Op {
                    kernel,
                    sink: false,
                    state: None,
                    set,
                    id,
                    flags: KSPROPERTY_TYPE_SET,
                    input_len: 24,
                    output_len: 8,
                    value: Value::Handle(handle),
                };
                write(vec![op]);
            }
        }
    }
    eprintln!("seeds: {n} inputs in {dir}");
}
