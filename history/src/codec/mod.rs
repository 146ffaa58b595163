//! Chunk encodings: the raw tier in Gorilla form ([`xor`]), the 1-minute aggregates
//! ([`agg`]), on a bit stream ([`bits`]). Pure functions over bytes: decoding garbage ends
//! early, never panics.

pub mod agg;
pub mod bits;
pub mod xor;
