//! tcpaudit: reads captures, rebuilds every TCP connection, and reports what happened to it.
//!
//! Data flows one way: [`capture`] yields packets, [`wire`] decodes them into segments, [`flow`]
//! tracks connections, and [`report`] renders the records. The core ([`wire`], [`flow`],
//! [`analyzer`]) takes packets and their timestamps as input and never touches files, sockets or
//! the wall clock.

// Every unsafe block says why it is sound.
#![warn(clippy::undocumented_unsafe_blocks)]

pub mod analyzer;
pub mod app;
pub mod capture;
pub mod check;
pub mod cli;
pub mod compat;
pub mod config;
pub mod detect;
pub mod event;
pub mod flow;
pub mod monitor;
pub mod report;
pub mod run;
pub mod tcp;
pub mod time;
pub mod wire;

#[cfg(test)]
pub(crate) mod testutil;
