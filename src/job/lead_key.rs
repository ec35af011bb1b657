//! The lead key: a secret kept beside the job that lead IDs and evidence fingerprints are keyed
//! with (HMAC-SHA256). Unkeyed hashes of an ID could be reversed from a masked export by
//! hashing the ~36,500 birth dates a mask leaves open; keyed, they cannot without the file.
//! The same key gives the same IDs in every round, so dispositions and `diff` line up.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The key file's name, beside the job file.
pub const KEY_FILE: &str = ".crosscheck-lead-key";

#[derive(Clone)]
pub struct LeadKey {
    secret: [u8; 32],
    /// Where it is kept.
    pub path: PathBuf,
    /// Not on disk yet: made for this job now (written by `persist`).
    pub is_new: bool,
}

impl std::fmt::Debug for LeadKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret itself.
        write!(f, "LeadKey({}, id {})", self.path.display(), self.id())
    }
}

impl LeadKey {
    /// The key kept in `dir`, or a new random one to be persisted there.
    pub fn beside(dir: &Path) -> Result<LeadKey> {
        let path = dir.join(KEY_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let secret = parse_hex32(text.trim()).ok_or_else(|| Error::Input {
                    path: path.clone(),
                    message: "the lead key file is damaged (it must hold 64 hexadecimal \
                              characters): restore it from a backup; without it, lead IDs \
                              change and earlier rounds' dispositions no longer apply"
                        .into(),
                })?;
                Ok(LeadKey {
                    secret,
                    path,
                    is_new: false,
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut secret = [0u8; 32];
                getrandom::fill(&mut secret).map_err(|e| Error::Input {
                    path: path.clone(),
                    message: format!("cannot draw a random lead key from the system: {e}"),
                })?;
                Ok(LeadKey {
                    secret,
                    path,
                    is_new: true,
                })
            }
            Err(e) => Err(Error::Io { path, source: e }),
        }
    }

    /// Before a run writes `output_dir/<run-id>`: a new key is written beside the job, and
    /// what its being new means is said. Runs already in `output_dir` were keyed with a key
    /// that is gone: the warning returned says so. With dispositions to carry, a new key is an
    /// error, since none of their lead IDs could match.
    pub fn keep_for_run(
        &mut self,
        output_dir: &Path,
        has_dispositions: bool,
    ) -> Result<Option<String>> {
        if !self.is_new {
            return Ok(None);
        }
        let lost = format!(
            "no lead key beside the job ({}): lead IDs of earlier rounds were made with a key              that is not there",
            self.path.display()
        );
        if has_dispositions {
            return Err(Error::Input {
                path: self.path.clone(),
                message: format!(
                    "{lost}, so no disposition could be matched to a lead. Restore the key file                      from a backup of the job folder (it is created once, by the first run, and                      must travel with the job)"
                ),
            });
        }
        let earlier = std::fs::read_dir(output_dir)
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok())
                    .filter(|e| e.path().join("manifest.json").is_file())
                    .count()
            })
            .unwrap_or(0);
        self.persist()?;
        Ok((earlier > 0).then(|| {
            format!(
                "warning: {lost}; a new key was created. The {earlier} earlier run(s) in {}                  have other lead IDs: `diff` against them and their dispositions will not line                  up. If the key was lost, restore it from a backup and run again",
                output_dir.display()
            )
        }))
    }

    /// A fixed key for fixtures and benchmarks, whose lead IDs are never exported.
    pub fn fixed() -> LeadKey {
        LeadKey {
            secret: [0x5a; 32],
            path: PathBuf::new(),
            is_new: false,
        }
    }

    /// Writes a new key to its file, readable by the owner only.
    pub fn persist(&mut self) -> Result<()> {
        if !self.is_new {
            return Ok(());
        }
        use std::io::Write;
        let mut f = crate::private::create_private_file(&self.path)?;
        f.write_all(format!("{}\n", hex(&self.secret)).as_bytes())?;
        f.sync_all()?;
        self.is_new = false;
        Ok(())
    }

    /// HMAC-SHA256 of the parts, each followed by a separator so that ("ab", "c") and
    /// ("a", "bc") differ.
    pub fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut message = Vec::with_capacity(parts.iter().map(|p| p.len() + 1).sum());
        for p in parts {
            message.extend_from_slice(p);
            message.push(0x1f);
        }
        self.hmac(&message)
    }

    /// HMAC-SHA256 (RFC 2104) with the secret as key.
    fn hmac(&self, message: &[u8]) -> [u8; 32] {
        let mut block = [0u8; 64];
        block[..32].copy_from_slice(&self.secret);
        let mut inner = Sha256::new();
        inner.update(block.map(|b| b ^ 0x36));
        inner.update(message);
        let mut outer = Sha256::new();
        outer.update(block.map(|b| b ^ 0x5c));
        outer.update(inner.finalize());
        let mut out = [0u8; 32];
        out.copy_from_slice(&outer.finalize());
        out
    }

    /// A name for the key that does not reveal it, written to the manifest so that two runs
    /// can tell whether their lead IDs are comparable.
    pub fn id(&self) -> String {
        hex(&self.mac(&[b"crosscheck lead key id"])[..6])
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn parse_hex32(s: &str) -> Option<[u8; 32]> {
    let b = s.as_bytes();
    if b.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in b.chunks(2).enumerate() {
        out[i] = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4231 test cases 1 and 2: the construction is HMAC-SHA256 and nothing weaker.
    #[test]
    fn hmac_matches_rfc_4231() {
        // HMAC pads a short key with zeros to the block, so a 20- or 4-byte key is the same
        // as these 32 bytes.
        let key = |k: &[u8]| {
            let mut secret = [0u8; 32];
            secret[..k.len()].copy_from_slice(k);
            LeadKey {
                secret,
                path: PathBuf::new(),
                is_new: false,
            }
        };
        assert_eq!(
            hex(&key(&[0x0b; 20]).hmac(b"Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
        assert_eq!(
            hex(&key(b"Jefe").hmac(b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn a_key_is_kept_private_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut key = LeadKey::beside(dir.path()).unwrap();
        assert!(key.is_new);
        let id = key.mac(&[b"rule", b"320102195003011238"]);
        key.persist().unwrap();
        let again = LeadKey::beside(dir.path()).unwrap();
        assert!(!again.is_new);
        assert_eq!(again.mac(&[b"rule", b"320102195003011238"]), id);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // Another job's key gives other IDs.
        let other = LeadKey::beside(tempfile::tempdir().unwrap().path()).unwrap();
        assert_ne!(other.mac(&[b"rule", b"320102195003011238"]), id);
        std::fs::write(dir.path().join(KEY_FILE), "not hex").unwrap();
        let err = LeadKey::beside(dir.path()).unwrap_err().to_string();
        assert!(err.contains("damaged") && err.contains(KEY_FILE), "{err}");
    }
}
