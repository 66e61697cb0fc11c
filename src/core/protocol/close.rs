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
/// The token expired: the client asks its `token` function again and reconnects.
pub const TOKEN_EXPIRED: u16 = 4006;
/// The token grants no access to the room, or the client id belongs to another user.
pub const FORBIDDEN: u16 = 4007;
/// Too many messages, operations or attempts: the client reconnects after its backoff.
pub const RATE_LIMITED: u16 = 4008;
/// A server-wide limit (connections, rooms, a room's size) is reached: retry later.
pub const OVERLOADED: u16 = 4009;
/// Nothing came from the client for the server's idle timeout.
pub const IDLE: u16 = 4010;

/// Whether a close with `code` means retrying cannot help (a wrong token, a protocol
/// mismatch, or a frame this client built wrongly), as opposed to a network or server
/// hiccup.
pub fn is_fatal(code: u16) -> bool {
    matches!(
        code,
        MALFORMED | UNSUPPORTED_PROTOCOL | UNAUTHORIZED | TOO_MANY_OPS | HELLO_REQUIRED | FORBIDDEN
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
        TOKEN_EXPIRED => "TOKEN_EXPIRED",
        FORBIDDEN => "FORBIDDEN",
        RATE_LIMITED => "RATE_LIMITED",
        OVERLOADED => "OVERLOADED",
        _ => "CONNECTION_LOST",
    }
}
