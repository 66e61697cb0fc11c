//! The world's side of several server instances on one stored room: what an instance
//! commits reaches the other instances later, as a notification would (`Event::Notify`).

use rand::Rng;

use super::{Event, World};

impl World {
    /// Hands `frame` from `conn` to the server and delivers what it answers (to honest
    /// connections; mallory never reads). A commit is heard by the other instances after
    /// a random delay.
    pub(super) fn server_receive(&mut self, conn: u64, frame: &[u8]) -> Result<(), String> {
        let head = self.server.room.head;
        let out = self.server.receive(conn, frame, self.clock.0.get())?;
        for o in out {
            self.deliver_to_client(o.conn, o.frame);
        }
        if self.server.room.head > head {
            let from = self.server.instance_of(conn);
            for other in (0..self.server.instances()).filter(|i| *i != from) {
                let delay = self.rng.random_range(1..50);
                self.at(delay, Event::Notify { instance: other });
            }
        }
        Ok(())
    }

    /// Instance `instance` heard that the room moved: it takes what was stored and
    /// forwards it to its sessions.
    pub(super) fn notified(&mut self, instance: usize) -> Result<(), String> {
        if !self.server_up {
            return Ok(());
        }
        for o in self.server.refresh(instance)? {
            self.deliver_to_client(o.conn, o.frame);
        }
        Ok(())
    }
}
