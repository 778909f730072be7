//! Recovery (being written).
