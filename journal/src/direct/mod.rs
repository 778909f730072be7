//! O_DIRECT storage on io_uring (being written).
