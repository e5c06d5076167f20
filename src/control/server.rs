//! The control socket: a UNIX socket (mode 0600) served by a single-threaded
//! tokio runtime on its own thread, off the I/O path. Each connection is a
//! sequence of JSON-line requests (see `protocol`); a `trace` request turns the
//! connection into an event stream.
//!
//! Whatever a client does costs bounded memory and never reaches the I/O path:
//! a request line is at most [`MAX_LINE`] bytes (a longer one gets an error and
//! the connection is closed), at most [`MAX_CONNECTIONS`] connections are served
//! at once and at most [`MAX_TRACE_SUBSCRIBERS`] of them stream the trace (the
//! rest get an error reply), and a trace reader that stops reading only loses
//! events: the broadcast ring keeps a fixed number and the sender never waits.

use super::protocol::{self, LaggedNote, Request, TraceStarted};
use super::trace::TraceFilter;
use super::ControlPlane;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::broadcast::error::RecvError;

/// The longest request line, newline excluded. Requests are a few hundred bytes.
pub const MAX_LINE: usize = 64 * 1024;
/// Connections served at once; one more is told so and closed.
pub const MAX_CONNECTIONS: usize = 128;
/// Connections streaming the trace at once. Each one is woken for every event, on
/// the control thread, so the bound also bounds that work.
pub const MAX_TRACE_SUBSCRIBERS: usize = 32;

/// A running control socket; the path is removed when this is dropped.
pub struct ControlServer {
    path: PathBuf,
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Bind `path` and serve it on a new thread.
pub fn start(path: &Path, plane: Arc<ControlPlane>) -> std::io::Result<ControlServer> {
    if std::fs::symlink_metadata(path).is_ok() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(std::io::Error::new(std::io::ErrorKind::AddrInUse, format!("{} is in use", path.display())));
        }
        std::fs::remove_file(path)?;
    }
    let std_listener = std::os::unix::net::UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    std_listener.set_nonblocking(true)?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    std::thread::Builder::new().name("vnvme-control".into()).spawn(move || {
        rt.block_on(async move {
            let listener = match UnixListener::from_std(std_listener) {
                Ok(l) => l,
                Err(e) => {
                    tracing::info!("control socket: {e}");
                    return;
                }
            };
            let open = Arc::new(AtomicUsize::new(0));
            loop {
                match listener.accept().await {
                    Ok((mut stream, _)) => {
                        if open.load(Ordering::Relaxed) >= MAX_CONNECTIONS {
                            let msg = format!("too many control connections ({MAX_CONNECTIONS} open); close one first");
                            tokio::spawn(async move {
                                let _ = stream.write_all(format!("{}\n", protocol::error(&msg)).as_bytes()).await;
                            });
                            continue;
                        }
                        let guard = Counted::new(open.clone());
                        let plane = plane.clone();
                        tokio::spawn(async move {
                            serve(stream, plane).await;
                            drop(guard);
                        });
                    }
                    Err(e) => {
                        tracing::info!("control socket accept: {e}");
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    }
                }
            }
        })
    })?;
    Ok(ControlServer { path: path.to_path_buf() })
}

/// One unit of a shared count, given back on drop.
struct Counted(Arc<AtomicUsize>);

impl Counted {
    fn new(count: Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::Relaxed);
        Counted(count)
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// What [`read_line`] found.
#[derive(Debug, PartialEq)]
enum Line {
    Text(String),
    /// More than `max` bytes without a newline (the rest is left unread).
    TooLong,
    /// End of stream or a read error; a partial last line is dropped.
    End,
}

/// The next line of `r`, holding at most `max` bytes of it in memory.
async fn read_line<R: AsyncBufRead + Unpin>(r: &mut R, max: usize) -> Line {
    let mut line = Vec::new();
    loop {
        let buf = match r.fill_buf().await {
            Ok([]) | Err(_) => return Line::End,
            Ok(buf) => buf,
        };
        let (take, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (i, true),
            None => (buf.len(), false),
        };
        if line.len() + take > max {
            return Line::TooLong;
        }
        line.extend_from_slice(&buf[..take]);
        r.consume(if done { take + 1 } else { take });
        if done {
            return Line::Text(String::from_utf8_lossy(&line).into_owned());
        }
    }
}

async fn serve(stream: UnixStream, plane: Arc<ControlPlane>) {
    let (r, mut w) = stream.into_split();
    let mut r = BufReader::new(r);
    loop {
        let line = match read_line(&mut r, MAX_LINE).await {
            Line::Text(line) => line,
            Line::TooLong => {
                let msg = format!("request line longer than {MAX_LINE} bytes; closing the connection");
                let _ = w.write_all(format!("{}\n", protocol::error(&msg)).as_bytes()).await;
                return;
            }
            Line::End => return,
        };
        if line.trim().is_empty() {
            continue;
        }
        let reply = match protocol::parse(&line) {
            Ok(Request::Trace { .. }) if plane.trace_subscribers() >= MAX_TRACE_SUBSCRIBERS => protocol::error(
                &format!("too many trace subscribers ({MAX_TRACE_SUBSCRIBERS} streaming); close one first"),
            ),
            Ok(Request::Trace { filter }) => return stream_trace(&plane, &filter, &mut r, &mut w).await,
            Ok(req) => plane.handle(req),
            Err(msg) => protocol::error(&msg),
        };
        if w.write_all(format!("{reply}\n").as_bytes()).await.is_err() {
            return;
        }
    }
}

/// Turn the connection into the trace stream until the client closes it.
async fn stream_trace(
    plane: &ControlPlane,
    filter: &TraceFilter,
    r: &mut BufReader<OwnedReadHalf>,
    w: &mut OwnedWriteHalf,
) {
    let mut rx = plane.subscribe();
    if w.write_all(format!("{}\n", protocol::ok(&TraceStarted { streaming: true })).as_bytes()).await.is_err() {
        return;
    }
    loop {
        // Watch the client too: one that closes gives its subscriber slot back at
        // once, not at the next event (which may never come).
        let text = tokio::select! {
            got = rx.recv() => match got {
                Ok(ev) if filter.matches(&ev) => match serde_json::to_string(&*ev) {
                    Ok(text) => text,
                    Err(_) => continue,
                },
                Ok(_) => continue,
                Err(RecvError::Lagged(n)) => protocol::to_line(&LaggedNote { lagged: n }),
                Err(RecvError::Closed) => return,
            },
            gone = client_gone(r) => if gone { return } else { continue },
        };
        if w.write_all(format!("{text}\n").as_bytes()).await.is_err() {
            return;
        }
    }
}

/// Wait for input from a streaming client and discard it; true once it has closed.
async fn client_gone(r: &mut BufReader<OwnedReadHalf>) -> bool {
    match r.fill_buf().await {
        Ok([]) | Err(_) => true,
        Ok(buf) => {
            let n = buf.len();
            r.consume(n);
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8], max: usize) -> Vec<Line> {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(async {
            // A tiny buffer, so lines span several fills.
            let mut r = BufReader::with_capacity(3, input);
            let mut out = Vec::new();
            loop {
                let l = read_line(&mut r, max).await;
                let stop = !matches!(l, Line::Text(_));
                out.push(l);
                if stop {
                    return out;
                }
            }
        })
    }

    #[test]
    fn read_line_splits_and_drops_a_partial_last_line() {
        let t = |s: &str| Line::Text(s.to_string());
        assert_eq!(lines(b"ab\n\ncdefg\nxy", 8), vec![t("ab"), t(""), t("cdefg"), Line::End]);
    }

    #[test]
    fn read_line_stops_at_the_limit_without_reading_on() {
        assert_eq!(lines(b"12345678\n", 8), vec![Line::Text("12345678".into()), Line::End]);
        assert_eq!(lines(b"123456789\n", 8), vec![Line::TooLong]);
        // A line that never ends: refused once the limit is passed, not at the end of the stream.
        let endless = vec![b'x'; 1 << 20];
        assert_eq!(lines(&endless, 100), vec![Line::TooLong]);
    }
}
