//! `docs/wire.md` is the specification: every status code and message type in
//! the code must appear in its tables, with the same number and advice.

use spate_wire::{MessageType, StatusCode};

const SPEC: &str = include_str!("../../../docs/wire.md");

#[test]
fn every_status_code_is_in_the_spec_table() {
    for &status in StatusCode::ALL {
        let row = format!(
            "| {} | `{status:?}` | {:?} |",
            status.code(),
            status.default_advice()
        );
        assert!(SPEC.contains(&row), "docs/wire.md lacks the row {row}");
    }
}

#[test]
fn every_message_type_is_in_the_spec_tables() {
    for &message_type in MessageType::ALL {
        let row = format!("| `0x{:04X}` | `{message_type:?}`", message_type.code());
        assert!(SPEC.contains(&row), "docs/wire.md lacks the row {row}");
    }
}
