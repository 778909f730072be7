//! The segment names the overload harness uses, in one place so that no
//! two cases collide.

/// The big segment the range readers and the non-reading client read.
pub fn big() -> String {
    "overload/big".into()
}

/// A segment whose tail long-poll readers wait at.
pub fn tail(i: usize) -> String {
    format!("overload/tail/{i}")
}

/// The probe's segment during case `case`.
pub fn probe(case: &str) -> String {
    format!("overload/probe/{case}")
}

/// The segment the non-reading client appends to.
pub fn unread() -> String {
    "overload/unread".into()
}

/// One of the many segments of the segments case.
pub fn many(i: usize) -> String {
    format!("overload/many/{i}")
}
