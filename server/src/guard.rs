//! Connection guards in front of HTTP: at most so many connections per IP address and in
//! all (more are closed at once), and a deadline for the request itself, so a peer that
//! opens a connection and never sends a request (or sends it a byte at a time) is
//! dropped instead of holding a file descriptor.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

use crate::metrics::{Metrics, Refused};

/// Open connections per IP address and in all.
#[derive(Debug, Default)]
pub struct Counts {
    open: Mutex<(HashMap<IpAddr, usize>, usize)>,
}

/// One admitted connection; dropping it frees its place.
#[derive(Debug)]
pub struct Ticket {
    counts: Arc<Counts>,
    ip: IpAddr,
}

impl Counts {
    /// A place for a connection from `ip`, unless `per_ip` or `total` are reached.
    pub fn admit(self: &Arc<Self>, ip: IpAddr, per_ip: usize, total: usize) -> Option<Ticket> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let (by_ip, all) = &mut *open;
        let mine = by_ip.entry(ip).or_default();
        if *mine >= per_ip || *all >= total {
            if *mine == 0 {
                by_ip.remove(&ip);
            }
            return None;
        }
        *mine += 1;
        *all += 1;
        Some(Ticket {
            counts: Arc::clone(self),
            ip,
        })
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut open = self.counts.open.lock().unwrap_or_else(|p| p.into_inner());
        let (by_ip, all) = &mut *open;
        *all = all.saturating_sub(1);
        if let Some(mine) = by_ip.get_mut(&self.ip) {
            *mine -= 1;
            if *mine == 0 {
                by_ip.remove(&self.ip);
            }
        }
    }
}

/// Limits a [`GuardedListener`] applies.
#[derive(Debug, Clone, Copy)]
pub struct Admission {
    /// Connections per IP address.
    pub per_ip: usize,
    /// Connections in all.
    pub total: usize,
    /// Time until the server first answers (the request must have arrived by then).
    pub header_timeout: Duration,
}

/// A listener that admits connections within [`Admission`].
pub struct GuardedListener<L> {
    inner: L,
    admission: Admission,
    counts: Arc<Counts>,
    metrics: Arc<Metrics>,
}

impl<L> GuardedListener<L> {
    /// Guards `inner`; refusals are counted in `metrics`.
    pub fn new(inner: L, admission: Admission, metrics: Arc<Metrics>) -> Self {
        Self {
            inner,
            admission,
            counts: Arc::default(),
            metrics,
        }
    }
}

impl<L> axum::serve::Listener for GuardedListener<L>
where
    L: axum::serve::Listener<Addr = SocketAddr>,
{
    type Io = Guarded<L::Io>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let (io, addr) = self.inner.accept().await;
            let Admission {
                per_ip,
                total,
                header_timeout,
            } = self.admission;
            match self.counts.admit(addr.ip(), per_ip, total) {
                Some(ticket) => {
                    let deadline = Some(Box::pin(tokio::time::sleep(header_timeout)));
                    return (
                        Guarded {
                            io,
                            deadline,
                            metrics: Arc::clone(&self.metrics),
                            _ticket: ticket,
                        },
                        addr,
                    );
                }
                None => self.metrics.refused(Refused::Connections),
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// The peer's address, as `ConnectInfo` for handlers behind a [`GuardedListener`].
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub SocketAddr);

impl<L> axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, GuardedListener<L>>>
    for Peer
where
    L: axum::serve::Listener<Addr = SocketAddr>,
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, GuardedListener<L>>) -> Self {
        Peer(*stream.remote_addr())
    }
}

/// A connection with its place, and a deadline for reads until the server first writes.
pub struct Guarded<Io> {
    io: Io,
    deadline: Option<Pin<Box<Sleep>>>,
    metrics: Arc<Metrics>,
    _ticket: Ticket,
}

impl<Io> Guarded<Io> {
    /// Once the server wrote something, the request arrived and is being answered: no
    /// deadline from here on (a WebSocket session has its own idle timeout).
    fn answered(&mut self, written: &Poll<io::Result<usize>>) {
        if matches!(written, Poll::Ready(Ok(n)) if *n > 0) {
            self.deadline = None;
        }
    }
}

impl<Io: AsyncRead + Unpin> AsyncRead for Guarded<Io> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let read = Pin::new(&mut this.io).poll_read(cx, buf);
        if read.is_pending() {
            if let Some(deadline) = &mut this.deadline {
                if deadline.as_mut().poll(cx).is_ready() {
                    this.deadline = None;
                    this.metrics.refused(Refused::HeaderTimeout);
                    let late = io::Error::new(io::ErrorKind::TimedOut, "no request in time");
                    return Poll::Ready(Err(late));
                }
            }
        }
        read
    }
}

impl<Io: AsyncWrite + Unpin> AsyncWrite for Guarded<Io> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.io).poll_write(cx, buf);
        self.answered(&written);
        written
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.answered(&written);
        written
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_are_counted_per_ip_and_freed_on_drop() {
        let counts = Arc::new(Counts::default());
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let first = counts.admit(a, 2, 3).unwrap();
        let _second = counts.admit(a, 2, 3).unwrap();
        assert!(counts.admit(a, 2, 3).is_none(), "per IP");
        let _third = counts.admit(b, 2, 3).unwrap();
        assert!(counts.admit(b, 2, 3).is_none(), "in all");
        drop(first);
        assert!(counts.admit(a, 2, 3).is_some());
    }
}
