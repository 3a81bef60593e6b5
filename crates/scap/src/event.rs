//! One event record: header fields plus its parameters as byte slices.

use crate::table;

/// An event borrowed from the reader's buffer (valid until the next block is read).
///
/// Parameters are raw little-endian bytes; [`Event::uint`], [`Event::int`] and
/// [`Event::text`] read them by the names in [`crate::table`].
#[derive(Debug, Clone, Copy)]
pub struct Event<'a> {
    /// CPU that recorded the event.
    pub cpu: u16,
    /// Flags of `EVF` blocks (0 otherwise).
    pub flags: u32,
    /// Time, ns since the Unix epoch.
    pub ts_ns: u64,
    /// Thread id.
    pub tid: u64,
    /// Event type code (even = enter, odd = exit).
    pub code: u16,
    pub(crate) data: &'a [u8],
    pub(crate) ranges: &'a [(u32, u32)],
}

impl<'a> Event<'a> {
    /// Falco's `evt.type`.
    pub fn name(&self) -> &'static str {
        // Generic events carry their syscall in the `ID` parameter.
        if self.code < 2 {
            if let Some(name) = self.int("ID").and_then(table::generic_name) {
                return name;
            }
        }
        table::meta(self.code).info.name
    }

    /// Whether this is the enter half of a syscall (`evt.dir` `>`).
    pub fn is_enter(&self) -> bool {
        self.code.is_multiple_of(2)
    }

    /// Number of parameters present.
    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    /// Whether the event has no parameters.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Parameter `i`, raw.
    pub fn param(&self, i: usize) -> Option<&'a [u8]> {
        let (start, end) = *self.ranges.get(i)?;
        self.data.get(start as usize..end as usize)
    }

    /// Parameter called `name` in the event table, raw.
    pub fn named(&self, name: &str) -> Option<&'a [u8]> {
        let i = table::info(self.code)
            .params
            .iter()
            .position(|p| *p == name)?;
        self.param(i)
    }

    /// A numeric parameter, zero-extended from its width.
    pub fn uint(&self, name: &str) -> Option<u64> {
        le_uint(self.named(name)?)
    }

    /// A numeric parameter, sign-extended from its width (fds, results, pids).
    pub fn int(&self, name: &str) -> Option<i64> {
        le_int(self.named(name)?)
    }

    /// A string parameter without its trailing NUL.
    pub fn text(&self, name: &str) -> Option<&'a [u8]> {
        let b = self.named(name)?;
        Some(b.strip_suffix(&[0]).unwrap_or(b))
    }
}

/// Little-endian signed integer of 1, 2, 4 or 8 bytes, sign-extended.
pub(crate) fn le_int(b: &[u8]) -> Option<i64> {
    let v = le_uint(b)?;
    Some(match b.len() {
        1 => v as u8 as i8 as i64,
        2 => v as u16 as i16 as i64,
        4 => v as u32 as i32 as i64,
        _ => v as i64,
    })
}

/// Little-endian unsigned integer of 1, 2, 4 or 8 bytes.
pub(crate) fn le_uint(b: &[u8]) -> Option<u64> {
    Some(match b.len() {
        1 => b[0] as u64,
        2 => u16::from_le_bytes([b[0], b[1]]) as u64,
        4 => u32::from_le_bytes(b.try_into().ok()?) as u64,
        8 => u64::from_le_bytes(b.try_into().ok()?),
        _ => return None,
    })
}
