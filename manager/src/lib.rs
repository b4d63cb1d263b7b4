//! `rustydb-manager` as a library: the parts of the manager that other
//! parts (the `rustydb` binary, integration tests) build on.
//!
//! - [`raft`]: the Raft group that replicates the cluster state.

pub mod raft;
