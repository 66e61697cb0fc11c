//! Who may speak in a session: the token, the pace of refused attempts from the address,
//! and the client id's owner (its JWT user, or the secret its SDK stores with it).

use std::time::SystemTime;

use srvra_sync::core::protocol::close;
use srvra_sync::core::room::session::check_owner;

use super::{storage_failed, Fatal, Session};
use crate::auth::Grant;
use crate::metrics::Refused;

impl Session {
    /// Checks the token (and the pace of refused ones from this IP) and binds the client
    /// id to its owner: the token's user, or else a hash of the secret the SDK stores with
    /// the id (see [`check_owner`]).
    pub(super) async fn admit(
        &self,
        token: Option<&str>,
        secret: Option<&str>,
        client: &str,
        room: &str,
    ) -> Result<Grant, Fatal> {
        let app = &self.app;
        let per_minute = app.config.guards.auth_failures_per_minute;
        // Past its refusals, an address is answered slowly, and its wrong tokens get
        // RATE_LIMITED; a right token is still let in, so guessing from one address
        // cannot lock out its honest clients (issue 29).
        let blocked = app.config.auth.is_on() && app.auth_failures.pace(self.ip, per_minute).await;
        let refused = |fatal: Fatal| {
            if blocked {
                app.metrics.refused(Refused::AuthRate);
                return Fatal::new(
                    "RATE_LIMITED",
                    "too many refused attempts from this address; wait a minute",
                    close::RATE_LIMITED,
                );
            }
            app.auth_failures.record(self.ip);
            let reason = if fatal.close == close::FORBIDDEN {
                Refused::Forbidden
            } else {
                Refused::Unauthorized
            };
            app.metrics.refused(reason);
            fatal
        };
        let grant = app
            .config
            .auth
            .check(token, room, SystemTime::now())
            .map_err(refused)?;
        let owner = match (&grant.user, secret) {
            (Some(user), _) => Some(user.clone()),
            (None, Some(secret)) => Some(secret_owner(secret)),
            (None, None) => None,
        };
        let stored = tokio::task::block_in_place(|| app.db.claim_client(client, owner.as_deref()))
            .map_err(storage_failed)?;
        check_owner(stored.as_deref(), owner.as_deref()).map_err(refused)?;
        Ok(grant)
    }
}

/// The owner a client id's secret binds it to: a SHA-256 of the secret (the database
/// never holds the secret itself), apart from JWT users by its prefix.
fn secret_owner(secret: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, secret.as_bytes());
    let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("secret:sha256:{hex}")
}
