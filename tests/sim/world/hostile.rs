//! A hostile client among the honest ones: "mallory" joins the room and sends what the
//! protocol lets anyone send: valid writes to the shared keys, and changes built to break
//! the room (far sequences, impossible base versions, another client's ids, values nested
//! too deep, numbers that are not finite, repeated ids, atomic batches with one bad change,
//! bytes that are no frame). The honest clients' checks must hold all the same.

use std::sync::Arc;

use rand::Rng;
use serde_json::{json, Value};
use srvra_sync::core::conflict::hlc::Hlc;
use srvra_sync::core::model::operation::{ConflictInfo, OpId, OpKind, Operation};
use srvra_sync::core::protocol::{encode, ClientMessage};

use super::{Event, World};

/// Mallory's connection ids start here, far from the honest ones.
const FIRST_CONN: u64 = 1 << 40;

/// Mallory's state between its messages.
#[derive(Debug, Default)]
pub(super) struct Mallory {
    conn: Option<u64>,
    conns: u64,
    seq: u64,
    /// Its clock: increasing, as the oracle checks of every client (a client that breaks
    /// its own clock order only reorders its own writes).
    clock: Hlc,
    /// Messages sent, for the run's log.
    pub sent: usize,
    /// Hellos with another client's id that the server accepted (must stay 0 for ids
    /// that said hello with their secret).
    pub hijacks: usize,
}

impl World {
    /// Messages the hostile client sent in this run.
    pub fn hostile_sent(&self) -> usize {
        self.mallory.sent
    }

    /// Hellos with an honest client's id the server accepted (the run fails on any).
    pub fn hostile_hijacks(&self) -> usize {
        self.mallory.hijacks
    }

    /// One hostile message (joining first when not connected); schedules the next while
    /// the honest clients still work.
    pub(super) fn hostile_step(&mut self) {
        if self.ops_left == 0 {
            return;
        }
        let delay = self.rng.random_range(5..60);
        self.at(delay, Event::Hostile);
        if !self.server_up {
            return;
        }
        if self.rng.random_range(0..8) == 0 {
            self.hijack_attempt();
            return;
        }
        let conn = match self.mallory.conn.filter(|c| self.server.has(*c)) {
            Some(conn) => conn,
            None => {
                let conn = FIRST_CONN + self.mallory.conns;
                self.mallory.conns += 1;
                self.server.accept(conn);
                let hello = ClientMessage::hello("mallory", "sim", 0);
                // Its answers go nowhere (mallory never reads); what its hello makes the
                // server send others reaches them.
                if self.server_receive(conn, &encode(&hello, None)).is_err() {
                    return;
                }
                // After a restart mallory's watermark survived: continue above it.
                self.mallory.conn = Some(conn);
                conn
            }
        };
        let frame = self.hostile_frame();
        self.mallory.sent += 1;
        if let Err(error) = self.server_receive(conn, &frame) {
            self.note(format!("server refused mallory's frame: {error}"));
            self.server.drop_conn(conn);
            self.mallory.conn = None;
        }
    }

    /// Issue 29: a hello with an honest client's id (ids are public in presence), without
    /// its secret or with a guessed one, then a sequence far past its watermark. The
    /// server must refuse the hello; were it accepted, the owner's next writes would be
    /// acknowledged as already processed and lost, which the run's checks catch.
    fn hijack_attempt(&mut self) {
        let victim = format!("c{}", self.rng.random_range(0..self.clients.len()));
        // Ids become known once they said hello (presence shows them): only those.
        if !self.server.is_claimed(&victim) {
            return;
        }
        let conn = FIRST_CONN + self.mallory.conns;
        self.mallory.conns += 1;
        self.server.accept(conn);
        let mut hello = ClientMessage::hello(&victim, "sim", 0);
        if let ClientMessage::Hello { secret, .. } = &mut hello {
            *secret = (self.rng.random_range(0..2) == 0).then(|| "guessed".to_owned());
        }
        self.mallory.sent += 1;
        if let Err(error) = self.server_receive(conn, &encode(&hello, None)) {
            self.note(format!(
                "server refused mallory's hello as {victim}: {error}"
            ));
            self.server.drop_conn(conn);
            return;
        }
        self.mallory.hijacks += 1;
        let mut op = self.mallory_op("k0", OpKind::Set(Arc::new(json!("hijacked"))));
        op.id = OpId {
            client: Arc::from(victim.as_str()),
            seq: 1 << 31,
        };
        let frame = encode(
            &ClientMessage::Changes {
                ops: vec![op],
                atomic: false,
            },
            None,
        );
        let _ = self.server_receive(conn, &frame);
        self.server.drop_conn(conn);
    }

    fn hostile_frame(&mut self) -> Vec<u8> {
        let key = format!("k{}", self.rng.random_range(0..self.keys));
        let victim = format!("c{}", self.rng.random_range(0..self.clients.len()));
        let choice = self.rng.random_range(0..10);
        let mut ops = vec![self.mallory_op(&key, OpKind::Set(Arc::new(json!("mallory"))))];
        let mut atomic = false;
        match choice {
            0 => ops[0].id.seq = u64::MAX,
            1 => ops[0].base_version = u64::MAX,
            2 => ops[0].id.client = Arc::from(victim.as_str()),
            3 => ops[0].kind = OpKind::Set(Arc::new(nested(150))),
            4 => ops[0].timestamp = f64::NAN,
            5 => ops[0].kind = OpKind::Increment(f64::INFINITY),
            6 => {
                let again = ops[0].clone();
                ops.push(again);
            }
            7 => {
                atomic = true;
                let mut bad = self.mallory_op(&key, OpKind::Increment(1.0));
                bad.fields = vec!["x".into(); 120];
                ops.push(bad);
            }
            8 => return vec![1, 0xc1, 0xff, 0x00],
            // A small compressed frame that unpacks to a flood of tiny objects (issue 29
            // item 3): refused before any value is built.
            9 if self.rng.random_range(0..4) == 0 => {
                return crate::common::amplifying_frame("mallory", 80_000)
            }
            _ => {}
        }
        encode(&ClientMessage::Changes { ops, atomic }, Some(512))
    }

    fn mallory_op(&mut self, key: &str, kind: OpKind) -> Operation {
        self.mallory.seq += 1;
        let conflict = ConflictInfo {
            clock: self.mallory.clock.tick(self.clock.0.get()),
            ..ConflictInfo::default()
        };
        Operation {
            id: OpId {
                client: Arc::from("mallory"),
                seq: self.mallory.seq,
            },
            key: key.to_owned(),
            fields: Vec::new(),
            kind,
            base_version: 0,
            timestamp: self.clock.0.get(),
            batch: None,
            conflict,
        }
    }
}

/// A value nested `levels` deep.
fn nested(levels: usize) -> Value {
    let mut value = json!(1);
    for _ in 0..levels {
        value = json!([value]);
    }
    value
}
