//! A namespace's globally unique identifiers (NVMe-Base 4.7.1 / 5.1.13.2.3):
//! NGUID, EUI-64 and UUID, generated once at random and kept in a sidecar
//! beside the image (`IMAGE.ids`), so a restart, a Format NVM or a move of the
//! image to another server keeps them. QEMU ignores the sidecar.
//!
//! What is generated (all from the kernel's random source):
//! - EUI-64: 8 random bytes with the first octet's U/L bit (02h) set and its I/G
//!   bit (01h) clear: a locally administered unicast identifier, which cannot
//!   collide with an IEEE-assigned OUI-based EUI-64.
//! - NGUID: 16 random bytes whose first octet (the most significant byte of the
//!   OUI field, NGUID bytes 0-2) carries the same locally-administered marking.
//! - UUID: RFC 9562 version 4 (random): version nibble 4 in byte 6, variant 10b in
//!   the top bits of byte 8.
//!
//! The sidecar is text, one `name value` pair a line, hex (the UUID in its usual
//! 8-4-4-4-12 form); `#` starts a comment.

use std::io::{self, Read};
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NsIds {
    pub nguid: [u8; 16],
    pub eui64: [u8; 8],
    pub uuid: [u8; 16],
}

/// Mark the first octet as locally administered (U/L = 1) and unicast (I/G = 0).
fn local_unicast(b: u8) -> u8 {
    (b | 0x02) & !0x01
}

impl NsIds {
    /// Fresh random identifiers.
    pub fn generate() -> io::Result<Self> {
        let mut r = [0u8; 40];
        std::fs::File::open("/dev/urandom")?.read_exact(&mut r)?;
        Ok(Self::from_random(&r))
    }

    /// Identifiers from 40 random bytes, with the marking bits applied.
    pub fn from_random(r: &[u8; 40]) -> Self {
        let mut nguid = [0u8; 16];
        let mut eui64 = [0u8; 8];
        let mut uuid = [0u8; 16];
        nguid.copy_from_slice(&r[0..16]);
        eui64.copy_from_slice(&r[16..24]);
        uuid.copy_from_slice(&r[24..40]);
        nguid[0] = local_unicast(nguid[0]);
        eui64[0] = local_unicast(eui64[0]);
        uuid[6] = (uuid[6] & 0x0f) | 0x40;
        uuid[8] = (uuid[8] & 0x3f) | 0x80;
        NsIds { nguid, eui64, uuid }
    }

    pub fn sidecar_for(image: &Path) -> PathBuf {
        crate::storage::sidecar(image, "ids")
    }

    /// The identifiers kept beside `image`, generating and saving them the first
    /// time. A sidecar that cannot be written (a read-only directory) costs only
    /// persistence: the identifiers are used for this run and a warning logged.
    /// A sidecar that exists but does not parse is an error, never replaced.
    pub fn load_or_create(image: &Path) -> io::Result<Self> {
        let path = Self::sidecar_for(image);
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::parse(&text)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let ids = Self::generate()?;
                if let Err(e) = ids.save(image) {
                    tracing::warn!(
                        "{}: cannot keep the namespace identifiers ({e}); they change at the next start",
                        path.display()
                    );
                }
                Ok(ids)
            }
            Err(e) => Err(e),
        }
    }

    /// Write the sidecar (through a temporary file, so a crash leaves the old one).
    pub fn save(&self, image: &Path) -> io::Result<()> {
        let path = Self::sidecar_for(image);
        let tmp = path.with_extension("ids.tmp");
        std::fs::write(&tmp, self.to_text())?;
        std::fs::rename(&tmp, &path)
    }

    pub fn to_text(&self) -> String {
        format!(
            "# vnvme namespace identifiers, generated once; delete this file to get new ones\nnguid {}\neui64 {}\nuuid {}\n",
            hex(&self.nguid),
            hex(&self.eui64),
            uuid_text(&self.uuid)
        )
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let (mut nguid, mut eui64, mut uuid) = (None, None, None);
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (k, v) =
                line.split_once(char::is_whitespace).ok_or(format!("line {}: expected 'name value'", n + 1))?;
            let v = v.trim();
            match k {
                "nguid" => nguid = Some(unhex::<16>(v).ok_or(format!("line {}: nguid needs 32 hex digits", n + 1))?),
                "eui64" => eui64 = Some(unhex::<8>(v).ok_or(format!("line {}: eui64 needs 16 hex digits", n + 1))?),
                "uuid" => {
                    uuid = Some(
                        unhex::<16>(&v.replace('-', "")).ok_or(format!("line {}: uuid needs 32 hex digits", n + 1))?,
                    )
                }
                _ => return Err(format!("line {}: unknown name '{k}' (nguid, eui64, uuid)", n + 1)),
            }
        }
        match (nguid, eui64, uuid) {
            (Some(nguid), Some(eui64), Some(uuid)) => Ok(NsIds { nguid, eui64, uuid }),
            _ => Err("needs nguid, eui64 and uuid lines".into()),
        }
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn uuid_text(u: &[u8; 16]) -> String {
    format!("{}-{}-{}-{}-{}", hex(&u[0..4]), hex(&u[4..6]), hex(&u[6..8]), hex(&u[8..10]), hex(&u[10..16]))
}

fn unhex<const N: usize>(s: &str) -> Option<[u8; N]> {
    if s.len() != 2 * N || !s.is_ascii() {
        return None;
    }
    let mut out = [0u8; N];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marking_bits_are_set() {
        for seed in [0x00u8, 0xff, 0x5a] {
            let ids = NsIds::from_random(&[seed; 40]);
            assert_eq!(ids.eui64[0] & 0x03, 0x02, "locally administered unicast EUI-64");
            assert_eq!(ids.nguid[0] & 0x03, 0x02);
            assert_eq!(ids.uuid[6] >> 4, 4, "UUID version 4");
            assert_eq!(ids.uuid[8] >> 6, 0b10, "RFC 9562 variant");
        }
    }

    #[test]
    fn sidecar_round_trips_and_survives_a_reload() {
        let dir = std::env::temp_dir().join(format!("vnvme-ids-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let img = dir.join("a.img");
        let first = NsIds::load_or_create(&img).unwrap();
        let text = std::fs::read_to_string(NsIds::sidecar_for(&img)).unwrap();
        assert!(text.contains(&format!("eui64 {}", hex(&first.eui64))), "{text}");
        assert_eq!(NsIds::load_or_create(&img).unwrap(), first, "kept, not regenerated");
        assert_ne!(NsIds::generate().unwrap(), first, "random");
        assert_eq!(NsIds::parse(&first.to_text()).unwrap(), first);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bad_sidecars_are_errors() {
        assert!(NsIds::parse("nguid 00\neui64 0011223344556677\nuuid x").is_err());
        assert!(NsIds::parse("eui64 0011223344556677").unwrap_err().contains("needs"));
        assert!(NsIds::parse("colour blue").unwrap_err().contains("unknown"));
    }
}
