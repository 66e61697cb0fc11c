//! Hearing that other instances wrote a room: a dedicated connection that `LISTEN`s on
//! the channel every commit notifies. A notification is only a signal (the log is the
//! truth). Each time `LISTEN` takes effect, the first time as after a lost connection,
//! every loaded room is checked again: what was committed before it took effect was
//! notified to nobody.

use std::time::Duration;

use futures_util::future::poll_fn;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tokio_postgres::{AsyncMessage, Config, NoTls};

use crate::store::Heard;

/// The channel commits notify, with `"{head} {room}"` as payload.
pub const CHANNEL: &str = "srvra_sync";

/// The payload a commit of `room` at `head` notifies.
pub fn payload(room: &str, head: u64) -> String {
    format!("{head} {room}")
}

/// The room and head of a payload.
fn parse(payload: &str) -> Option<(String, u64)> {
    let (head, room) = payload.split_once(' ')?;
    Some((room.to_owned(), head.parse().ok()?))
}

/// Listens until `tx` is closed, reconnecting (after `retry`) when the connection drops.
pub async fn listen(config: Config, tx: mpsc::Sender<Heard>, retry: Duration) {
    loop {
        match listen_once(&config, &tx).await {
            Ok(()) => return,
            Err(error) => {
                eprintln!("srvra-sync-server: LISTEN connection lost ({error}); reconnecting");
            }
        }
        tokio::select! {
            () = tx.closed() => return,
            () = tokio::time::sleep(retry) => {}
        }
    }
}

/// One listening connection: `Ok` when `tx` closed, `Err` when the connection failed.
/// Notices are handed on without waiting: when the follower is behind and `tx` is full, a
/// notice is dropped (the periodic head check catches the room up).
async fn listen_once(config: &Config, tx: &mpsc::Sender<Heard>) -> Result<(), String> {
    let (client, mut connection) = config.connect(NoTls).await.map_err(|e| e.to_string())?;
    let heard = tx.clone();
    let mut pump = tokio::spawn(async move {
        while let Some(message) = poll_fn(|cx| connection.poll_message(cx)).await {
            match message {
                Ok(AsyncMessage::Notification(n)) => {
                    let Some((room, head)) = parse(n.payload()) else {
                        continue;
                    };
                    if let Err(TrySendError::Closed(_)) = heard.try_send(Heard::Room(room, head)) {
                        return Ok(());
                    }
                }
                Ok(_) => {}
                Err(error) => return Err(error.to_string()),
            }
        }
        Err("connection closed".to_owned())
    });
    let result = async {
        client
            .batch_execute(&format!("LISTEN {CHANNEL}"))
            .await
            .map_err(|e| e.to_string())?;
        // Listening from here on; rooms loaded before may have missed a commit.
        if tx.send(Heard::Resync).await.is_err() {
            return Ok(());
        }
        tokio::select! {
            () = tx.closed() => Ok(()),
            ended = &mut pump => ended.map_err(|e| e.to_string())?,
        }
    }
    .await;
    drop(client);
    pump.abort();
    result
}
