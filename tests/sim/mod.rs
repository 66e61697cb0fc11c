//! A deterministic simulation of srvra-sync: the real client sync loops and the real room
//! decisions in one process, driven by a seeded scheduler over a simulated network and
//! storage with faults. See `tests/simulation.rs` for the checks.
#![allow(dead_code)]

pub mod client;
pub mod oracle;
pub mod server;
pub mod tabs;
pub mod workload;
pub mod world;
