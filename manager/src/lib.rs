//! `rustydb-manager` as a library: the parts of the manager that other
//! parts (the `rustydb` binary, integration tests) build on.
//!
//! - [`cli_client`]: the `rustydb-cli` operator command (HTTP client of the API);
//! - [`raft`]: the Raft group that replicates the cluster state;
//! - [`service`]: the manager member (`rustydb manager`): health, lease,
//!   failover, switchover and the HTTP API;
//! - [`wan_relay`]: `rustydb wan-relay`, a latency / bandwidth / loss /
//!   partition relay for geo tests and demos;
//! - [`site_lease`]: the inter-site majority lease behind automatic DR
//!   failover, and [`witness`]: `rustydb witness`, the third site's voter.

pub mod cli_client;
pub mod raft;
pub mod service;
pub mod site_lease;
pub mod wan_relay;
pub mod witness;
