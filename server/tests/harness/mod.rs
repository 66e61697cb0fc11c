//! A native host for the SDK's client core (`Instance`: engine, sync loop, write
//! bookkeeping) driven by a real WebSocket (tokio-tungstenite), tokio timers and in-memory
//! storage that survives "reloads". The same core runs in the browser with a WebSocket,
//! IndexedDB and `setTimeout`.
#![allow(dead_code)]

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use srvra_sync::core::clock::SystemClock;
use srvra_sync::core::config::Config;
use srvra_sync::core::sync::{Io, MemoryStorage, Status, SyncClient, Timer, Timers, Transport};
use srvra_sync::core::{Engine, Instance};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

/// Something for the loop to handle.
#[derive(Debug)]
pub enum Input {
    Opened(u64),
    Frame(u64, Vec<u8>),
    Closed(u64, u16, String),
    Timer(Timer),
}

struct WsTransport {
    inputs: UnboundedSender<Input>,
    outgoing: Option<UnboundedSender<Message>>,
}

impl Transport for WsTransport {
    fn open(&mut self, id: u64, url: &str) {
        let (tx, mut rx) = unbounded_channel::<Message>();
        self.outgoing = Some(tx);
        let inputs = self.inputs.clone();
        let url = url.to_owned();
        tokio::spawn(async move {
            let ws = match tokio_tungstenite::connect_async(&url).await {
                Ok((ws, _)) => ws,
                Err(e) => {
                    let _ = inputs.send(Input::Closed(id, 1006, e.to_string()));
                    return;
                }
            };
            let _ = inputs.send(Input::Opened(id));
            let (mut sink, mut stream) = ws.split();
            let writer = tokio::spawn(async move {
                while let Some(message) = rx.recv().await {
                    let closing = matches!(message, Message::Close(_));
                    if sink.send(message).await.is_err() || closing {
                        break;
                    }
                }
            });
            let mut code = 1006;
            let mut reason = String::from("connection lost");
            while let Some(frame) = stream.next().await {
                match frame {
                    Ok(Message::Binary(bytes)) => {
                        let _ = inputs.send(Input::Frame(id, bytes.to_vec()));
                    }
                    Ok(Message::Close(Some(frame))) => {
                        code = frame.code.into();
                        reason = frame.reason.to_string();
                    }
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
            writer.abort();
            let _ = inputs.send(Input::Closed(id, code, reason));
        });
    }

    fn send(&mut self, frame: Vec<u8>) {
        if let Some(tx) = &self.outgoing {
            let _ = tx.send(Message::Binary(frame.into()));
        }
    }

    fn close(&mut self, _code: u16, _reason: &str) {
        if let Some(tx) = self.outgoing.take() {
            let _ = tx.send(Message::Close(None));
        }
    }
}

struct TokioTimers {
    inputs: UnboundedSender<Input>,
    running: HashMap<Timer, JoinHandle<()>>,
}

impl Timers for TokioTimers {
    fn start(&mut self, timer: Timer, ms: u64) {
        self.cancel(timer);
        let inputs = self.inputs.clone();
        let handle = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            let _ = inputs.send(Input::Timer(timer));
        });
        self.running.insert(timer, handle);
    }

    fn cancel(&mut self, timer: Timer) {
        if let Some(handle) = self.running.remove(&timer) {
            handle.abort();
        }
    }
}

/// What a client stored (survives a simulated reload).
#[derive(Debug, Default)]
pub struct Stored {
    pub disk: MemoryStorage,
}

/// One SDK instance without a browser.
pub struct Peer {
    pub instance: Instance,
    pub stored: Rc<RefCell<Stored>>,
    /// The credential sent in `hello`.
    pub token: Option<String>,
    inputs: UnboundedReceiver<Input>,
}

impl Peer {
    /// A peer for `config` (JSON, `url` required) on top of `stored` (a reload when it
    /// holds data). `online` is the browser's initial network state.
    pub fn new(config: Value, stored: Rc<RefCell<Stored>>, online: bool) -> Self {
        let config = Config::parse(&config).expect("valid config");
        let (tx, rx) = unbounded_channel();
        let mut engine = Engine::new(config.clone(), "native", Box::new(SystemClock));
        // As the binding does: a secret drawn with the id; a stored one wins at restore.
        engine.set_secret(&format!("secret-{:?}", std::time::SystemTime::now()));
        let mut instance = Instance::new(engine, true);
        let (snapshot, load) = {
            let s = stored.borrow();
            (s.disk.snapshot(), s.disk.outbox())
        };
        instance.engine_mut().restore(snapshot).expect("restores");
        let io = Io {
            transport: Box::new(WsTransport {
                inputs: tx.clone(),
                outgoing: None,
            }),
            timers: Box::new(TokioTimers {
                inputs: tx,
                running: HashMap::new(),
            }),
            random: Box::new(|| 0.5),
        };
        instance.start_sync(SyncClient::new(config, io), load, online);
        let mut peer = Peer {
            instance,
            stored,
            token: None,
            inputs: rx,
        };
        peer.persist();
        peer
    }

    /// Runs a local mutation through the client core, as the binding does.
    pub fn change<T>(&mut self, f: impl FnOnce(&mut Engine) -> T) -> T {
        let out = self.instance.mutate(|e| Ok(f(e))).expect("infallible");
        self.persist();
        out
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        self.instance.engine()
    }

    /// The engine, for subscriptions and deliveries.
    pub fn engine_mut(&mut self) -> &mut Engine {
        self.instance.engine_mut()
    }

    /// The sync loop.
    pub fn sync(&self) -> &SyncClient {
        self.instance.sync().expect("started")
    }

    /// Runs `f` on the sync loop, then performs the writes it caused.
    pub fn with_sync<T>(&mut self, f: impl FnOnce(&mut SyncClient, &mut Engine) -> T) -> T {
        let out = self.instance.with_sync(f).expect("started");
        self.persist();
        out
    }

    /// Performs the core's writes (state and outbox together) and reports them.
    fn persist(&mut self) {
        while let Some(write) = self.instance.take_write() {
            self.stored.borrow_mut().disk.write(&write);
            self.instance.written(&write);
        }
    }

    /// Handles inputs until `done` holds (panics after `secs`).
    pub async fn until(&mut self, secs: u64, mut done: impl FnMut(&Peer) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        while !done(self) {
            let Ok(input) = tokio::time::timeout_at(deadline, self.inputs.recv()).await else {
                panic!(
                    "condition not reached in {secs} s; status {:?}, outbox {}, keys {:?}",
                    self.status(),
                    self.sync().replica().len(),
                    self.engine()
                        .keys()
                        .iter()
                        .map(|k| (k.to_string(), self.get(k)))
                        .collect::<Vec<_>>()
                );
            };
            let input = input.expect("inputs open");
            self.handle(input);
        }
    }

    /// Handles whatever arrives within `ms`.
    pub async fn idle(&mut self, ms: u64) {
        let deadline = tokio::time::Instant::now() + Duration::from_millis(ms);
        while let Ok(Some(input)) = tokio::time::timeout_at(deadline, self.inputs.recv()).await {
            self.handle(input);
        }
    }

    fn handle(&mut self, input: Input) {
        let token = self.token.clone();
        self.with_sync(|sync, e| match input {
            Input::Opened(id) => sync.opened(e, id, token),
            Input::Frame(id, frame) => sync.received(e, id, &frame),
            Input::Closed(id, code, reason) => sync.closed(e, id, code, &reason),
            Input::Timer(timer) => sync.timer(e, timer),
        });
    }

    /// A key's value, or JSON null.
    pub fn get(&self, key: &str) -> Value {
        self.engine()
            .get_state(key)
            .expect("path")
            .cloned()
            .unwrap_or(Value::Null)
    }

    pub fn status(&self) -> Status {
        self.sync().status()
    }

    pub fn synced(&self) -> bool {
        self.sync().status() == Status::Synced
    }
}

/// A config for `addr`, fast timers.
pub fn config(addr: std::net::SocketAddr, room: &str, client: &str) -> Value {
    json!({
        "url": format!("ws://{addr}/sync"),
        "room": room,
        "clientId": client,
        "backoff": { "initialDelay": 20, "maxDelay": 200, "factor": 2, "jitter": true },
        "heartbeatInterval": 500,
        "heartbeatTimeout": 500,
        "retryAttempts": 3,
    })
}
