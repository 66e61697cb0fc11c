//! The sync loop's [`Transport`]: a WebSocket per connection, made from
//! `config.webSocket` (for example the `ws` package in Node) or `globalThis.WebSocket`.
//! The socket's event handlers are closures owned by the connection, so dropping the
//! connection detaches them and closes the socket (no leaked closures, no late reports).
//! Every event reaches the loop from a fresh microtask, never from inside a call of ours.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::{Rc, Weak};

use js_sys::{Array, ArrayBuffer, Function, Promise, Reflect, Uint8Array};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::{BinaryType, CloseEvent, MessageEvent, WebSocket};

use crate::core::protocol::close;
use crate::core::sync::Transport;
use crate::wasm::shared::{background, Shared};

/// Where a connection is before the loop hears `opened`: it needs both the socket open and
/// the token resolved.
#[derive(Default)]
struct Handshake {
    socket_open: bool,
    token: Option<Result<Option<String>, String>>,
    reported: bool,
}

/// One connection: the socket and the handlers it calls.
struct Open {
    socket: WebSocket,
    _onopen: Closure<dyn FnMut()>,
    _onmessage: Closure<dyn FnMut(MessageEvent)>,
    _onclose: Closure<dyn FnMut(CloseEvent)>,
    /// Whether frames are copied out of wasm memory before `send` (a socket class we do
    /// not know may keep the view it is given).
    copy_frames: bool,
}

impl Drop for Open {
    fn drop(&mut self) {
        self.socket.set_onopen(None);
        self.socket.set_onmessage(None);
        self.socket.set_onclose(None);
        let _ = self.socket.close();
    }
}

/// What the loop asked of the socket, performed later (see [`BrowserSocket`]).
enum Command {
    Open(u64, String),
    Send(Vec<u8>),
    Close(u16, String),
}

/// The sockets and the commands waiting for them.
struct Driver {
    shared: Weak<Shared>,
    token: JsValue,
    class: JsValue,
    open: RefCell<Option<Open>>,
    queue: RefCell<VecDeque<Command>>,
    scheduled: Cell<bool>,
}

/// WebSocket transport. The loop calls it while the client core is borrowed, and a
/// `config.webSocket` class runs the app's code in its constructor, `send` and `close`:
/// so every call is queued and performed from a fresh microtask, in order, when no
/// borrow is held and the app's code may call the SDK again.
pub struct BrowserSocket {
    driver: Rc<Driver>,
}

impl BrowserSocket {
    /// A transport reporting to `shared`. `token` is `null`, a string, or a function
    /// returning a string or a promise of one; `class` is `config.webSocket`, or
    /// `undefined` for `globalThis.WebSocket`.
    pub fn new(shared: Weak<Shared>, token: JsValue, class: JsValue) -> Self {
        let driver = Driver {
            shared,
            token,
            class,
            open: RefCell::new(None),
            queue: RefCell::new(VecDeque::new()),
            scheduled: Cell::new(false),
        };
        Self {
            driver: Rc::new(driver),
        }
    }

    fn queue(&self, command: Command) {
        let driver = &self.driver;
        driver.queue.borrow_mut().push_back(command);
        if !driver.scheduled.replace(true) {
            let driver = Rc::clone(driver);
            spawn_local(async move { driver.run() });
        }
    }
}

impl Drop for BrowserSocket {
    /// The loop is gone: whatever socket is open closes (its handlers detach).
    fn drop(&mut self) {
        self.driver.queue.borrow_mut().clear();
        drop(self.driver.open.borrow_mut().take());
    }
}

impl Driver {
    /// Performs the queued commands, oldest first. Each runs with no borrow held, so the
    /// app's socket class may call back into the SDK (that queues more, run here too).
    fn run(&self) {
        loop {
            let Some(command) = self.queue.borrow_mut().pop_front() else {
                break;
            };
            match command {
                Command::Open(id, url) => {
                    drop(self.open.borrow_mut().take());
                    match self.connect(id, &url) {
                        Ok(open) => *self.open.borrow_mut() = Some(open),
                        Err(error) => {
                            report_closed(&self.shared, id, close::ABNORMAL, describe(&error))
                        }
                    }
                }
                Command::Send(frame) => {
                    let socket = self
                        .open
                        .borrow()
                        .as_ref()
                        .map(|o| (o.socket.clone(), o.copy_frames));
                    let Some((socket, copy_frames)) = socket else {
                        continue;
                    };
                    // A failure means the socket is closing; the close event reports it.
                    let _ = if copy_frames {
                        socket.send_with_array_buffer_view(&Uint8Array::from(frame.as_slice()))
                    } else {
                        // The browser's WebSocket copies the bytes before `send` returns.
                        socket.send_with_u8_array(&frame)
                    };
                }
                Command::Close(code, reason) => {
                    let open = self.open.borrow_mut().take();
                    if let Some(open) = open {
                        // Browsers accept 1000 and 3000-4999 from scripts; anything else
                        // closes plainly.
                        let _ = open
                            .socket
                            .close_with_code_and_reason(code, &reason)
                            .or_else(|_| open.socket.close());
                        // Dropping `open` detaches the handlers: the loop no longer listens.
                    }
                }
            }
        }
        self.scheduled.set(false);
    }

    fn connect(&self, id: u64, url: &str) -> Result<Open, JsValue> {
        let custom = !self.class.is_undefined() && !self.class.is_null();
        let class = if custom {
            self.class.clone()
        } else {
            Reflect::get(&js_sys::global(), &JsValue::from_str("WebSocket"))?
        };
        let class: Function = class
            .dyn_into()
            .map_err(|_| JsValue::from_str("there is no WebSocket class here"))?;
        let socket: WebSocket =
            Reflect::construct(&class, &Array::of1(&JsValue::from_str(url)))?.unchecked_into();
        socket.set_binary_type(BinaryType::Arraybuffer);

        let handshake = Rc::new(RefCell::new(Handshake::default()));
        let shared = self.shared.clone();
        let token = self.token.clone();
        let pending = Rc::clone(&handshake);
        let weak = shared.clone();
        let socket_for_token = socket.clone();
        spawn_local(async move {
            let token = resolve_token(token).await;
            pending.borrow_mut().token = Some(token);
            report_open(&weak, id, &pending, &socket_for_token);
        });

        let weak = shared.clone();
        let socket_for_open = socket.clone();
        let onopen = Closure::<dyn FnMut()>::new(move || {
            handshake.borrow_mut().socket_open = true;
            report_open(&weak, id, &handshake, &socket_for_open);
        });
        let weak = shared.clone();
        let onmessage = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            let data = event.data();
            // The protocol is binary: a text frame is malformed (decoded as empty).
            let frame = data
                .dyn_ref::<ArrayBuffer>()
                .map(|buffer| Uint8Array::new(buffer).to_vec())
                .unwrap_or_default();
            let weak = weak.clone();
            spawn_local(async move {
                background(&weak, |sync, engine| sync.received(engine, id, &frame));
            });
        });
        let weak = shared;
        let onclose = Closure::<dyn FnMut(CloseEvent)>::new(move |event: CloseEvent| {
            let (code, reason) = (event.code(), event.reason());
            report_closed(&weak, id, code, reason);
        });
        socket.set_onopen(Some(onopen.as_ref().unchecked_ref()));
        socket.set_onmessage(Some(onmessage.as_ref().unchecked_ref()));
        socket.set_onclose(Some(onclose.as_ref().unchecked_ref()));
        Ok(Open {
            socket,
            _onopen: onopen,
            _onmessage: onmessage,
            _onclose: onclose,
            copy_frames: custom,
        })
    }
}

impl Transport for BrowserSocket {
    fn open(&mut self, id: u64, url: &str) {
        self.queue(Command::Open(id, url.to_owned()));
    }

    fn send(&mut self, frame: Vec<u8>) {
        self.queue(Command::Send(frame));
    }

    fn close(&mut self, code: u16, reason: &str) {
        let reason: String = reason.chars().take(60).collect();
        self.queue(Command::Close(code, reason));
    }
}
/// Reports `opened` once the socket is open and the token resolved (a token that failed
/// closes the socket and reports the close instead).
fn report_open(shared: &Weak<Shared>, id: u64, handshake: &RefCell<Handshake>, socket: &WebSocket) {
    let token = {
        let mut state = handshake.borrow_mut();
        if state.reported || !state.socket_open {
            return;
        }
        let Some(token) = state.token.take() else {
            return;
        };
        state.reported = true;
        token
    };
    match token {
        Ok(token) => {
            let weak = shared.clone();
            spawn_local(async move {
                background(&weak, |sync, engine| sync.opened(engine, id, token));
            });
        }
        Err(message) => {
            let _ = socket.close();
            report_closed(shared, id, close::ABNORMAL, message);
        }
    }
}

/// Reports a close from a fresh microtask (the loop may be the caller).
fn report_closed(shared: &Weak<Shared>, id: u64, code: u16, reason: String) {
    let weak = shared.clone();
    spawn_local(async move {
        background(&weak, |sync, engine| sync.closed(engine, id, code, &reason));
    });
}

/// The token for one connection attempt.
async fn resolve_token(token: JsValue) -> Result<Option<String>, String> {
    let value = match token.dyn_ref::<Function>() {
        Some(provider) => {
            let value = provider
                .call0(&JsValue::NULL)
                .map_err(|e| format!("the token function threw: {}", describe(&e)))?;
            match value.dyn_ref::<Promise>() {
                Some(promise) => JsFuture::from(promise.clone())
                    .await
                    .map_err(|e| format!("the token promise rejected: {}", describe(&e)))?,
                None => value,
            }
        }
        None => token,
    };
    if value.is_null() || value.is_undefined() {
        return Ok(None);
    }
    value
        .as_string()
        .map(Some)
        .ok_or_else(|| "the token must be a string".to_owned())
}

fn describe(value: &JsValue) -> String {
    value
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| value.as_string())
        .unwrap_or_else(|| "unknown error".into())
}
