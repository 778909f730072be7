pub const RECORD_HEADER_LEN: usize = 40;
