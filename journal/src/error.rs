//! Errors (being written).
