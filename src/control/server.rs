//! The control socket: a UNIX socket (mode 0600) served by a single-threaded
//! tokio runtime on its own thread, off the I/O path. Each connection is a
//! sequence of JSON-line requests (see `protocol`); a `trace` request turns the
//! connection into an event stream.

use super::protocol::{self, LaggedNote, Request, TraceStarted};
use super::ControlPlane;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::broadcast::error::RecvError;

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
            loop {
                match listener.accept().await {
                    Ok((stream, _)) => {
                        tokio::spawn(serve(stream, plane.clone()));
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

async fn serve(stream: UnixStream, plane: Arc<ControlPlane>) {
    let (r, mut w) = stream.into_split();
    let mut lines = BufReader::new(r).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if line.trim().is_empty() {
            continue;
        }
        let reply = match protocol::parse(&line) {
            Ok(Request::Trace { filter }) => {
                let mut rx = plane.subscribe();
                if w.write_all(format!("{}\n", protocol::ok(&TraceStarted { streaming: true })).as_bytes())
                    .await
                    .is_err()
                {
                    return;
                }
                loop {
                    match rx.recv().await {
                        Ok(ev) => {
                            if !filter.matches(&ev) {
                                continue;
                            }
                            let Ok(mut text) = serde_json::to_string(&*ev) else { continue };
                            text.push('\n');
                            if w.write_all(text.as_bytes()).await.is_err() {
                                return;
                            }
                        }
                        Err(RecvError::Lagged(n)) => {
                            let note = format!("{}\n", protocol::to_line(&LaggedNote { lagged: n }));
                            if w.write_all(note.as_bytes()).await.is_err() {
                                return;
                            }
                        }
                        Err(RecvError::Closed) => return,
                    }
                }
            }
            Ok(req) => plane.handle(req),
            Err(msg) => protocol::error(&msg),
        };
        if w.write_all(format!("{reply}\n").as_bytes()).await.is_err() {
            return;
        }
    }
}
