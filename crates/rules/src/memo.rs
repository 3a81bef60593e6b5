//! A per-event memo of field values, so rules that read the same field (`fd.name`,
//! `evt.type`, `proc.name`: most of them) extract it once per event.
//!
//! Only values that are cheap to copy are kept (borrowed text, numbers, booleans, absence);
//! owned or composite values are recomputed. Slots are direct-mapped by field id: a collision
//! only costs a recomputation.

use std::borrow::Cow;
use std::cell::Cell;

use tripline_event::{Event, FieldArg, FieldRef, Value};

const SLOTS: usize = 16;

#[derive(Clone, Copy)]
enum Slot<'e> {
    Empty,
    Absent(u32),
    Str(u32, &'e str),
    Unsigned(u32, u64),
    Signed(u32, i64),
    Bool(u32, bool),
}

/// An event seen through the memo.
pub(crate) struct Memo<'e> {
    ev: &'e dyn Event,
    slots: [Cell<Slot<'e>>; SLOTS],
}

impl<'e> Memo<'e> {
    pub(crate) fn new(ev: &'e dyn Event) -> Memo<'e> {
        Memo {
            ev,
            slots: std::array::from_fn(|_| Cell::new(Slot::Empty)),
        }
    }
}

impl Event for Memo<'_> {
    fn source(&self) -> &str {
        self.ev.source()
    }

    fn time_ns(&self) -> u64 {
        self.ev.time_ns()
    }

    fn event_type(&self) -> Option<&str> {
        self.ev.event_type()
    }

    fn extract(&self, f: &FieldRef) -> Option<Value<'_>> {
        if !matches!(f.arg, FieldArg::None) {
            return self.ev.extract(f);
        }
        let cell = &self.slots[f.id as usize % SLOTS];
        let id = f.id;
        match cell.get() {
            Slot::Absent(i) if i == id => return None,
            Slot::Str(i, s) if i == id => return Some(Value::Str(Cow::Borrowed(s))),
            Slot::Unsigned(i, n) if i == id => return Some(Value::Unsigned(n)),
            Slot::Signed(i, n) if i == id => return Some(Value::Signed(n)),
            Slot::Bool(i, b) if i == id => return Some(Value::Bool(b)),
            _ => {}
        }
        let ev: &dyn Event = self.ev;
        let v = ev.extract(f);
        let slot = match &v {
            None => Slot::Absent(id),
            Some(Value::Str(Cow::Borrowed(s))) => Slot::Str(id, s),
            Some(Value::Unsigned(n)) => Slot::Unsigned(id, *n),
            Some(Value::Signed(n)) => Slot::Signed(id, *n),
            Some(Value::Bool(b)) => Slot::Bool(id, *b),
            Some(_) => return v,
        };
        cell.set(slot);
        v
    }
}
