//! The command line: bad input gets one clear error line and a non-zero exit,
//! never a panic; the socket is created mode 0600; SIGTERM finishes and flushes
//! with exit status 0.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn vnvme() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vnvme"))
}

/// A scratch directory, removed when the test ends.
struct Scratch(PathBuf);

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn scratch(name: &str) -> Scratch {
    let d = std::env::temp_dir().join(format!("vnvme-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    Scratch(d)
}

/// Run and return (exit code, stderr); asserts no panic message.
fn run(cmd: &mut Command) -> (i32, String) {
    let out = cmd.output().expect("run vnvme");
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!err.contains("panicked"), "vnvme panicked: {err}");
    (out.status.code().unwrap_or(-1), err)
}

fn expect_error(args: &[&str], needle: &str) {
    let (code, err) = run(vnvme().args(args));
    assert_ne!(code, 0, "{args:?} should fail");
    assert!(err.contains(needle), "{args:?}: stderr {err:?} lacks {needle:?}");
    let lines: Vec<_> = err.lines().filter(|l| l.starts_with("vnvme: error")).collect();
    assert!(lines.len() <= 1, "one error line, got {lines:?}");
}

fn image(dir: &Path, size: &str) -> PathBuf {
    let p = dir.join("ns.img");
    let (code, err) = run(vnvme().args(["image", "create", p.to_str().unwrap(), "--size", size, "--ms", "8"]));
    assert_eq!(code, 0, "{err}");
    p
}

#[test]
fn serve_rejects_a_missing_image() {
    let d = scratch("missing");
    let sock = d.join("s");
    expect_error(&["serve", "--socket", sock.to_str().unwrap(), "--ns", "path=/nonexistent/x.img"], "does not exist");
}

#[test]
fn serve_rejects_unknown_and_bad_properties() {
    let d = scratch("props");
    let img = image(&d, "8M");
    let sock = d.join("s");
    let s = sock.to_str().unwrap();
    expect_error(
        &["serve", "--socket", s, "--ns", &format!("path={},colour=red", img.display())],
        "unknown property 'colour'",
    );
    expect_error(&["serve", "--socket", s, "--ns", &format!("path={},lbs=1000", img.display())], "not supported");
    expect_error(
        &["serve", "--socket", s, "--ns", &format!("path={},ms=8,pi=1,pif=2", img.display())],
        "ms of at least 16",
    );
    expect_error(&["serve", "--socket", s, "--ns", &format!("path={},ms=16,pi=1,pif=2", img.display())], "4096");
    assert!(!sock.exists(), "no socket left behind after a refused start");
}

#[test]
fn serve_rejects_an_unknown_cache_mode() {
    let d = scratch("cache");
    let img = image(&d, "8M");
    let sock = d.join("s");
    let ns = format!("path={}", img.display());
    expect_error(
        &["serve", "--socket", sock.to_str().unwrap(), "--ns", &ns, "--cache", "unsafe"],
        "unknown cache mode `unsafe` (one of: writeback, none, writethrough, directsync)",
    );
    assert!(!sock.exists(), "no socket left behind after a refused start");
}

#[test]
fn ns_spec_prints_the_defaulted_spec_and_rejects_bad_ones() {
    let out = vnvme().args(["ns-spec", "logical_block_size=4096,ms=16,pi=1,pif=2"]).output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "lbs=4096\npbs=4096\nms=16\nmset=0\npi=1\npil=0\npif=2\nsts=0\n");
    let out = vnvme().args(["ns-spec", "--json", "path=/x.img"]).output().unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((v["path"].as_str(), v["lbs"].as_u64(), v["pi"].as_u64()), (Some("/x.img"), Some(512), Some(0)));
    expect_error(&["ns-spec", "lbs=512,colour=red"], "unknown property 'colour'");
    expect_error(&["ns-spec", "lbs=512,ms=8,pi=1,pif=2"], "ms of at least 16");
    expect_error(&["ns-spec", "ms=8,ms=16"], "'ms' given twice");
}

#[test]
fn image_create_rejects_bad_sizes_and_existing_files() {
    let d = scratch("image");
    let p = d.join("x.img");
    let ps = p.to_str().unwrap();
    expect_error(&["image", "create", ps, "--size", "12Q"], "unknown unit");
    expect_error(&["image", "create", ps, "--size=-5"], "bad size");
    expect_error(&["image", "create", ps, "--size", "0"], "bad size");
    expect_error(&["image", "create", ps, "--size", "100", "--lbs", "512", "--ms", "8"], "holds no block");
    let _ = image(&d, "4M");
    expect_error(&["image", "create", d.join("ns.img").to_str().unwrap(), "--size", "4M"], "exists");
}

#[test]
fn image_create_makes_a_sparse_image() {
    let d = scratch("unwritten");
    let p = image(&d, "1M");
    let bytes = std::fs::read(&p).unwrap();
    let nlbas = (1 << 20) / 520;
    assert!(bytes[..nlbas * 512].iter().all(|&b| b == 0), "data area reads as zeroes");
    assert!(bytes[nlbas * 512..nlbas * 520].iter().all(|&b| b == 0), "metadata area reads as zeroes");
}

fn wait_for(path: &Path) {
    let t = Instant::now();
    while !path.exists() {
        assert!(t.elapsed() < Duration::from_secs(10), "{} never appeared", path.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn socket_is_private_busy_path_is_refused_and_sigterm_exits_cleanly() {
    let d = scratch("serve");
    let img = image(&d, "8M");
    let sock = d.join("vnvme.sock");
    let mut child = vnvme()
        .args(["serve", "--socket", sock.to_str().unwrap(), "--ns", &format!("path={},ms=8,pi=1", img.display())])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for(&sock);
    let mode = std::fs::metadata(&sock).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "socket mode");
    expect_error(&["serve", "--socket", sock.to_str().unwrap(), "--ns", &format!("path={}", img.display())], "in use");
    // SAFETY: kill(2) on the child we spawned.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let t = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(t.elapsed() < Duration::from_secs(10), "serve did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0), "SIGTERM is a clean stop");
    assert!(!sock.exists(), "socket removed on exit");
    let mut log = String::new();
    use std::io::Read;
    child.stderr.take().unwrap().read_to_string(&mut log).unwrap();
    assert!(log.contains("stopped"), "log: {log}");
}

#[test]
fn serve_with_ns_dir_alone_starts_and_reports_its_namespaces() {
    let d = scratch("nsdir");
    let dir = d.join("namespaces");
    std::fs::create_dir_all(&dir).unwrap();
    // A namespace an earlier run created: image, record, identifiers.
    std::fs::File::create(dir.join("ns2.img")).unwrap().set_len(520 * 64).unwrap();
    std::fs::write(dir.join("ns2.img.ns"), "nsid 2\nlbaf 1\nmset 0\npi 1\npil 0\nnmic 0\nattached 1\n").unwrap();
    let sock = d.join("vnvme.sock");
    let mut child = vnvme()
        .args([
            "serve",
            "--socket",
            sock.to_str().unwrap(),
            "--ns-dir",
            dir.to_str().unwrap(),
            "--ns-dir-capacity",
            "1G",
        ])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for(&sock);
    // SAFETY: kill(2) on the child we spawned.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    let mut log = String::new();
    use std::io::Read;
    child.stderr.take().unwrap().read_to_string(&mut log).unwrap();
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(log.contains("1 namespaces, 1073741824 bytes of capacity"), "log: {log}");
    assert!(log.contains("namespace 2: 64 blocks of 512+8 (pi 1"), "log: {log}");
    let ids = std::fs::read_to_string(dir.join("ns2.img.ids")).expect("identifiers generated beside the image");
    assert!(ids.contains("uuid "), "{ids}");
}

#[test]
fn serve_rejects_bad_ns_dir_setups() {
    let d = scratch("nsdir-bad");
    let img = image(&d, "8M");
    let sock = d.join("s");
    let s = sock.to_str().unwrap();
    expect_error(&["serve", "--socket", s, "--ns-dir", "/nonexistent/dir"], "--ns-dir /nonexistent/dir");
    expect_error(&["serve", "--socket", s], "--ns");
    let dir = d.join("nsd");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::File::create(dir.join("ns1.img")).unwrap().set_len(4096).unwrap();
    std::fs::write(dir.join("ns1.img.ns"), "nsid 1\nlbaf 0\nmset 0\npi 0\npil 0\nnmic 0\nattached 0\n").unwrap();
    let ns = format!("path={}", img.display());
    expect_error(
        &["serve", "--socket", s, "--ns", &ns, "--ns-dir", dir.to_str().unwrap()],
        "has the NSID of --ns number 1",
    );
    std::fs::write(dir.join("ns1.img.ns"), "nsid 1\nlbaf 12\n").unwrap();
    expect_error(&["serve", "--socket", s, "--ns-dir", dir.to_str().unwrap()], "ns1.img.ns");
}

/// `bench io` removes an image it created (a gigabyte on /dev/shm by default)
/// with its sidecars, and keeps one it was given.
#[test]
fn bench_io_removes_the_images_it_created_and_keeps_given_ones() {
    let dir = scratch("bench-images");
    let run = |img: &Path| {
        let out = vnvme()
            .args(["bench", "io", "--image", img.to_str().unwrap(), "--image-size", "64M", "--quick"])
            .args(["--cache", "writeback,none"])
            .args(["--seconds", "0.1", "--no-fio", "--formats", "512+8-t1"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };
    let made = dir.join("made.img");
    run(&made);
    let left: Vec<_> = std::fs::read_dir(&*dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    let given = dir.join("given.img");
    std::fs::File::create(&given).unwrap().set_len(64 << 20).unwrap();
    run(&given);
    assert_eq!(std::fs::metadata(&given).unwrap().len(), 64 << 20, "a given image is kept");
}
