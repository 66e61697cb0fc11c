//! The sync loop's [`Transport`] in the browser: a `gloo-net` WebSocket per connection.
//! Each connection runs one task that resolves the token, waits for the socket to open,
//! forwards frames to the loop and reports the close; the task ends (and the socket
//! closes) when the loop closes the connection.

use std::rc::Weak;

use futures_channel::oneshot;
use futures_util::future::select;
use futures_util::StreamExt;
use gloo_net::websocket::futures::WebSocket;
use gloo_net::websocket::{Message, State, WebSocketError};
use js_sys::{Function, Promise};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::{spawn_local, JsFuture};

use crate::core::protocol::close;
use crate::core::sync::Transport;
use crate::wasm::network::with_sync;
use crate::wasm::persister::Shared;

/// An open connection: the socket frames are sent on, and the signal that stops its task.
struct Open {
    socket: web_sys::WebSocket,
    _stop: oneshot::Sender<()>,
}

/// WebSocket transport.
pub struct BrowserSocket {
    shared: Weak<Shared>,
    token: JsValue,
    open: Option<Open>,
}

impl BrowserSocket {
    /// A transport reporting to `shared`; `token` is `null`, a string, or a function
    /// returning a string or a promise of one.
    pub fn new(shared: Weak<Shared>, token: JsValue) -> Self {
        Self {
            shared,
            token,
            open: None,
        }
    }
}

impl Transport for BrowserSocket {
    fn open(&mut self, id: u64, url: &str) {
        let socket = match web_sys::WebSocket::new(url) {
            Ok(socket) => socket,
            Err(e) => {
                let shared = self.shared.clone();
                let reason = describe(&e);
                // Reported after this call returns: the loop is busy calling us.
                spawn_local(async move { report_closed(&shared, id, close::ABNORMAL, reason) });
                return;
            }
        };
        let (stop_tx, stop) = oneshot::channel();
        self.open = Some(Open {
            socket: socket.clone(),
            _stop: stop_tx,
        });
        spawn_local(run(
            self.shared.clone(),
            id,
            socket,
            self.token.clone(),
            stop,
        ));
    }

    fn send(&mut self, frame: Vec<u8>) {
        if let Some(open) = &self.open {
            // Sent directly (gloo-net's sink wraps every frame in a Blob, which costs a
            // read before it goes out). A failure means the socket is closing; the close
            // event reports it.
            let _ = open.socket.send_with_u8_array(&frame);
        }
    }

    fn close(&mut self, _code: u16, _reason: &str) {
        // Dropping the handles ends the task, which drops (and so closes) the socket.
        self.open = None;
    }
}

fn report_closed(shared: &Weak<Shared>, id: u64, code: u16, reason: String) {
    with_sync(shared, |sync, engine| {
        sync.closed(engine, id, code, &reason)
    });
}

/// One connection: waits for the socket to open and the token, says so to the loop,
/// forwards frames, and reports the close, until the loop drops the connection.
async fn run(
    shared: Weak<Shared>,
    id: u64,
    socket: web_sys::WebSocket,
    token: JsValue,
    stop: oneshot::Receiver<()>,
) {
    let mut ws = match WebSocket::try_from(socket) {
        Ok(ws) => Box::pin(ws),
        Err(e) => return report_closed(&shared, id, close::ABNORMAL, e.to_string()),
    };
    let token = match resolve_token(token).await {
        Ok(token) => token,
        Err(message) => return report_closed(&shared, id, close::ABNORMAL, message),
    };
    // Ready once the socket left the connecting state, open or failed.
    let ready =
        futures_util::future::poll_fn(|cx| futures_util::Sink::poll_ready(ws.as_mut(), cx)).await;
    if ready.is_ok() && matches!(ws.state(), State::Open) {
        with_sync(&shared, |sync, engine| sync.opened(engine, id, token));
    }
    let reader = async move {
        let mut code = close::ABNORMAL;
        let mut reason = String::from("connection lost");
        while let Some(item) = ws.next().await {
            match item {
                Ok(Message::Bytes(frame)) => {
                    with_sync(&shared, |sync, engine| sync.received(engine, id, &frame));
                }
                // The protocol is binary: a text frame is malformed.
                Ok(Message::Text(_)) => {
                    with_sync(&shared, |sync, engine| sync.received(engine, id, &[]));
                }
                Err(WebSocketError::ConnectionClose(event)) => {
                    code = event.code;
                    reason = event.reason;
                }
                Err(_) => {}
            }
        }
        report_closed(&shared, id, code, reason);
    };
    // When the loop drops the connection first, it no longer listens to it.
    let _ = select(Box::pin(reader), stop).await;
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
