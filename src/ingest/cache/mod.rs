//! The converted-input cache: each source file, once typed, is kept as Parquet (with its
//! rejected rows and ID quality beside it) under a key made of the file's content hash, its
//! path, the dataset's declaration and the engine build — a second job over unchanged extracts skips
//! decoding and parsing. The cache holds personal data: it is created readable by the owner
//! only, like every output.

use std::io::Write;
use std::path::{Path, PathBuf};

use polars::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{FilePart, IdQuality, InputFile, RejectedRow};
use crate::error::{Error, Result};
use crate::job::catalog::{DatasetSpec, ID_RAW_SUFFIX, SemanticType};

pub(crate) mod pages;

pub use pages::{Coded, CodedText};

pub struct Cache {
    dir: PathBuf,
    /// Take a file's content hash from an earlier run while the file is unchanged on disk
    /// (off with `run --rehash`).
    recall_hashes: bool,
    /// Entries found damaged (key → why), removed to be converted again; the manifest says so.
    damaged: std::sync::Mutex<std::collections::BTreeMap<String, String>>,
}

/// A file as the file system describes it. While every field is the same, its content is the
/// same: a write changes the change time (`ctime`), which no user command can set back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Stat {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i128,
    ctime_ns: i128,
}

impl Stat {
    /// `None` where the platform does not give these fields: the file is then always hashed.
    fn of(path: &Path) -> Option<Stat> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let m = std::fs::metadata(path).ok()?;
            let ns = |s: i64, n: i64| i128::from(s) * 1_000_000_000 + i128::from(n);
            Some(Stat {
                dev: m.dev(),
                ino: m.ino(),
                size: m.size(),
                mtime_ns: ns(m.mtime(), m.mtime_nsec()),
                ctime_ns: ns(m.ctime(), m.ctime_nsec()),
            })
        }
        #[cfg(not(unix))]
        {
            let _ = path;
            None
        }
    }
}

/// A file's SHA-256 as an earlier run computed it, with the file's state at the time.
#[derive(Serialize, Deserialize)]
struct HashMemo {
    path: PathBuf,
    stat: Stat,
    sha256: String,
    /// The file was still settling, or changed while hashed: the hash is not recalled, but
    /// the file was seen (`Cache::seen`).
    #[serde(default)]
    unsettled: bool,
}

/// A file changed less than this long before it was hashed may still be being written within
/// the file system's clock tick (its times would not move): its hash is not remembered.
const SETTLED_NS: i128 = 2_000_000_000;

/// A file served from the cache.
pub struct Cached {
    pub file: InputFile,
    pub rejected: Vec<RejectedRow>,
    pub quality: std::collections::BTreeMap<String, IdQuality>,
    pub scan: Scan,
    pub rows: u64,
}

/// A scan of a cached file, made once the number of its first row in the dataset is known.
/// The row numbers are the Parquet reader's own: a row index added above the scan would stop
/// the rules' filters from reaching the reader, which then decodes every row of every column.
pub struct Scan {
    data: PathBuf,
    raw_elided: Vec<String>,
    columns: Option<Vec<String>>,
}

/// A dataset's rows as the cache stores them, for a reader of the files themselves (the
/// group-by's): every file of the dataset, in order.
#[derive(Debug, Clone, Default)]
pub struct Stored {
    pub files: Vec<PathBuf>,
    /// Columns the group-by's reader must not read from the files: an `<id>_raw` stored NULL
    /// where it equals the ID, and `__row`, stored as deltas it does not decode.
    pub unreadable: Vec<String>,
}

impl Scan {
    /// Adds this file to what `stored` reads.
    pub fn add_to(&self, stored: &mut Stored) {
        stored.files.push(self.data.clone());
        let raw = self
            .raw_elided
            .iter()
            .map(|id| format!("{id}{ID_RAW_SUFFIX}"));
        for column in raw.chain(std::iter::once(pages::ROW.to_string())) {
            if !stored.unreadable.contains(&column) {
                stored.unreadable.push(column);
            }
        }
    }

    /// The file's rows, numbered in `row_id` from `offset`.
    pub fn numbered(self, row_id: &str, offset: IdxSize) -> Result<LazyFrame> {
        let mut scan = LazyFrame::scan_parquet(
            self.data.to_string_lossy().as_ref().into(),
            ScanArgsParquet {
                row_index: Some(RowIndex {
                    name: row_id.into(),
                    offset,
                }),
                ..Default::default()
            },
        )?;
        if !self.raw_elided.is_empty() {
            scan = scan.with_columns(
                self.raw_elided
                    .iter()
                    .map(|id| {
                        let raw = format!("{id}{ID_RAW_SUFFIX}");
                        coalesce(&[col(raw.as_str()), col(id.as_str())]).alias(raw.as_str())
                    })
                    .collect::<Vec<_>>(),
            );
        }
        if let Some(cols) = self.columns {
            scan = scan.select(
                std::iter::once(row_id)
                    .chain(cols.iter().map(String::as_str))
                    .map(col)
                    .collect::<Vec<_>>(),
            );
        }
        Ok(scan)
    }
}

#[derive(Serialize, Deserialize)]
struct Sidecar {
    file: InputFile,
    rejected: Vec<RejectedRow>,
    quality: std::collections::BTreeMap<String, IdQuality>,
    /// ID columns whose `<id>_raw` is stored NULL where it equals the valid ID (nearly every
    /// row): a third smaller cache, restored when scanned.
    #[serde(default)]
    raw_elided: Vec<String>,
    /// The key this entry was written under, and its Parquet file's size and checksum as
    /// written: a file that is not exactly that is never used.
    #[serde(default)]
    key: String,
    #[serde(default)]
    data_bytes: u64,
    #[serde(default)]
    data_checksum: String,
}

/// A file's size and XXH3-128 checksum (fast enough to verify every cached file on every run:
/// a few milliseconds per hundred megabytes).
fn checksum(path: &Path) -> Result<(u64, String)> {
    use std::io::Read;
    let mut file = fs_err::File::open(path)?;
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut bytes = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        bytes += n as u64;
    }
    Ok((bytes, format!("xxh3-128:{:032x}", hasher.digest128())))
}

/// The cache key of one file under one dataset declaration.
pub fn key(sha256: &str, shown: &str, spec: &DatasetSpec) -> String {
    let mut h = Sha256::new();
    h.update(env!("CARGO_PKG_VERSION").as_bytes());
    // A rebuilt engine (changed normalisers) must not read conversions made by the old one:
    // the executable's size and modification time stand for the build.
    h.update(build_stamp().as_bytes());
    h.update(sha256.as_bytes());
    // The path as shown is in every row's provenance.
    h.update(shown.as_bytes());
    // Everything that changes how the file is read and typed (not where it lives).
    let declaration = format!(
        "{:?}|{:?}|{:?}|{:?}|{:?}|{:?}",
        spec.columns, spec.format, spec.encoding, spec.sheet, spec.delimiter, spec.header_row
    );
    h.update(declaration.as_bytes());
    super::hex(&h.finalize())
}

fn build_stamp() -> String {
    std::env::current_exe()
        .and_then(std::fs::metadata)
        .map(|m| format!("{}:{:?}", m.len(), m.modified().ok()))
        .unwrap_or_default()
}

/// An ID's raw texts as the cache stores them: NULL where the text is the ID itself (nearly
/// every row), restored from the ID when scanned.
pub fn elide_raw(raw: &StringChunked, id: &StringChunked) -> PolarsResult<StringChunked> {
    let differs = raw.not_equal_missing(id);
    raw.zip_with(
        &differs,
        &StringChunked::full_null(raw.name().clone(), raw.len()),
    )
}

/// Writes `bytes` to `to` through a partial file beside it, renamed into place (removed if
/// anything fails): a reader sees the whole file or none.
fn write_whole(to: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = PathBuf::from(format!("{}.partial-{}", to.display(), unique()));
    let written = crate::private::create_private_file(&tmp)
        .and_then(|mut f| Ok(f.write_all(bytes)?))
        .and_then(|()| Ok(fs_err::rename(&tmp, to)?));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// A suffix no other partial file of this cache has, in this process or another.
fn unique() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{}-{n}", std::process::id())
}

/// The ID columns of a dataset, whose raw twins the cache elides.
pub fn id_columns(spec: &DatasetSpec) -> Vec<String> {
    spec.columns
        .iter()
        .filter(|(_, c)| c.ty == SemanticType::IdCard)
        .map(|(n, _)| n.clone())
        .collect()
}

impl Cache {
    pub fn new(dir: &Path) -> Result<Cache> {
        crate::private::create_private_dir(dir)?;
        crate::private::sweep_leftovers(dir, &[".partial-"], false);
        Ok(Cache {
            dir: dir.to_path_buf(),
            recall_hashes: true,
            damaged: Default::default(),
        })
    }

    /// Hashes every input again, even one unchanged since an earlier run (`run --rehash`).
    pub fn rehashing(mut self) -> Cache {
        self.recall_hashes = false;
        self
    }

    fn memo_path(&self, path: &Path) -> Option<(PathBuf, PathBuf)> {
        let path = std::fs::canonicalize(path).ok()?;
        let name = super::sha256_hex(path.as_os_str().as_encoded_bytes());
        Some((self.dir.join(format!("hash-{name}.json")), path))
    }

    /// The SHA-256 and size of `path` computed by an earlier run, if the file has not changed
    /// since (same device, inode, size, modification and change times): hashing an extract of
    /// many gigabytes again only to find it unchanged takes minutes.
    pub fn recall_hash(&self, path: &Path) -> Option<(String, u64)> {
        if !self.recall_hashes {
            return None;
        }
        let (memo, canonical) = self.memo_path(path)?;
        let memo: HashMemo = serde_json::from_slice(&std::fs::read(memo).ok()?).ok()?;
        let now = Stat::of(&canonical)?;
        (memo.path == canonical && memo.stat == now && !memo.unsettled)
            .then_some((memo.sha256, now.size))
    }

    /// Whether an earlier run hashed `path`, as it is now or not: only then can its
    /// conversion be here already. A file never seen is converted while it is hashed.
    pub fn seen(&self, path: &Path) -> bool {
        self.memo_path(path).is_some_and(|(memo, _)| memo.is_file())
    }

    /// Hashes `path` with `hash` (which also gives back what it read) and remembers the hash
    /// if the file did not change while it was read and had settled before. Remembering is
    /// best effort: a memo that cannot be written only means the file is hashed again next time.
    pub fn hashed<T>(
        &self,
        path: &Path,
        hash: impl FnOnce() -> Result<(String, T)>,
    ) -> Result<(String, T)> {
        let before = Stat::of(path);
        let (sha256, read) = hash()?;
        self.remember_hash(path, before, &sha256);
        Ok((sha256, read))
    }

    fn remember_hash(&self, path: &Path, before: Option<Stat>, sha256: &str) {
        let (Some(before), Some((memo, canonical))) = (before, self.memo_path(path)) else {
            return;
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i128);
        let settled = before.ctime_ns.max(before.mtime_ns) + SETTLED_NS < now;
        let unchanged = Stat::of(&canonical).as_ref() == Some(&before);
        let record = HashMemo {
            path: canonical,
            stat: before,
            sha256: sha256.to_string(),
            unsettled: !settled || !unchanged,
        };
        if let Ok(bytes) = serde_json::to_vec(&record) {
            let _ = write_whole(&memo, &bytes);
        }
    }

    /// The converted file under `key`: its record, what was rejected, ID quality, and its
    /// rows as a scan of the cached Parquet (only the named columns when `columns` is given),
    /// read by the rules as they run instead of loaded up front. `None` when there is no
    /// entry, or one that is not exactly what was written under this key (a flipped byte,
    /// another entry's file copied over it, a truncated file): that one is removed, to be
    /// converted again from the source, and `damage` says why.
    pub fn get(&self, key: &str, columns: Option<&[String]>) -> Result<Option<Cached>> {
        let (data, side) = (
            self.dir.join(format!("{key}.parquet")),
            self.dir.join(format!("{key}.json")),
        );
        if !side.is_file() && !data.is_file() {
            return Ok(None);
        }
        let sidecar = match self.verified(key, &data, &side) {
            Ok(sidecar) => sidecar,
            Err(why) => {
                let _ = std::fs::remove_file(&data);
                let _ = std::fs::remove_file(&side);
                self.damaged
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(key.to_string(), why);
                return Ok(None);
            }
        };
        // The row count from the footer: the accounting is checked, not assumed.
        let rows = match ParquetReader::new(fs_err::File::open(&data)?.into_parts().0).num_rows() {
            Ok(n) => n as u64,
            Err(_) => return Ok(None),
        };
        let scan = Scan {
            data,
            raw_elided: sidecar.raw_elided,
            columns: columns.map(<[String]>::to_vec),
        };
        Ok(Some(Cached {
            file: sidecar.file,
            rejected: sidecar.rejected,
            quality: sidecar.quality,
            scan,
            rows,
        }))
    }

    /// The entry's sidecar, if the entry is whole and was written under `key`; else why not.
    fn verified(&self, key: &str, data: &Path, side: &Path) -> Result<Sidecar, String> {
        let bytes = std::fs::read(side).map_err(|e| format!("its record is unreadable: {e}"))?;
        let sidecar: Sidecar =
            serde_json::from_slice(&bytes).map_err(|e| format!("its record is damaged: {e}"))?;
        if sidecar.key != key {
            return Err(if sidecar.key.is_empty() {
                "written by an older crosscheck, without a checksum".into()
            } else {
                "its record belongs to another source or declaration".into()
            });
        }
        let (size, sum) = checksum(data).map_err(|e| format!("its data is unreadable: {e}"))?;
        if size != sidecar.data_bytes || sum != sidecar.data_checksum {
            return Err(format!(
                "its data is not what was written ({size} bytes, {sum}; written: {} bytes, {})",
                sidecar.data_bytes, sidecar.data_checksum
            ));
        }
        Ok(sidecar)
    }

    /// Why the entry under `key` was found damaged and removed in this run, if it was.
    pub fn damage(&self, key: &str) -> Option<String> {
        self.damaged
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .cloned()
    }

    pub fn put(
        &self,
        key: &str,
        ids: Vec<String>,
        file: &InputFile,
        part: &FilePart,
    ) -> Result<()> {
        let mut w = self.writer(ids);
        w.write(&part.frame, &part.coded)?;
        w.finish(key, file, &part.rejected, &part.quality)
    }

    /// Writes a converted file batch by batch (a large Parquet source), then, under its key
    /// (known once the file is hashed, which may be after), its sidecar.
    /// `ids`: the dataset's ID columns (their `_raw` twins are elided where equal).
    pub fn writer(&self, ids: Vec<String>) -> CacheWriter<'_> {
        // Two datasets may declare the same file the same way, and load at the same time:
        // each writes its own partial file, and the renames put the same content in place.
        CacheWriter {
            cache: self,
            tmp: self
                .dir
                .join(format!("converting.parquet.partial-{}", unique())),
            ids,
            writer: None,
        }
    }
}

/// Rows of a cache file's row group: a scan decodes a row group whole (larger groups hold
/// more memory while the rules stream), and each group repeats its text columns'
/// dictionaries (smaller groups make the cache larger, and every rule reading it decompress
/// them again). At 2 million people, 2 Mi rather than 1 Mi: the first run 8 % and the rule
/// phase 15 % faster, the cache 336 → 277 MB. 4 Mi rather than 2 Mi, once a group's columns
/// were encoded side by side (`PageWriter::flush`): CPU 0.4–1 s less on the first run and
/// 0.3 s less on a run served by the cache, the cache 277 → 210 MB, the peak 1.1 → 1.2 GB;
/// 8 Mi saved little more and took the peak to 1.5–1.8 GB.
const ROW_GROUP: usize = 1 << 22;

/// What a row group's columns may hold while it is gathered: a group is encoded once it is
/// complete, so a table of many number columns holds them all until then.
const GROUP_BYTES: usize = 256 << 20;

/// Rows of a row group for a table of `schema`: `ROW_GROUP`, fewer for a wide one (fifty
/// number columns would hold 1.6 GB in a group of `ROW_GROUP` rows). A text column is
/// counted by its key (4 bytes): one found mostly distinct is written batch by batch.
fn group_rows(schema: &Schema) -> usize {
    let width: usize = schema
        .iter_values()
        .map(|dtype| match dtype {
            DataType::Boolean => 1,
            DataType::String => 4,
            DataType::Decimal(..) => 16,
            _ => 8,
        })
        .sum();
    ROW_GROUP.min(GROUP_BYTES / width.max(1)).max(1024)
}

pub struct CacheWriter<'a> {
    cache: &'a Cache,
    tmp: PathBuf,
    ids: Vec<String>,
    writer: Option<pages::PageWriter<std::fs::File>>,
}

/// A conversion that stopped (an invalid byte half way through an extract, a full disk)
/// leaves no partial file behind; after `finish` the partial file is renamed already.
impl Drop for CacheWriter<'_> {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.tmp);
    }
}

impl CacheWriter<'_> {
    /// Writes `frame`'s rows, the columns in `coded` from their typed values (an ID's raw
    /// text given so is elided already).
    pub fn write(&mut self, frame: &DataFrame, coded: &Coded) -> Result<()> {
        let to_elide: Vec<(&String, String)> = self
            .ids
            .iter()
            .map(|id| (id, format!("{id}{ID_RAW_SUFFIX}")))
            .filter(|(_, raw)| !matches!(coded.get(raw), Some(Some(_))))
            .collect();
        let mut elided;
        let frame = if to_elide.is_empty() {
            frame
        } else {
            elided = frame.clone();
            for (id, raw) in &to_elide {
                let text = |c: &str| frame.column(c).and_then(|c| c.str().cloned());
                elided.with_column(elide_raw(&text(raw)?, &text(id)?)?.into_column())?;
            }
            &elided
        };
        let w = match &mut self.writer {
            Some(w) => w,
            None => self.writer.insert(
                pages::PageWriter::new(
                    crate::private::create_private_file(&self.tmp)?,
                    frame.schema(),
                    group_rows(frame.schema()),
                )?
                .with_guide(self.ids.first().map(String::as_str)),
            ),
        };
        w.write(frame, coded)?;
        Ok(())
    }

    pub fn finish(
        mut self,
        key: &str,
        file: &InputFile,
        rejected: &[RejectedRow],
        quality: &std::collections::BTreeMap<String, IdQuality>,
    ) -> Result<()> {
        let Some(w) = self.writer.as_mut() else {
            return Err(Error::Bug("a cache entry with no rows written".into()));
        };
        w.finish()?;
        let dir = &self.cache.dir;
        let (data_bytes, data_checksum) = checksum(&self.tmp)?;
        fs_err::rename(&self.tmp, dir.join(format!("{key}.parquet")))?;
        let sidecar = Sidecar {
            file: file.clone(),
            rejected: rejected.to_vec(),
            quality: quality.clone(),
            raw_elided: self.ids.clone(),
            key: key.to_string(),
            data_bytes,
            data_checksum,
        };
        let json = serde_json::to_vec(&sidecar).map_err(|e| Error::Bug(e.to_string()))?;
        write_whole(&dir.join(format!("{key}.json")), &json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A payments-like table keeps whole groups of `ROW_GROUP` rows; a wide one of numbers
    /// gets fewer rows a group, so what a group holds stays near `GROUP_BYTES`.
    #[test]
    fn a_wide_table_gathers_fewer_rows_a_group() {
        let schema = |columns: &[(&str, DataType)]| -> Schema {
            columns
                .iter()
                .map(|(n, t)| Field::new((*n).into(), t.clone()))
                .collect()
        };
        let payments = schema(&[
            ("id_card", DataType::String),
            ("id_card_raw", DataType::String),
            ("name", DataType::String),
            ("pay_month", DataType::Date),
            ("amount", DataType::Float64),
            ("bank_account", DataType::String),
            ("__row", DataType::Int64),
        ]);
        assert_eq!(group_rows(&payments), ROW_GROUP);
        let names: Vec<String> = (0..50).map(|i| format!("c{i}")).collect();
        let wide: Vec<(&str, DataType)> = names
            .iter()
            .map(|n| (n.as_str(), DataType::Int64))
            .collect();
        // Fifty numbers, 400 bytes a row: as many rows as 256 MB holds, not a row more.
        let rows = group_rows(&schema(&wide));
        assert!(
            rows * 400 <= 256 << 20 && (rows + 1) * 400 > 256 << 20,
            "{rows} rows"
        );
    }

    #[test]
    fn partial_files_of_processes_gone_are_swept_when_the_cache_opens() {
        let dir = tempfile::tempdir().unwrap();
        let own = std::process::id();
        // No process has a number this large (Linux numbers them below 2^22).
        let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        let files = [
            (
                "converting.parquet.partial-4000000000-0".to_string(),
                hour_ago,
            ),
            ("hash-p.csv.partial-4000000000-3".into(), hour_ago),
            // Written to just now: perhaps a process this one cannot see.
            (
                "k.json.partial-4000000000-4".into(),
                std::time::SystemTime::now(),
            ),
            (format!("converting.parquet.partial-{own}-7"), hour_ago),
            ("ab12.parquet".into(), hour_ago),
            ("ab12.json".into(), hour_ago),
        ];
        for (f, modified) in &files {
            let file = std::fs::File::create(dir.path().join(f)).unwrap();
            file.set_modified(*modified).unwrap();
        }
        Cache::new(dir.path()).unwrap();
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                "ab12.json".to_string(),
                "ab12.parquet".into(),
                format!("converting.parquet.partial-{own}-7"),
                "k.json.partial-4000000000-4".into(),
            ]
        );
    }
}
