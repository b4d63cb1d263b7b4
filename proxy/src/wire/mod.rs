//! The PostgreSQL wire protocol, as much of it as a router needs.
//!
//! The proxy relays frames, it does not decode rows. A [`frame::Frame`] is
//! one message kept as its raw bytes (type byte, length, body) so it can be
//! forwarded unchanged; [`frame::FrameReader`] cuts frames out of a
//! buffered stream without copying. [`startup`] reads the untyped first
//! message (StartupMessage, SSLRequest, CancelRequest). [`messages`] builds
//! the few messages the proxy writes itself (errors, ReadyForQuery, the
//! admin console's result sets, authentication requests). [`extended`]
//! reads and rewrites the extended-protocol messages that carry statement
//! names (Parse, Bind, Describe, Close), which transaction pooling must
//! rename.
//!
//! Every length is checked against a limit before anything is allocated,
//! so a client announcing a 2 GiB message gets FATAL `08P01`, not an OOM.

pub mod extended;
pub mod frame;
pub mod messages;
pub mod startup;

pub use frame::{Frame, FrameReader};
