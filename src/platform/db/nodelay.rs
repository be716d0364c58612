//! TCP_NODELAY on pesync's PostgreSQL connections, which sqlx 0.9.0 no longer sets
//! (transact-rs/sqlx#4335, fixed by #4336 after 0.9.0; remove this module once the release that
//! carries it is in `Cargo.lock`).
//!
//! Without it, Nagle's algorithm holds back the tail of any message that spans several TCP segments
//! until the server's delayed ACK arrives, 40 ms later on Linux. Every large statement pays that: an
//! ingestion request's array insert, an evaluation batch's writes. Measured with `pesync bench
//! evaluate` over 1,000,000 contacts: 108.8 s without it, 30.0 s over a Unix socket (no Nagle).
//!
//! sqlx gives no access to its socket, so after each connection is made this asks the server for the
//! connection's client port (`inet_client_port()`: null over a Unix socket, where there is nothing
//! to do) and sets the option on this process's TCP socket bound to that local port.

use std::net::SocketAddr;

use sqlx::PgConnection;

/// Sets TCP_NODELAY on the socket under `conn`, when it is a TCP connection. Best effort: a failure
/// leaves the connection working, only slower, so it is logged and not returned.
pub async fn apply(conn: &mut PgConnection) -> sqlx::Result<()> {
    let port: Option<i32> = sqlx::query_scalar("SELECT inet_client_port()")
        .fetch_one(&mut *conn)
        .await?;
    let Some(port) = port.and_then(|p| u16::try_from(p).ok()) else {
        return Ok(());
    };
    match set_on_local_port(port) {
        Ok(true) => {}
        Ok(false) => tracing::debug!(port, "no local socket found to set TCP_NODELAY on"),
        Err(error) => tracing::warn!(%error, port, "could not set TCP_NODELAY"),
    }
    Ok(())
}

/// Sets TCP_NODELAY on the process's connected TCP sockets whose local port is `port` (one of them
/// is the connection the server reported the port of; another one sharing the port number towards
/// another peer only gets lower latency too). True when one was found.
#[cfg(target_os = "linux")]
fn set_on_local_port(port: u16) -> std::io::Result<bool> {
    use std::os::fd::{BorrowedFd, RawFd};

    let mut found = false;
    for entry in std::fs::read_dir("/proc/self/fd")?.flatten() {
        let is_socket = std::fs::read_link(entry.path())
            .is_ok_and(|target| target.to_string_lossy().starts_with("socket:"));
        let Some(fd) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<RawFd>().ok())
        else {
            continue;
        };
        if !is_socket {
            continue;
        }
        // SAFETY: `fd` was open when listed. Another thread may close it (and the number may be
        // reused) before the calls below; they are then answered EBADF/ENOTSOCK or act on another
        // socket's options, never on memory, and the borrow ends within this iteration.
        let fd = unsafe { BorrowedFd::borrow_raw(fd) };
        let socket = socket2::SockRef::from(&fd);
        let local = socket.local_addr().ok().and_then(|a| a.as_socket());
        // A UDP socket on the same port number refuses the option: skip it, keep looking.
        if local.as_ref().map(SocketAddr::port) == Some(port)
            && socket.peer_addr().is_ok()
            && socket.set_tcp_nodelay(true).is_ok()
        {
            found = true;
        }
    }
    Ok(found)
}

#[cfg(not(target_os = "linux"))]
fn set_on_local_port(_port: u16) -> std::io::Result<bool> {
    Ok(false)
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn the_socket_on_the_reported_port_gets_nodelay() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server_side, _) = listener.accept().unwrap();
        assert!(!client.nodelay().unwrap(), "Nagle is on by default");
        let port = client.local_addr().unwrap().port();
        assert!(set_on_local_port(port).unwrap());
        assert!(client.nodelay().unwrap());
        // Only the socket on that port: the accepted side (another local port) is untouched.
        assert!(!server_side.nodelay().unwrap());
    }

    #[test]
    fn no_socket_on_the_port_is_not_an_error() {
        // A port nothing of this process is bound to (bind and drop to find a free one).
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        assert!(!set_on_local_port(port).unwrap());
    }
}
