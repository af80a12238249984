//! `--filter` for capture files: a tcpdump expression compiled by libpcap once per link type and
//! run on every frame before analysis.

use super::libpcap::{BpfProgram, Libpcap, LibpcapError, libpcap};
use super::{LinkType, Packet};

/// Why a `--filter` expression cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// libpcap, which compiles the expression, could not be loaded.
    #[error("--filter needs libpcap at run time: {0}")]
    NeedsLibpcap(LibpcapError),
    /// The expression does not compile.
    #[error(transparent)]
    Compile(LibpcapError),
}

/// Frames seen by a filter.
#[derive(Clone, Debug, Default)]
pub struct FilterStats {
    /// The expression.
    pub expr: String,
    /// Frames that passed.
    pub passed: u64,
    /// Frames the filter rejected.
    pub rejected: u64,
    /// Frames of link types the expression cannot be compiled for (left out, and reported).
    pub uncompilable: u64,
}

/// A compiled filter for every link type met so far.
pub struct PacketFilter {
    lib: &'static Libpcap,
    programs: Vec<(LinkType, Result<BpfProgram, LibpcapError>)>,
    /// Counters.
    pub stats: FilterStats,
}

impl PacketFilter {
    /// Loads libpcap and checks the expression once (for Ethernet), so a typo fails before any
    /// capture is read.
    pub fn new(expr: &str) -> Result<Self, FilterError> {
        let lib = libpcap().map_err(FilterError::NeedsLibpcap)?;
        let first = lib
            .compile(expr, LinkType::ETHERNET, 262_144)
            .map_err(FilterError::Compile)?;
        Ok(PacketFilter {
            lib,
            programs: vec![(LinkType::ETHERNET, Ok(first))],
            stats: FilterStats {
                expr: expr.to_string(),
                ..FilterStats::default()
            },
        })
    }

    /// Whether the frame passes; frames whose link type the expression cannot be compiled for do
    /// not pass and are counted apart.
    pub fn matches(&mut self, pkt: &Packet<'_>) -> bool {
        let i = match self.programs.iter().position(|(l, _)| *l == pkt.link_type) {
            Some(i) => i,
            None => {
                let p = self.lib.compile(&self.stats.expr, pkt.link_type, 262_144);
                self.programs.push((pkt.link_type, p));
                self.programs.len() - 1
            }
        };
        match &self.programs[i].1 {
            Ok(p) => {
                let ok = p.matches(self.lib, pkt.data, pkt.orig_len);
                if ok {
                    self.stats.passed += 1;
                } else {
                    self.stats.rejected += 1;
                }
                ok
            }
            Err(_) => {
                self.stats.uncompilable += 1;
                false
            }
        }
    }

    /// Link types the expression could not be compiled for, with libpcap's reason.
    pub fn errors(&self) -> Vec<String> {
        self.programs
            .iter()
            .filter_map(|(l, p)| {
                p.as_ref()
                    .err()
                    .map(|e| format!("filter not applied to link type {l}: {e}"))
            })
            .collect()
    }
}
