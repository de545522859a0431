//! Reads structure out of fuzz input front to back; running out of bytes is normal, never an error.

pub struct Cursor<'a> {
    data: &'a [u8],
}

impl<'a> Cursor<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Cursor { data }
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub fn byte(&mut self) -> Option<u8> {
        let (first, rest) = self.data.split_first()?;
        self.data = rest;
        Some(*first)
    }

    /// Up to `n` bytes (fewer when the input ends).
    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.data.split_at(n.min(self.data.len()));
        self.data = rest;
        head
    }

    /// Up to 8 bytes, little-endian; missing bytes are zero.
    pub fn u64(&mut self) -> u64 {
        self.take(8)
            .iter()
            .rev()
            .fold(0, |acc, b| acc << 8 | u64::from(*b))
    }

    /// A header value: tag 0 (or no input) = absent, 255 = a 16-bit length follows, else length tag - 1.
    /// Long values are reachable without making every short one cost three bytes.
    pub fn field(&mut self) -> Option<&'a [u8]> {
        let length = match self.byte()? {
            0 => return None,
            255 => {
                usize::from(self.byte().unwrap_or(0)) | usize::from(self.byte().unwrap_or(0)) << 8
            }
            tag => usize::from(tag - 1),
        };
        Some(self.take(length))
    }
}

/// Appends `value` in the form `Cursor::field` reads back (for generated inputs and seeds).
pub fn push_field(out: &mut Vec<u8>, value: Option<&[u8]>) {
    match value {
        None => out.push(0),
        Some(bytes) if bytes.len() < 254 => {
            out.push(bytes.len() as u8 + 1);
            out.extend_from_slice(bytes);
        }
        Some(bytes) => {
            let bytes = &bytes[..bytes.len().min(usize::from(u16::MAX))];
            out.push(255);
            out.extend_from_slice(&(bytes.len() as u16).to_le_bytes());
            out.extend_from_slice(bytes);
        }
    }
}
