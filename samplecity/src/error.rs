//! What can stop the generator: a folder it cannot write, or a size past what a format holds.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("error: {}: {message}", path.display())]
    Input { path: PathBuf, message: String },
    #[error("error: {0}")]
    File(#[from] std::io::Error),
    #[error("error: {0}")]
    Polars(#[from] polars::error::PolarsError),
    #[error("internal error (a bug in the sample city generator): {0}")]
    Bug(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
