//! The moving test pattern the capture pin writes and the sink pin checks.
//!
//! A frame starts with its frame number (8 bytes, little endian). The rest is split
//! into 4 KiB blocks; in block `b` of frame `n`, a 16-byte bar of value `n ^ b` (low
//! byte) sits at offset `(n * 64) % 4096`: the bar moves 64 bytes per frame. Only the
//! header and the bars are written, so a frame costs ~4 bytes per KiB to produce and to
//! check whatever its size.

/// Bytes of the frame-number header.
pub const HEADER: usize = 8;
/// The block the bar moves within.
pub const BLOCK: usize = 4096;
/// The bar's width.
pub const BAR: usize = 16;

/// BLOCK − 1 (BLOCK is a power of two).
const BLOCK_MASK: u64 = 4095;

/// Where frame `n`'s bar starts in each block.
const fn bar_offset(n: u64) -> usize {
    (n.wrapping_mul(64) & BLOCK_MASK) as usize
}

/// The bar bytes' value in block `block` of frame `n`.
const fn bar_value(n: u64, block: usize) -> u8 {
    (n ^ block as u64) as u8
}

/// The bar ranges of a frame of `len` bytes: (block, start, end), header excluded.
fn bars(n: u64, len: usize) -> impl Iterator<Item = (usize, usize, usize)> {
    let offset = bar_offset(n);
    (0..len.div_ceil(BLOCK)).filter_map(move |block| {
        let start = block.checked_mul(BLOCK)?.checked_add(offset)?.max(HEADER);
        let end = start.checked_add(BAR)?.min(len);
        (start < end).then_some((block, start, end))
    })
}

/// Writes frame `n`'s pattern into `frame`.
pub fn fill(frame: &mut [u8], n: u64) {
    if let Some(header) = frame.get_mut(..HEADER) {
        header.copy_from_slice(&n.to_le_bytes());
    }
    for (block, start, end) in bars(n, frame.len()) {
        if let Some(bar) = frame.get_mut(start..end) {
            bar.fill(bar_value(n, block));
        }
    }
}

/// The frame number in `frame`'s header, if the whole pattern of that frame is intact.
pub fn check(frame: &[u8]) -> Option<u64> {
    let n = u64::from_le_bytes(frame.get(..HEADER)?.try_into().ok()?);
    let intact = bars(n, frame.len()).all(|(block, start, end)| {
        frame.get(start..end).is_some_and(|bar| bar.iter().all(|b| *b == bar_value(n, block)))
    });
    intact.then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filled_frames_check_and_damage_is_seen() {
        for len in [HEADER, 100, BLOCK, BLOCK * 3 + 17, 614_400] {
            let mut frame = std::vec![0u8; len];
            for n in [0u64, 1, 63, 64, 1000] {
                fill(&mut frame, n);
                assert_eq!(check(&frame), Some(n), "len {len} frame {n}");
            }
            if len > BLOCK {
                let (_, start, _) = bars(1000, len).nth(1).unwrap();
                frame[start] ^= 0xFF;
                assert_eq!(check(&frame), None, "len {len}: a damaged bar went unseen");
            }
        }
        assert_eq!(check(&[1, 2, 3]), None);
    }

    #[test]
    fn the_bar_moves() {
        assert_ne!(bar_offset(1), bar_offset(2));
        assert_eq!(bar_offset(0), bar_offset(64));
    }
}
