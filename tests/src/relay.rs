//! A fault-injecting TCP relay: forwards a loopback port to a target and
//! can cut every connection through it (and refuse new ones) on demand.
//!
//! ```text
//!   client ──► Relay (127.0.0.1:P) ──► target         cut(): shut down every live
//!                     │                                 pair, refuse until heal()
//!                     └─ one thread per direction per connection
//! ```
//!
//! Used to cut a node off from the managers (their `[[nodes]] admin`
//! address is the relay) while its clients and replicas still reach it
//! directly. Invariant: after `cut()` returns, no byte crosses the relay
//! until `heal()`.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// A running relay.
pub struct Relay {
    port: u16,
    cut: Arc<AtomicBool>,
    live: Arc<Mutex<Vec<TcpStream>>>,
    stop: Arc<AtomicBool>,
}

impl Relay {
    /// Listens on a free loopback port and forwards to `target` (host:port).
    pub fn start(target: &str) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind relay");
        let port = listener.local_addr().expect("relay addr").port();
        listener.set_nonblocking(true).expect("nonblocking");
        let cut = Arc::new(AtomicBool::new(false));
        let live: Arc<Mutex<Vec<TcpStream>>> = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (c, l, s, target) = (cut.clone(), live.clone(), stop.clone(), target.to_string());
        thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((client, _)) => {
                        if c.load(Ordering::SeqCst) {
                            let _ = client.shutdown(Shutdown::Both);
                            continue;
                        }
                        let _ = client.set_nonblocking(false);
                        if let Ok(server) = TcpStream::connect(&target) {
                            pipe(client, server, &l, &c);
                        }
                    }
                    Err(_) => thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Relay {
            port,
            cut,
            live,
            stop,
        }
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Drops every connection and refuses new ones.
    pub fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for s in self
            .live
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
        {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    /// Lets connections through again.
    pub fn heal(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.cut();
    }
}

fn pipe(client: TcpStream, server: TcpStream, live: &Mutex<Vec<TcpStream>>, cut: &AtomicBool) {
    let (Ok(c2), Ok(s2)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    {
        let mut l = live.lock().unwrap_or_else(|e| e.into_inner());
        for s in [&client, &server] {
            if let Ok(k) = s.try_clone() {
                l.push(k);
            }
        }
        // A cut() between the accept-time check and this registration
        // would miss this pair; re-check under the lock cut() also takes.
        if cut.load(Ordering::SeqCst) {
            let _ = client.shutdown(Shutdown::Both);
            let _ = server.shutdown(Shutdown::Both);
            return;
        }
    }
    thread::spawn(move || copy(client, s2));
    thread::spawn(move || copy(server, c2));
}

fn copy(mut from: TcpStream, mut to: TcpStream) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn echo_server() -> String {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = l.local_addr().expect("addr").to_string();
        thread::spawn(move || {
            for mut s in l.incoming().flatten() {
                thread::spawn(move || {
                    let mut buf = [0u8; 64];
                    while let Ok(n) = s.read(&mut buf) {
                        if n == 0 || s.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                });
            }
        });
        addr
    }

    fn round_trip(addr: &str) -> Option<Vec<u8>> {
        let mut s = TcpStream::connect(addr).ok()?;
        s.set_read_timeout(Some(Duration::from_millis(500))).ok()?;
        s.write_all(b"ping").ok()?;
        let mut buf = [0u8; 4];
        s.read_exact(&mut buf).ok()?;
        Some(buf.to_vec())
    }

    #[test]
    fn forwards_until_cut_and_after_heal() {
        let relay = Relay::start(&echo_server());
        assert_eq!(round_trip(&relay.addr()), Some(b"ping".to_vec()));
        let mut held = TcpStream::connect(relay.addr()).expect("connect");
        thread::sleep(Duration::from_millis(50));
        relay.cut();
        assert_eq!(round_trip(&relay.addr()), None, "cut relay still forwards");
        held.set_read_timeout(Some(Duration::from_millis(500)))
            .expect("timeout");
        let _ = held.write_all(b"ping");
        let mut buf = [0u8; 4];
        assert!(
            held.read_exact(&mut buf).is_err(),
            "a live connection survived cut()"
        );
        relay.heal();
        assert_eq!(round_trip(&relay.addr()), Some(b"ping".to_vec()));
    }
}
