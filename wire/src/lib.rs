//! The Spate wire protocol (being written).
