//! `rustydb-manager` as a library: the parts of the manager that other
//! parts (the `rustydb` binary, integration tests) build on.
//!
//! - [`raft`]: the Raft group that replicates the cluster state;
//! - [`service`]: the manager member (`rustydb manager`): health, lease,
//!   failover, switchover and the HTTP API.

pub mod raft;
pub mod service;
