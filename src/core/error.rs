//! The one error type of the core, with a stable machine-readable code.

use std::fmt;

/// Which family of error this is; the binding maps each to a JS error class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A wrong argument type or an invalid configuration field (JS `TypeError`).
    Type,
    /// A well-typed argument the operation cannot accept (JS `ValidationError`).
    Validation,
    /// Local storage failed (JS `StorageError`).
    Storage,
    /// The network or the server failed (JS `NetworkError`).
    Network,
    /// A conflict could not be settled as asked (JS `ConflictError`).
    Conflict,
    /// Anything else (JS `SrvraError`).
    Internal,
}

impl ErrorKind {
    /// The name the JS side maps to its Error class (`type`, `validation`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Self::Type => "type",
            Self::Validation => "validation",
            Self::Storage => "storage",
            Self::Network => "network",
            Self::Conflict => "conflict",
            Self::Internal => "internal",
        }
    }
}

/// An error raised by the core. `code` is stable and documented in the README.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoreError {
    /// The family, which picks the JS class.
    pub kind: ErrorKind,
    /// Stable code such as `INVALID_PATH`.
    pub code: &'static str,
    /// Human-readable explanation naming the offending input.
    pub message: String,
}

impl CoreError {
    /// A `ValidationError` with the given code.
    pub fn validation(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::Validation,
            code,
            message: message.into(),
        }
    }

    /// A `TypeError` (wrong argument type or config field).
    pub fn type_error(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::Type,
            code,
            message: message.into(),
        }
    }

    /// A `StorageError`.
    pub fn storage(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::Storage,
            code,
            message: message.into(),
        }
    }

    /// A `NetworkError`.
    pub fn network(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::Network,
            code,
            message: message.into(),
        }
    }

    /// A `ConflictError`.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::Conflict,
            code,
            message: message.into(),
        }
    }

    /// A `SrvraError` for failures that are neither the caller's nor storage's fault.
    pub fn internal(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::Internal,
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for CoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.code)
    }
}

impl std::error::Error for CoreError {}

/// Result alias for core operations.
pub type Result<T> = std::result::Result<T, CoreError>;
