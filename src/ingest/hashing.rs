//! Content hashes of the source files (SHA-256, for the manifest and the cache key), taken
//! while a file is read where the cache cannot have it yet.

use super::*;

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Bytes as lowercase hexadecimal.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The SHA-256 of a small file (job, catalog and rule files for the manifest).
pub fn sha256_file(path: &Path) -> Result<String> {
    Ok(sha256_hex(&fs_err::read(path)?))
}

/// A file's SHA-256 by `hash` (which also gives back what it read), remembered in the cache
/// when there is one, so that a later run need not read the file while it is unchanged.
pub(super) fn hashed<T>(
    cache: Option<&cache::Cache>,
    path: &Path,
    hash: impl FnOnce() -> Result<(String, T)>,
) -> Result<(String, T)> {
    match cache {
        Some(c) => c.hashed(path, hash),
        None => hash(),
    }
}

/// The SHA-256 and size of a file read in 1 MiB pieces (an extract may not fit in memory).
pub(super) fn sha256_streamed(path: &Path) -> Result<(String, u64)> {
    use std::io::Read;
    let mut f = fs_err::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        total += n as u64;
    }
    Ok((hex(&h.finalize()), total))
}

/// The hash of a file being converted, and where its reader sends the bytes to hash (CSV:
/// the file is read once); a Parquet file, which Polars reads itself, is read again for it.
pub(super) type HashBeside<'a> = Box<dyn FnOnce() -> Result<(String, u64)> + Send + 'a>;

pub(super) fn hash_beside<'a>(
    path: &'a Path,
    options: &read::ReadOptions,
) -> (Option<read::Tap>, HashBeside<'a>) {
    if options.format != Format::Csv {
        return (None, Box::new(move || sha256_streamed(path)));
    }
    let (tap, tapped): (read::Tap, _) = std::sync::mpsc::sync_channel(2);
    let hash = move || {
        let mut h = Sha256::new();
        let mut total = 0u64;
        for chunk in tapped {
            let Some(chunk) = chunk else {
                return Ok((hex(&h.finalize()), total));
            };
            h.update(&chunk[..]);
            total += chunk.len() as u64;
        }
        // Never remembered: the reading stopped, and says why.
        Err(Error::Input {
            path: path.to_path_buf(),
            message: "read only in part, so not hashed".into(),
        })
    };
    (Some(tap), Box::new(hash))
}

/// What a thread gave back, or a bug if it panicked.
pub(super) fn joined<T>(handle: std::thread::ScopedJoinHandle<'_, Result<T>>) -> Result<T> {
    handle
        .join()
        .unwrap_or_else(|_| Err(Error::Bug("a loading thread panicked".into())))
}
