//! `crosscheck profile`: extracts nobody described, profiled, and a draft catalog written.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::profile::{self, FileProfile};

/// Profiles every file under `paths`; `progress` is told each file before it is read, with
/// how many files there are.
pub fn profile(
    paths: &[PathBuf],
    progress: &dyn Fn(&Path, usize),
) -> Result<Vec<FileProfile>, Error> {
    let files = profile::files(paths)?;
    let mut profiles = Vec::new();
    for f in &files {
        progress(f, files.len());
        profiles.push(profile::profile_file(f)?);
    }
    profile::name_columns(&mut profiles);
    Ok(profiles)
}

/// Refuses a draft over an existing file, before any file is profiled.
pub fn check_draft_free(path: &Path) -> Result<(), Error> {
    if path.exists() {
        return Err(Error::Input {
            path: path.to_path_buf(),
            message: "already exists; profile never overwrites a catalog: name another file".into(),
        });
    }
    Ok(())
}

/// Writes the draft catalog of `profiles` at `path`, its paths relative to its folder.
pub fn write_draft(profiles: &[FileProfile], path: &Path) -> Result<(), Error> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let text = profile::draft(profiles, &dir);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| Error::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
    f.write_all(text.as_bytes())?;
    Ok(())
}
