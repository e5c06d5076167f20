//! Shared by the integration tests: a `vnvme serve` child process with its own
//! scratch directory and an 8 MiB image, killed and cleaned up on drop.

use std::path::PathBuf;
use std::process::{Child, Command};

pub struct Server {
    pub child: Child,
    pub dir: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Start `vnvme serve --quiet --socket DIR/s --ns path=DIR/ns.img EXTRA...`.
pub fn serve(name: &str, extra: &[&str]) -> Server {
    let dir = std::env::temp_dir().join(format!("vnvme-it-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let img = dir.join("ns.img");
    std::fs::File::create(&img).unwrap().set_len(8 << 20).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_vnvme"))
        .args([
            "serve",
            "--quiet",
            "--socket",
            dir.join("s").to_str().unwrap(),
            "--ns",
            &format!("path={}", img.display()),
        ])
        .args(extra)
        .spawn()
        .unwrap();
    Server { child, dir }
}
