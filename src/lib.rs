//! tcpaudit: reads captures, rebuilds every TCP connection, and reports what happened to it.
//!
//! Data flows one way. A [`capture`] source yields frames; [`wire`] decodes them into segments;
//! the [`flow`] table gives each segment to its connection, which replays it through the
//! reference model in [`tcp`] (both endpoints' RFC 9293 states, reassembly, metrics), the
//! emulations of other tools' views in [`compat`] (Zeek, Wireshark) and the anomaly rules in
//! [`detect`]; what leaves the engine is an [`event`] (connection opened, state changed,
//! anomaly, connection closed with its [`event::ConnRecord`], application record). With
//! application parsing on, [`proto`] reads DNS, TLS and HTTP/1.x from the connections'
//! reassembled streams and from UDP datagrams. [`analyzer`] is the facade over
//! all of that, in two halves (the intake, which screens frame times and decodes, and the
//! engine, which holds the connection table) that a run may put on two threads, and [`run`]
//! the one loop that drives any source through it into a [`report`] sink.
//!
//! The core ([`wire`], [`tcp`], [`compat`], [`detect`], [`event`], [`flow`], [`analyzer`]) is
//! sans-IO: it takes frames and their timestamps as input and never touches files, sockets or
//! the wall clock ([`time`] is packet time). Imports point down the layers, never up:
//! `time` < `wire` < `capture`, `tcp`, `proto` < `compat` < `detect` < `event` < `flow` < `analyzer` <
//! `run`, `report`, `config` < `check`, `monitor`, `app`; [`wire`] also holds the vocabulary every
//! layer shares. The front end ([`cli`], [`config`], [`app`], [`monitor`], [`check`]) is what the
//! `tcpaudit` binary runs.

// Every unsafe block says why it is sound.
#![warn(clippy::undocumented_unsafe_blocks)]

pub mod analyzer;
pub mod app;
pub mod base;
pub mod capture;
pub mod check;
pub mod cli;
pub mod compat;
pub mod config;
pub mod detect;
pub mod event;
pub mod flow;
pub mod monitor;
pub mod proto;
pub mod report;
pub mod run;
pub mod tcp;
pub mod time;
pub mod wire;

#[cfg(test)]
pub(crate) mod testutil;
