//! The wire protocol shared by the SDK and the reference server (`docs/PROTOCOL.md`):
//! message types ([`message`]), presence ([`presence`]) and the binary frame around them
//! ([`frame`]).

pub mod close;
pub mod frame;
pub mod message;
pub mod presence;

pub use frame::{decode, encode, FrameError, Limits, PROTOCOL_VERSION};
pub use message::{ClientMessage, Committed, ServerMessage};
