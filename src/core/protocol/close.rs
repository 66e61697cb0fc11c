//! WebSocket close codes of the protocol (also in `docs/PROTOCOL.md`), and which of them
//! a client must not retry.

/// Normal closure.
pub const NORMAL: u16 = 1000;
/// The server is shutting down.
pub const GOING_AWAY: u16 = 1001;
/// The connection dropped without a close frame (browsers report 1006).
pub const ABNORMAL: u16 = 1006;
/// Frame over the size limit.
pub const TOO_LARGE: u16 = 1009;
/// Server-side failure (storage).
pub const INTERNAL: u16 = 1011;
/// Malformed frame or message.
pub const MALFORMED: u16 = 4000;
/// Unsupported protocol version.
pub const UNSUPPORTED_PROTOCOL: u16 = 4001;
/// Missing or wrong token.
pub const UNAUTHORIZED: u16 = 4003;
/// More operations in one message than allowed.
pub const TOO_MANY_OPS: u16 = 4004;
/// The first message was not `hello`, or `hello` came twice.
pub const HELLO_REQUIRED: u16 = 4005;

/// Whether a close with `code` means retrying cannot help (a wrong token, a protocol
/// mismatch, or a frame this client built wrongly), as opposed to a network or server
/// hiccup.
pub fn is_fatal(code: u16) -> bool {
    matches!(
        code,
        MALFORMED | UNSUPPORTED_PROTOCOL | UNAUTHORIZED | TOO_MANY_OPS | HELLO_REQUIRED
    )
}

/// The stable error code a client reports for a fatal close.
pub fn error_code(code: u16) -> &'static str {
    match code {
        UNAUTHORIZED => "UNAUTHORIZED",
        UNSUPPORTED_PROTOCOL => "PROTOCOL_MISMATCH",
        TOO_MANY_OPS => "TOO_MANY_OPS",
        MALFORMED => "MALFORMED_FRAME",
        HELLO_REQUIRED => "HELLO_REQUIRED",
        TOO_LARGE => "FRAME_TOO_LARGE",
        _ => "CONNECTION_LOST",
    }
}
