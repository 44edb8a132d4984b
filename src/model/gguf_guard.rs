//! Checks on a GGUF file that candle's reader does not make and would panic (or, in a
//! release build, misbehave) without: run before handing it the bytes. Found by fuzzing
//! (TESTING.md); every read here is bounds-checked, so these checks cannot panic.

/// The `general.alignment` a GGUF file sets, if it sets one as an integer of a type
/// candle reads (u8/i8/u16/i16/u32/i32); `None` also for files too broken to walk (candle
/// then reports them). candle divides by it.
pub fn alignment(bytes: &[u8]) -> Option<i64> {
    if bytes.get(..4)? != b"GGUF" {
        return None;
    }
    let mut r = Reader { rest: &bytes[4..], v1: false };
    let version = r.u32()?;
    r.v1 = version == 1;
    let _tensors = r.len()?;
    let entries = r.len()?;
    for _ in 0..entries {
        let key = r.string()?;
        let kind = r.u32()?;
        if key != b"general.alignment" {
            r.skip(kind, 0)?;
            continue;
        }
        return Some(match kind {
            0 => r.take(1)?[0] as i64,
            1 => r.take(1)?[0] as i8 as i64,
            2 => u16::from_le_bytes(r.take(2)?.try_into().ok()?) as i64,
            3 => i16::from_le_bytes(r.take(2)?.try_into().ok()?) as i64,
            4 => u32::from_le_bytes(r.take(4)?.try_into().ok()?) as i64,
            5 => i32::from_le_bytes(r.take(4)?.try_into().ok()?) as i64,
            other => {
                r.skip(other, 0)?;
                continue;
            }
        });
    }
    None
}

struct Reader<'a> {
    rest: &'a [u8],
    /// GGUF version 1 stores lengths as u32, later versions as u64.
    v1: bool,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.rest.len() {
            return None;
        }
        let (head, rest) = self.rest.split_at(n);
        self.rest = rest;
        Some(head)
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    fn len(&mut self) -> Option<usize> {
        if self.v1 {
            Some(self.u32()? as usize)
        } else {
            usize::try_from(u64::from_le_bytes(self.take(8)?.try_into().ok()?)).ok()
        }
    }

    fn string(&mut self) -> Option<&'a [u8]> {
        let n = self.len()?;
        self.take(n)
    }

    /// Skips one value of GGUF type `kind` (arrays nest at most 8 deep).
    fn skip(&mut self, kind: u32, depth: u32) -> Option<()> {
        match kind {
            0 | 1 | 7 => drop(self.take(1)?),
            2 | 3 => drop(self.take(2)?),
            4..=6 => drop(self.take(4)?),
            10..=12 => drop(self.take(8)?),
            8 => drop(self.string()?),
            9 if depth < 8 => {
                let inner = self.u32()?;
                let n = self.len()?;
                // Every element takes at least one byte, so a lying length runs into the
                // end of the file instead of looping for long.
                for _ in 0..n {
                    self.skip(inner, depth + 1)?;
                }
            }
            _ => return None,
        }
        Some(())
    }
}

/// Whether a tensor of `dims` in format `dtype` fits in `file_len` bytes and has
/// elements: candle multiplies the dimensions unchecked (overflow) and builds slices
/// from empty tensors unsafely.
pub fn tensor_fits(dims: &[usize], block_size: usize, type_size: usize, file_len: usize) -> Result<(), String> {
    let elems = dims.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
    let bytes = elems.and_then(|n| (n / block_size.max(1)).checked_mul(type_size));
    match (elems, bytes) {
        (Some(0), _) => Err(format!("it has no elements (shape {dims:?})")),
        (Some(_), Some(b)) if b <= file_len => Ok(()),
        _ => Err(format!("its shape {dims:?} is larger than the file")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alignment_is_read_without_panicking() {
        assert_eq!(alignment(b"GGUF"), None);
        assert_eq!(alignment(b"nope"), None);
        let mut file = b"GGUF".to_vec();
        file.extend(3u32.to_le_bytes());
        file.extend(0u64.to_le_bytes()); // tensors
        file.extend(1u64.to_le_bytes()); // one entry
        let key = b"general.alignment";
        file.extend((key.len() as u64).to_le_bytes());
        file.extend(key);
        file.extend(4u32.to_le_bytes()); // u32
        file.extend(0u32.to_le_bytes());
        assert_eq!(alignment(&file), Some(0));
        assert_eq!(alignment(&file[..file.len() - 2]), None);
    }

    #[test]
    fn tensor_sizes_are_checked() {
        assert!(tensor_fits(&[0, 32], 32, 34, 100).is_err());
        assert!(tensor_fits(&[usize::MAX, 4], 1, 4, 100).is_err());
        assert!(tensor_fits(&[2, 32], 32, 34, 68).is_ok());
        assert!(tensor_fits(&[3, 32], 32, 34, 68).is_err());
    }
}
