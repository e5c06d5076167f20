//! The chart `vnvme bench io --chart` writes: one line per row, with the row's
//! IOPS as a bar (fio's IOPS on the same file as a black tick), and its latency
//! histogram on a log scale from 1 us to 100 ms, so the shape of the whole matrix
//! is seen at a glance. Plain SVG, no dependencies.

use super::bench_io::Row;
use std::fmt::Write as _;

const LABEL: f64 = 330.0;
const BAR: f64 = 430.0;
const GAP: f64 = 20.0;
const HIST: f64 = 300.0;
const LINE: f64 = 16.0;
const TOP: f64 = 40.0;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// x position in the histogram area of a latency in ns (1 us .. 100 ms, log).
fn hist_x(ns: f64) -> f64 {
    let d = (ns.max(1.0).log10() - 3.0).clamp(0.0, 5.0);
    LABEL + BAR + GAP + d / 5.0 * HIST
}

pub fn svg(rows: &[Row]) -> String {
    let max = rows.iter().map(|r| r.m.iops().max(r.fio.map_or(0.0, |f| f.iops))).fold(1.0, f64::max);
    let mut images: Vec<&str> = Vec::new();
    let mut lines = 0usize;
    for r in rows {
        if !images.contains(&r.image.as_str()) {
            images.push(&r.image);
            lines += 1;
        }
        lines += 1;
    }
    let width = LABEL + BAR + GAP + HIST + 20.0;
    let height = TOP + lines as f64 * LINE + 30.0;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="monospace" font-size="11">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="4" y="14" font-size="13">vnvme bench io: IOPS (bar; black tick: fio io_uring on the same file; scale 0..{max:.0}) and latency histogram (1 us .. 100 ms, log)</text>"#
    );
    for (d, label) in ["1us", "10us", "100us", "1ms", "10ms", "100ms"].iter().enumerate() {
        let x = hist_x(10f64.powi(d as i32 + 3));
        let _ = writeln!(s, r##"<line x1="{x}" y1="{}" x2="{x}" y2="{}" stroke="#ddd"/>"##, TOP - 8.0, height - 24.0);
        let _ = writeln!(s, r#"<text x="{x}" y="{}" text-anchor="middle">{label}</text>"#, TOP - 10.0);
    }
    let mut y = TOP;
    let mut current: Option<&str> = None;
    for r in rows {
        if current != Some(r.image.as_str()) {
            current = Some(&r.image);
            let _ = writeln!(
                s,
                r#"<text x="4" y="{}" font-weight="bold">{} ({})</text>"#,
                y + 12.0,
                esc(&r.image),
                esc(&r.fs)
            );
            y += LINE;
        }
        let _ = writeln!(
            s,
            r#"<text x="4" y="{}">{:<18} {}</text>"#,
            y + 12.0,
            esc(r.format.name),
            esc(&r.m.workload.name())
        );
        let w = r.m.iops() / max * BAR;
        let colour = if r.format.pi != 0 { "#d08030" } else { "#4a7ab0" };
        let _ = writeln!(
            s,
            r#"<rect x="{LABEL}" y="{}" width="{w:.1}" height="{}" fill="{colour}"/>"#,
            y + 2.0,
            LINE - 4.0
        );
        let _ =
            writeln!(s, r#"<text x="{:.1}" y="{}" font-size="9">{:.0}</text>"#, LABEL + w + 3.0, y + 11.0, r.m.iops());
        if let Some(f) = r.fio {
            let x = LABEL + f.iops / max * BAR;
            let _ = writeln!(
                s,
                r#"<line x1="{x:.1}" y1="{}" x2="{x:.1}" y2="{}" stroke="black" stroke-width="2"/>"#,
                y,
                y + LINE
            );
        }
        let buckets = r.m.latency.buckets();
        let top = buckets.iter().map(|b| b.1).max().unwrap_or(1) as f64;
        for (i, &(lo, count)) in buckets.iter().enumerate() {
            let hi = buckets.get(i + 1).map_or(lo as f64 * 1.125, |n| (n.0 as f64).min(lo as f64 * 1.125));
            let (x0, x1) = (hist_x(lo as f64), hist_x(hi.max(lo as f64 + 1.0)));
            let h = count as f64 / top * (LINE - 3.0);
            let _ = writeln!(
                s,
                r##"<rect x="{x0:.1}" y="{:.1}" width="{:.1}" height="{h:.1}" fill="#555"/>"##,
                y + LINE - 1.0 - h,
                (x1 - x0).max(0.8)
            );
        }
        y += LINE;
    }
    let _ = writeln!(
        s,
        r#"<text x="4" y="{}">blue: no PI; orange: PI namespace. One run; see docs/performance.md for the machine and date.</text>"#,
        height - 8.0
    );
    s.push_str("</svg>\n");
    s
}
