//! Who a connection is and what it may do in its room (SPEC §11): no check, one shared
//! token (compared in constant time), or a JWT whose `sub` names the user, `exp` bounds the
//! session and `rooms` maps room patterns (`*` wildcard) to `"read"` or `"write"`.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use srvra_sync::core::model::path::glob;
use srvra_sync::core::protocol::close;
use srvra_sync::core::room::session::Refusal;
use subtle::ConstantTimeEq;

/// How clients prove who they are.
#[derive(Clone)]
pub enum Auth {
    /// No check: everyone may read and write every room (local development).
    Open,
    /// Every client sends the same secret; it may read and write every room.
    Shared(String),
    /// Signed tokens with a user and per-room rights.
    Jwt(Box<JwtVerifier>),
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Auth::Open => "Auth::Open",
            Auth::Shared(_) => "Auth::Shared(..)",
            Auth::Jwt(_) => "Auth::Jwt(..)",
        })
    }
}

/// The key and algorithms JWTs are checked with.
#[derive(Clone)]
pub struct JwtVerifier {
    key: DecodingKey,
    validation: Validation,
}

/// What a connection may do in its room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Access {
    /// Receive state and changes; every change sent is rejected with `FORBIDDEN`.
    Read,
    /// Read and write.
    Write,
}

/// An accepted `hello`: the user (JWT mode only), the room's access, and when it ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The token's `sub`; client ids are bound to it.
    pub user: Option<String>,
    /// What the connection may do.
    pub access: Access,
    /// When the token expires (the session is closed with `TOKEN_EXPIRED` then).
    pub expires: Option<SystemTime>,
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    exp: u64,
    #[serde(default)]
    rooms: HashMap<String, String>,
}

impl JwtVerifier {
    /// HS256 with a shared secret.
    pub fn secret(secret: &str) -> Self {
        Self::with(
            DecodingKey::from_secret(secret.as_bytes()),
            &[Algorithm::HS256],
        )
    }

    /// RS256 or ES256 with the PEM public key in `file`.
    pub fn public_key(file: &Path) -> Result<Self, String> {
        let pem = std::fs::read(file)
            .map_err(|e| format!("cannot read the JWT public key {}: {e}", file.display()))?;
        if let Ok(key) = DecodingKey::from_rsa_pem(&pem) {
            return Ok(Self::with(key, &[Algorithm::RS256]));
        }
        if let Ok(key) = DecodingKey::from_ec_pem(&pem) {
            return Ok(Self::with(key, &[Algorithm::ES256]));
        }
        Err(format!(
            "{} holds no RSA or EC (P-256) public key in PEM form",
            file.display()
        ))
    }

    fn with(key: DecodingKey, algorithms: &[Algorithm]) -> Self {
        let mut validation = Validation::new(algorithms[0]);
        validation.algorithms = algorithms.to_vec();
        validation.set_required_spec_claims(&["exp", "sub"]);
        // Expiry is exact: the server's clock decides, as it does for the session's end.
        validation.leeway = 0;
        Self { key, validation }
    }

    fn claims(&self, token: &str) -> Result<Claims, Refusal> {
        jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation)
            .map(|data| data.claims)
            .map_err(|error| match error.kind() {
                ErrorKind::ExpiredSignature => expired(),
                _ => unauthorized("the token is not valid"),
            })
    }
}

impl Auth {
    /// Checks `hello.token` for `room` at time `now`.
    pub fn check(
        &self,
        token: Option<&str>,
        room: &str,
        now: SystemTime,
    ) -> Result<Grant, Refusal> {
        let open = Grant {
            user: None,
            access: Access::Write,
            expires: None,
        };
        match self {
            Auth::Open => Ok(open),
            Auth::Shared(secret) => {
                let presented = token.unwrap_or_default();
                if same_secret(presented, secret) {
                    Ok(open)
                } else {
                    Err(unauthorized("missing or wrong token"))
                }
            }
            Auth::Jwt(verifier) => {
                let token = token.ok_or_else(|| unauthorized("this server needs a token"))?;
                let claims = verifier.claims(token)?;
                // A validly signed `exp` of 1e19 or u64::MAX once panicked the task
                // ("overflow when adding duration to instant"): clamp it to year 9999.
                let expires = UNIX_EPOCH + Duration::from_secs(claims.exp.min(MAX_EXP));
                if expires <= now {
                    return Err(expired());
                }
                let access = access_to(&claims.rooms, room)?.ok_or_else(|| {
                    Refusal::new(
                        "FORBIDDEN",
                        "the token grants no access to this room",
                        close::FORBIDDEN,
                    )
                })?;
                Ok(Grant {
                    user: Some(claims.sub),
                    access,
                    expires: Some(expires),
                })
            }
        }
    }

    /// Whether clients must prove who they are (then `/metrics` needs its own token).
    pub fn is_on(&self) -> bool {
        !matches!(self, Auth::Open)
    }
}

/// The strongest right the patterns matching `room` give; an unknown right is an error.
fn access_to(rooms: &HashMap<String, String>, room: &str) -> Result<Option<Access>, Refusal> {
    let mut best = None;
    for (pattern, right) in rooms {
        let access = match right.as_str() {
            "read" => Access::Read,
            "write" => Access::Write,
            _ => return Err(unauthorized("a room right must be \"read\" or \"write\"")),
        };
        if glob(pattern, room) {
            best = best.max(Some(access));
        }
    }
    Ok(best)
}

/// Compares a presented token with the secret in time that does not depend on where they
/// differ (`subtle`), so timing does not reveal the secret.
pub fn same_secret(presented: &str, secret: &str) -> bool {
    presented.as_bytes().ct_eq(secret.as_bytes()).into()
}

fn unauthorized(message: &str) -> Refusal {
    Refusal::new("UNAUTHORIZED", message, close::UNAUTHORIZED)
}

/// The latest `exp` taken as it is (9999-12-31T23:59:59Z); later ones are clamped to it.
pub const MAX_EXP: u64 = 253_402_300_799;

/// The token's `exp` has passed: the client asks its `token` function again.
pub fn expired() -> Refusal {
    Refusal::new(
        "TOKEN_EXPIRED",
        "the token has expired",
        close::TOKEN_EXPIRED,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_with_stars() {
        assert!(glob("*", "anything"));
        assert!(glob("team-*", "team-a"));
        assert!(glob("team-*-board", "team-a-b-board"));
        assert!(!glob("team-*", "other"));
        assert!(glob("exact", "exact"));
        assert!(!glob("exact", "exactly"));
        assert!(glob("a*b*c", "abc"));
        // A hostile pattern stays fast.
        let long = "a".repeat(256);
        assert!(!glob(&"*a".repeat(100), &format!("{long}b")));
    }

    #[test]
    fn the_strongest_matching_right_wins_and_unknown_rights_are_refused() {
        let rooms = HashMap::from([
            ("*".to_owned(), "read".to_owned()),
            ("mine".to_owned(), "write".to_owned()),
        ]);
        assert_eq!(access_to(&rooms, "mine").unwrap(), Some(Access::Write));
        assert_eq!(access_to(&rooms, "other").unwrap(), Some(Access::Read));
        let bad = HashMap::from([("*".to_owned(), "admin".to_owned())]);
        assert_eq!(access_to(&bad, "x").unwrap_err().code, "UNAUTHORIZED");
    }
}
