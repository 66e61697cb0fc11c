//! A session's part in its room's presence: the whole room on joining, the client's tabs
//! set and cleared, hidden while the client is silent for longer than its heartbeat, and
//! gone when the session ends.

use srvra_sync::core::model::slot::Slot;
use srvra_sync::core::protocol::ServerMessage;

use super::{Fatal, Session};
use crate::metrics::{inc, Refused};
use crate::room::Room;

/// Wall time in ms since the epoch.
fn now_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

impl Session {
    /// Sends everyone present (on joining, or after falling behind).
    pub(super) async fn send_all_presence(&mut self, room: &Room) -> Result<(), Fatal> {
        let peers = room.with_presence(|presence| (presence.all(), Vec::new()));
        self.send(&ServerMessage::Presence { peers, full: true })
            .await
    }

    /// `presence` from the client: set or clear one of its tabs, or answer a typed error
    /// (not fatal: nothing else changes).
    pub(super) async fn set_presence(
        &mut self,
        room: &Room,
        tab: &str,
        state: Slot,
    ) -> Result<(), Fatal> {
        let client = self.core.client().unwrap_or_default().to_owned();
        let (session, user) = (self.id, self.user.clone());
        let result = room.with_presence(|presence| {
            match presence.set(session, &client, tab, user.as_deref(), state.0, now_ms()) {
                Ok(peer) => (Ok(()), vec![peer]),
                Err(error) => (Err(error), Vec::new()),
            }
        });
        match result {
            Ok(()) => {
                inc(&self.app.metrics.presence_updates);
                Ok(())
            }
            Err(error) => {
                self.app.metrics.refused(Refused::Presence);
                let refusal = ServerMessage::Error {
                    code: error.code.to_owned(),
                    message: error.message,
                    fatal: false,
                    close_code: None,
                };
                self.send(&refusal).await
            }
        }
    }

    /// Nothing came for the client's heartbeat window: its tabs vanish for everyone.
    pub(super) fn went_silent(&mut self, room: &Room) {
        self.silent = true;
        let session = self.id;
        room.with_presence(|presence| ((), presence.set_hidden(session, true, now_ms())));
    }

    /// Something came: a silent client's tabs come back.
    pub(super) fn heard_again(&mut self, room: &Room) {
        if self.silent {
            self.silent = false;
            let session = self.id;
            room.with_presence(|presence| ((), presence.set_hidden(session, false, now_ms())));
        }
    }

    /// The session ended: its tabs leave the room at once.
    pub(super) fn leave_presence(&mut self) {
        if let Some(room) = self.room.take() {
            let session = self.id;
            room.with_presence(|presence| ((), presence.end_session(session, now_ms())));
        }
    }
}
