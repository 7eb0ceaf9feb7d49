//! The connection and body attacks, as raw sockets do them: shared by the attack tests and the
//! benchmark that measures the engine under them.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Connects within a second (an engine that no longer accepts fills its backlog, and
/// connecting then blocks for minutes).
fn connect(addr: &str) -> Option<TcpStream> {
    let addr = addr.parse().ok()?;
    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()?;
    s.set_write_timeout(Some(Duration::from_secs(1))).ok()?;
    Some(s)
}

/// Opens `n` connections that each send the start of a request, never its end, and keeps
/// them open. Connections that cannot be opened are left out.
pub fn slow_connections(addr: &str, n: usize) -> Vec<TcpStream> {
    let mut open = Vec::with_capacity(n);
    for _ in 0..n {
        let Some(mut s) = connect(addr) else {
            continue;
        };
        if s.write_all(b"GET /_galley/health HTTP/1.1\r\nhost: x\r\nx-slow: ")
            .is_ok()
        {
            open.push(s);
        }
    }
    open
}

/// Opens `n` keep-alive connections that each make one request, read the answer and then
/// stay idle.
pub fn idle_connections(addr: &str, n: usize) -> Vec<TcpStream> {
    let mut open = Vec::with_capacity(n);
    for _ in 0..n {
        let Some(mut s) = connect(addr) else {
            continue;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
        if s.write_all(b"GET /_galley/health HTTP/1.1\r\nhost: x\r\n\r\n")
            .is_ok()
            && read_head(&mut s).is_ok()
        {
            open.push(s);
        }
    }
    open
}

/// Reads an answer's status code and headers (not its body).
pub fn read_head(s: &mut TcpStream) -> Result<u16, String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match s.read(&mut byte) {
            Ok(0) => return Err("closed before an answer".into()),
            Ok(_) => head.push(byte[0]),
            Err(e) => return Err(format!("no answer: {e}")),
        }
    }
    let text = String::from_utf8_lossy(&head);
    text.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("not an HTTP answer: {text}"))
}

/// `GET /_galley/health` on a fresh connection: the status, or why there was none within
/// `timeout`, and how long it took.
pub fn health(addr: &str, timeout: Duration) -> (Result<u16, String>, Duration) {
    let started = Instant::now();
    let result = (|| {
        let addr = addr.parse().map_err(|e| format!("{e}"))?;
        let mut s = TcpStream::connect_timeout(&addr, timeout).map_err(|e| e.to_string())?;
        s.set_read_timeout(Some(timeout))
            .map_err(|e| e.to_string())?;
        s.write_all(b"GET /_galley/health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            .map_err(|e| e.to_string())?;
        read_head(&mut s)
    })();
    (result, started.elapsed())
}

/// An unsigned `PUT` of `size` bytes to an object: headers, then the body in 1 MiB chunks
/// for as long as the engine takes them. Returns the status it answered with.
pub fn unsigned_put(addr: &str, size: usize) -> Result<u16, String> {
    let mut s = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(|e| e.to_string())?;
    let head = format!(
        "PUT /n/attack/b/attack/o/big.bin HTTP/1.1\r\nhost: {addr}\r\n\
         content-type: application/octet-stream\r\ncontent-length: {size}\r\n\r\n"
    );
    s.write_all(head.as_bytes()).map_err(|e| e.to_string())?;
    let mut writer = s.try_clone().map_err(|e| e.to_string())?;
    let sender = std::thread::spawn(move || {
        let chunk = vec![b'x'; 1 << 20];
        let mut sent = 0;
        while sent < size {
            let n = chunk.len().min(size - sent);
            if writer.write_all(&chunk[..n]).is_err() {
                break;
            }
            sent += n;
        }
    });
    let status = read_head(&mut s);
    // The engine may stop reading after its answer: do not wait for the rest of the body.
    let _ = s.shutdown(std::net::Shutdown::Both);
    let _ = sender.join();
    status
}

/// Whether the engine closed `s` (end of stream or reset) within `within`.
pub fn closed_within(s: &mut TcpStream, within: Duration) -> Option<Duration> {
    let started = Instant::now();
    let _ = s.set_read_timeout(Some(within));
    let mut buf = [0u8; 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return Some(started.elapsed()),
            Ok(_) => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return None;
            }
            Err(_) => return Some(started.elapsed()),
        }
    }
}
