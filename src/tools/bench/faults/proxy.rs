//! A TCP forwarder in front of the simulator that can refuse connections: "the tenant is
//! unreachable" without restarting the simulator, which keeps what it received and its 24 h
//! request-id memory. Plain threads and blocking sockets: a handful of connections, no runtime needed.

use std::io::ErrorKind;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

pub struct Proxy {
    pub port: u16,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

struct Shared {
    target: SocketAddr,
    open: AtomicBool,
    stopped: AtomicBool,
    /// Both ends of every forwarded connection, to cut them when the proxy goes down.
    conns: Mutex<Vec<TcpStream>>,
}

impl Proxy {
    /// Listens on a free port of 127.0.0.1 and forwards to `target`.
    pub fn start(target: SocketAddr) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let shared = Arc::new(Shared {
            target,
            open: AtomicBool::new(true),
            stopped: AtomicBool::new(false),
            conns: Mutex::new(Vec::new()),
        });
        let s = Arc::clone(&shared);
        let thread = std::thread::spawn(move || accept_loop(&s, Some(listener), port));
        Ok(Self {
            port,
            shared,
            thread: Some(thread),
        })
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Connections are refused from now on, and those open are cut.
    pub fn down(&self) {
        self.shared.open.store(false, Ordering::SeqCst);
        cut_all(&self.shared);
    }

    /// Accepts connections again (on the same port).
    pub fn up(&self) {
        self.shared.open.store(true, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stopped.store(true, Ordering::SeqCst);
        cut_all(&self.shared);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn cut_all(shared: &Shared) {
    for c in shared.conns.lock().expect("lock").drain(..) {
        let _ = c.shutdown(Shutdown::Both);
    }
}

/// Holds the listener while open and closes it (so connecting is refused) while down.
fn accept_loop(shared: &Shared, mut listener: Option<TcpListener>, port: u16) {
    while !shared.stopped.load(Ordering::SeqCst) {
        if !shared.open.load(Ordering::SeqCst) {
            listener = None;
            cut_all(shared);
            std::thread::sleep(Duration::from_millis(10));
            continue;
        }
        let Some(l) = listener.as_ref() else {
            listener = TcpListener::bind(("127.0.0.1", port)).ok();
            if let Some(l) = &listener {
                let _ = l.set_nonblocking(true);
            }
            std::thread::sleep(Duration::from_millis(10));
            continue;
        };
        let _ = l.set_nonblocking(true);
        match l.accept() {
            Ok((client, _)) => forward(shared, client),
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

fn forward(shared: &Shared, client: TcpStream) {
    let _ = client.set_nonblocking(false);
    let Ok(server) = TcpStream::connect_timeout(&shared.target, Duration::from_secs(2)) else {
        let _ = client.shutdown(Shutdown::Both);
        return;
    };
    let _ = (client.set_nodelay(true), server.set_nodelay(true));
    let clones = (client.try_clone(), server.try_clone());
    let (Ok(c2), Ok(s2)) = clones else { return };
    {
        let mut conns = shared.conns.lock().expect("lock");
        conns.retain(|c| c.peer_addr().is_ok());
        if let (Ok(a), Ok(b)) = (client.try_clone(), server.try_clone()) {
            conns.extend([a, b]);
        }
    }
    pipe(client, server);
    pipe(s2, c2);
}

/// Copies one direction until either side closes, then closes both.
fn pipe(mut from: TcpStream, mut to: TcpStream) {
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut from, &mut to);
        let _ = from.shutdown(Shutdown::Both);
        let _ = to.shutdown(Shutdown::Both);
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    /// An echo server on a free port.
    fn echo() -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        std::thread::spawn(move || {
            for mut c in l.incoming().flatten() {
                std::thread::spawn(move || {
                    let mut r = c.try_clone().unwrap();
                    let _ = std::io::copy(&mut r, &mut c);
                });
            }
        });
        addr
    }

    fn round_trip(port: u16) -> std::io::Result<Vec<u8>> {
        let mut c = TcpStream::connect(("127.0.0.1", port))?;
        c.set_read_timeout(Some(Duration::from_secs(5)))?;
        c.write_all(b"ping")?;
        let mut buf = [0u8; 4];
        c.read_exact(&mut buf)?;
        Ok(buf.to_vec())
    }

    #[test]
    fn forwards_refuses_while_down_and_forwards_again_when_up() {
        let proxy = Proxy::start(echo()).unwrap();
        assert_eq!(round_trip(proxy.port).unwrap(), b"ping");
        // A connection open before the outage is cut by it.
        let mut open = TcpStream::connect(("127.0.0.1", proxy.port)).unwrap();
        open.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        proxy.down();
        std::thread::sleep(Duration::from_millis(100));
        let err = TcpStream::connect(("127.0.0.1", proxy.port)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
        let mut buf = [0u8; 1];
        assert!(matches!(open.read(&mut buf), Ok(0) | Err(_)));
        proxy.up();
        let mut answer = Err(std::io::Error::other("never tried"));
        for _ in 0..100 {
            answer = round_trip(proxy.port);
            if answer.is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(answer.unwrap(), b"ping");
    }
}
