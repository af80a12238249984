//! What every layer builds on and that belongs to none of them: the compact byte encoding of
//! in-memory state ([`pack`]).

pub mod pack;
