//! The test pattern ksframe's capture pin writes, checked from its description (ksframe
//! `src/avstream/pattern.rs` module docs), written here again so that the probe judges
//! the driver's frames rather than sharing its code:
//!
//! A frame starts with its frame number (8 bytes, little endian). The rest is split into
//! 4 KiB blocks; in block `b` of frame `n`, a 16-byte bar of value `(n ^ b) as u8` sits at
//! offset `(n * 64) % 4096`; a bar that would cover the 8-byte header starts right after
//! it instead (still 16 bytes), and a bar is clipped at the frame's end.

/// Why a frame is not ksframe's pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mismatch {
    TooShort(usize),
    Bar { block: usize, offset: usize, found: u8, expected: u8 },
}

/// The frame number of an intact frame.
pub fn check(frame: &[u8]) -> Result<u64, Mismatch> {
    let Some(header) = frame.get(..8) else {
        return Err(Mismatch::TooShort(frame.len()));
    };
    let mut number = [0u8; 8];
    number.copy_from_slice(header);
    let n = u64::from_le_bytes(number);
    let offset = ((n.wrapping_mul(64)) % 4096) as usize;
    for block in 0..frame.len().div_ceil(4096) {
        let start = (block * 4096 + offset).max(8);
        let end = (start + 16).min(frame.len());
        let expected = (n ^ block as u64) as u8;
        for (i, byte) in frame.iter().enumerate().take(end).skip(start) {
            if *byte != expected {
                return Err(Mismatch::Bar { block, offset: i, found: *byte, expected });
            }
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fill(frame: &mut [u8], n: u64) {
        frame[..8].copy_from_slice(&n.to_le_bytes());
        let offset = ((n * 64) % 4096) as usize;
        for block in 0..frame.len().div_ceil(4096) {
            let start = (block * 4096 + offset).max(8);
            let end = (start + 16).min(frame.len());
            for b in frame.iter_mut().take(end).skip(start) {
                *b = (n ^ block as u64) as u8;
            }
        }
    }

    #[test]
    fn intact_frames_pass_and_damage_is_found() {
        let mut frame = vec![0u8; 614_400];
        for n in [0u64, 1, 63, 64, 1000] {
            fill(&mut frame, n);
            assert_eq!(check(&frame), Ok(n));
        }
        frame[4096 + (1000 * 64) % 4096] ^= 0xFF;
        assert!(matches!(check(&frame), Err(Mismatch::Bar { block: 1, .. })));
        assert_eq!(check(&[0; 7]), Err(Mismatch::TooShort(7)));
        // An all-zero frame is frame 0 only if its bars are 0 ^ block: block 1 is not.
        assert!(check(&vec![0u8; 8192]).is_err());
    }
}
