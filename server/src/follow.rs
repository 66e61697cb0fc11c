//! Keeping loaded rooms current when several instances share storage (SPEC §12): a room
//! another instance wrote is caught up from the log and the changes are broadcast to this
//! instance's sessions. Notifications say which room moved; a periodic check of every
//! loaded room's stored head catches what a lost notification would miss.

use std::collections::HashMap;
use std::sync::Arc;

use crate::app::App;
use crate::store::Heard;

/// Follows other instances' writes until shutdown (returns at once without shared storage).
pub async fn follow(app: Arc<App>) {
    let Some(mut heard) = app.db.listen() else {
        return;
    };
    let mut shutdown = app.shutdown.clone();
    let mut tick = tokio::time::interval(app.config.head_check_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Rooms to catch up, with the head they were heard at (0: check the stored head).
    let mut pending: HashMap<String, u64> = HashMap::new();
    loop {
        tokio::select! {
            message = heard.recv() => match message {
                Some(message) => note(&app, &mut pending, message).await,
                None => return,
            },
            _ = tick.tick() => check_heads(&app, &mut pending).await,
            () = async { let _ = shutdown.wait_for(|stop| *stop).await; } => return,
        }
        // Everything heard meanwhile is taken in the same pass (one read per room).
        while let Ok(message) = heard.try_recv() {
            note(&app, &mut pending, message).await;
        }
        for (name, head) in pending.drain() {
            let Some(room) = app.rooms.loaded_room(&name).await else {
                continue;
            };
            if head != 0 && room.head() >= head {
                continue;
            }
            if let Err(error) = room
                .refresh(&*app.db, &app.metrics, app.config.compression_threshold)
                .await
            {
                eprintln!(
                    "srvra-sync-server: catching up room {name:?} failed: {}",
                    error.0
                );
            }
        }
    }
}

/// Records what was heard: a room and its head, or every loaded room after a lost
/// connection.
async fn note(app: &App, pending: &mut HashMap<String, u64>, heard: Heard) {
    match heard {
        Heard::Room(room, head) => {
            let seen = pending.entry(room).or_insert(head);
            *seen = (*seen).max(head);
        }
        Heard::Resync => {
            for room in app.rooms.all().await {
                pending.insert(room.name().to_owned(), 0);
            }
        }
    }
}

/// Queues every loaded room whose stored head is past the one in memory.
async fn check_heads(app: &App, pending: &mut HashMap<String, u64>) {
    let rooms = app.rooms.all().await;
    if rooms.is_empty() {
        return;
    }
    let names: Vec<String> = rooms.iter().map(|r| r.name().to_owned()).collect();
    let db = Arc::clone(&app.db);
    let heads = match tokio::task::block_in_place(|| db.heads(&names)) {
        Ok(heads) => heads,
        Err(error) => {
            eprintln!("srvra-sync-server: checking room heads failed: {}", error.0);
            return;
        }
    };
    let stored: HashMap<String, u64> = heads.into_iter().collect();
    for room in rooms {
        let head = stored.get(room.name()).copied().unwrap_or(0);
        if head > room.head() {
            pending.insert(room.name().to_owned(), head);
        }
    }
}
