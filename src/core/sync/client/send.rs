//! The sending side of the loop: flushing the outbox in messages that fit the server's
//! limits, and dropping what never can.

use super::{Phase, SyncClient};
use crate::core::dispatch::event_bus::EventType;
use crate::core::dispatch::events::{ErrorInfo, Payload, SyncComplete};
use crate::core::error::ErrorKind;
use crate::core::model::operation::Operation;
use crate::core::protocol::{encode, ClientMessage};
use crate::core::sync::report::rejected_event;
use crate::core::sync::status::Status;
use crate::core::Engine;

impl SyncClient {
    /// Sends what is stored and unsent; updates the status when nothing is left.
    pub(super) fn flush(&mut self, engine: &mut Engine) {
        if !self.live() {
            return;
        }
        let max = (self.config.batch_size as usize).min(self.max_ops);
        for (ops, atomic) in self.replica.take_unsent(max) {
            self.send_changes(engine, ops, atomic);
        }
        // Synced when nothing sendable waits: changes held by a conflict the app has to
        // settle do not keep the status at `syncing`.
        if self.replica.done_through(u64::MAX) {
            if self.acked_since > 0 {
                let payload = Payload::SyncComplete(SyncComplete {
                    sent: std::mem::take(&mut self.acked_since),
                    received: self.replica.take_received(),
                    position: self.replica.position(),
                });
                engine.emit(EventType::SyncComplete, payload, None);
            }
            self.set_status(engine, Status::Synced, "synced");
        } else {
            self.set_status(engine, Status::Syncing, "sending");
        }
    }

    /// Whether the connection is caught up and changes may go out.
    fn live(&self) -> bool {
        self.connection
            .as_ref()
            .is_some_and(|c| c.phase == Phase::Live)
    }

    /// Whether [`SyncClient::send_ready`] would send something: connected, and a change
    /// recorded since the last send may go.
    pub fn wants_send(&self) -> bool {
        self.live() && self.replica.has_sendable()
    }

    /// Sends one `changes` message, splitting a run that is over the server's frame limit
    /// and dropping (with `sync-error`) a change or atomic batch that can never fit.
    fn send_changes(&mut self, engine: &mut Engine, ops: Vec<Operation>, atomic: bool) {
        if atomic && ops.len() > self.max_ops {
            let message = format!(
                "an atomic batch of {} changes is over the server's limit of {}",
                ops.len(),
                self.max_ops
            );
            return self.drop_unsendable(engine, ops, "TOO_MANY_OPS", &message);
        }
        let count = ops.len();
        let message = ClientMessage::Changes { ops, atomic };
        let frame = encode(&message, self.threshold());
        if frame.len() <= self.max_frame {
            engine.stats_mut().bytes_sent += frame.len() as u64;
            self.asked_at.get_or_insert(engine.now_ms());
            self.io.transport.send(frame);
            return;
        }
        let ClientMessage::Changes { mut ops, .. } = message else {
            return;
        };
        if atomic || count == 1 {
            let message = format!(
                "{} bytes is over the server's frame limit of {}",
                frame.len(),
                self.max_frame
            );
            return self.drop_unsendable(engine, ops, "FRAME_TOO_LARGE", &message);
        }
        let second = ops.split_off(count / 2);
        self.send_changes(engine, ops, false);
        self.send_changes(engine, second, false);
    }

    fn drop_unsendable(
        &mut self,
        engine: &mut Engine,
        ops: Vec<Operation>,
        code: &str,
        message: &str,
    ) {
        for op in ops {
            if let Some(op) = self.replica.discard(engine, &op.id) {
                let error = ErrorInfo::new(ErrorKind::Validation, code.to_owned(), message);
                rejected_event(engine, &op, error);
            }
        }
    }

    pub(super) fn threshold(&self) -> Option<usize> {
        let c = &self.config.compression;
        c.enabled.then_some(c.threshold as usize)
    }

    pub(super) fn send(&mut self, engine: &mut Engine, message: &ClientMessage) {
        let frame = encode(message, self.threshold());
        engine.stats_mut().bytes_sent += frame.len() as u64;
        self.io.transport.send(frame);
    }
}
