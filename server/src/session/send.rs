//! How a session writes to its client: one message, or several fed and flushed together,
//! each within `--send-timeout` (a client that stops reading is let go).

use std::future::Future;
use std::task::Poll;

use axum::extract::ws::Message;
use futures_util::SinkExt;
use srvra_sync::core::protocol::{encode, ServerMessage};

use super::{close, Fatal, Session};
use crate::metrics::Refused;

/// Runs a send, timing it out after `timeout` (`None`) only if it has to wait: nearly every
/// frame is taken at once, and a timer per frame was a timer-wheel entry per broadcast per
/// session.
async fn in_time<F: Future>(send: F, timeout: std::time::Duration) -> Option<F::Output> {
    tokio::pin!(send);
    let first = std::future::poll_fn(|cx| Poll::Ready(send.as_mut().poll(cx))).await;
    match first {
        Poll::Ready(result) => Some(result),
        Poll::Pending => tokio::time::timeout(timeout, send).await.ok(),
    }
}

impl Session {
    pub(super) async fn send(&mut self, message: &ServerMessage) -> Result<(), Fatal> {
        self.send_frame(encode(message, self.app.config.compression_threshold))
            .await
    }

    pub(super) async fn send_frame(&mut self, frame: Vec<u8>) -> Result<(), Fatal> {
        self.send_raw(Message::Binary(frame.into())).await
    }

    /// Sends one WebSocket message, giving a reader that does not take it
    /// `--send-timeout` before the session ends (and its memory is freed).
    pub(super) async fn send_raw(&mut self, message: Message) -> Result<(), Fatal> {
        let timeout = self.app.config.guards.send_timeout;
        let sent = in_time(self.sink.send(message), timeout).await;
        self.sent(sent)
    }

    /// Queues one WebSocket message without writing it out (see [`Self::flush`]); waits,
    /// within `--send-timeout`, only when the socket's buffer is full.
    pub(super) async fn feed(&mut self, message: Message) -> Result<(), Fatal> {
        let timeout = self.app.config.guards.send_timeout;
        let fed = in_time(self.sink.feed(message), timeout).await;
        self.sent(fed)
    }

    /// Writes out what [`Self::feed`] queued, within `--send-timeout`.
    pub(super) async fn flush(&mut self) -> Result<(), Fatal> {
        let timeout = self.app.config.guards.send_timeout;
        let flushed = in_time(self.sink.flush(), timeout).await;
        self.sent(flushed)
    }

    /// The outcome of a send: the client went away, stopped reading (timed out), or took it.
    fn sent<E>(&self, outcome: Option<Result<(), E>>) -> Result<(), Fatal> {
        match outcome {
            Some(Ok(())) => Ok(()),
            Some(Err(_)) => Err(Fatal::new("GONE", "the client went away", close::NORMAL)),
            None => {
                self.app.metrics.refused(Refused::SlowReader);
                Err(Fatal::new(
                    "GONE",
                    "the client stopped reading",
                    close::NORMAL,
                ))
            }
        }
    }
}
