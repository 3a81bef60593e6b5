//! The `syscall` source's field table (libsinsp + container plugin fields), so syscall rule
//! files load and validate. Events come from the live sensor and capture files (later work).

use std::sync::OnceLock;

use tripline_event::{FieldTable, SourceSchema};

/// Source name.
pub const NAME: &str = "syscall";

const FIELDS_TSV: &str = include_str!("../../../data/falco/fields/syscall.tsv");

/// The `syscall` schema.
pub fn schema() -> &'static SourceSchema {
    static SCHEMA: OnceLock<SourceSchema> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let mut s = SourceSchema::new(NAME, FieldTable::from_tsv(FIELDS_TSV))
            .with_plugin("container", "0.7.0");
        s.indexed_by_event_type = true;
        s
    })
}
