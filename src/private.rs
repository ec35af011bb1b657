//! Private files: folders and files readable by their owner only (outputs, the cache, Spark
//! bundles, the lead key hold personal data), and the sweep of what killed processes left.

use std::path::Path;

use crate::error::{Error, Result};

#[cfg(unix)]
pub fn create_private_dir(path: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(|e| Error::Io {
            path: path.to_path_buf(),
            source: e,
        })
}

#[cfg(not(unix))]
pub fn create_private_dir(path: &Path) -> Result<()> {
    fs_err::create_dir_all(path).map_err(Error::from)
}

/// Creates a file readable and writable by its owner only.
pub fn create_private_file(path: &Path) -> Result<std::fs::File> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path).map_err(|e| Error::Io {
        path: path.to_path_buf(),
        source: e,
    })
}

/// Removes what processes that no longer run left in `dir`: files and folders named
/// `…<marker><pid>` or `…<marker><pid>-…` (a partial cache file, a run's partial output
/// folder, a Spark bundle), which a process killed outright cannot remove itself. A live
/// process's are left alone, and so is anything written to in the last quarter hour (a
/// process in another container sharing the folder has a number this one cannot see), and
/// everything on a system without `/proc`. `hidden_only`: only names starting with `.`, so a
/// run folder is never taken for a leftover.
pub fn sweep_leftovers(dir: &Path, markers: &[&str], hidden_only: bool) {
    const QUIET: std::time::Duration = std::time::Duration::from_secs(15 * 60);
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if hidden_only && !name.starts_with('.') {
            continue;
        }
        let pid = markers
            .iter()
            .find_map(|m| name.rsplit_once(m))
            .map(|(_, suffix)| suffix.split_once('-').map_or(suffix, |(pid, _)| pid))
            .and_then(|pid| pid.parse::<u32>().ok());
        let quiet = entry
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| t.elapsed().is_ok_and(|age| age > QUIET));
        if let Some(pid) = pid
            && pid != std::process::id()
            && quiet
            && !Path::new(&format!("/proc/{pid}")).exists()
        {
            let path = entry.path();
            let _ = if path.is_dir() {
                std::fs::remove_dir_all(path)
            } else {
                std::fs::remove_file(path)
            };
        }
    }
}
