//! Converting a file batch by batch: reading, typing and writing the cache on their own
//! threads so an extract of any size streams, and the parts of a dataset gathered into one
//! frame with its accounting.

use super::*;

/// A source file of a dataset as it is read: the catalog, the dataset's name, the file, and how
/// to read it.
#[derive(Clone, Copy)]
pub(super) struct Source<'a> {
    pub(super) catalog: &'a Catalog,
    pub(super) name: &'a str,
    pub(super) path: &'a Path,
    pub(super) options: &'a read::ReadOptions<'a>,
}

/// A Parquet or CSV extract in batches, each typed on its own. Through the cache, each batch is
/// written as it goes and the rules then scan the cache like any cached file: memory stays at
/// a batch or two, whatever the extract's size. Without the cache, only the columns the rules
/// read are kept from each batch: memory is those columns and one batch, never the whole
/// source beside its typed copy.
pub(super) fn load_batched(
    src: &Source,
    spec: &DatasetSpec,
    cache: Option<&cache::Cache>,
    shown: String,
    columns: Option<&[String]>,
) -> Result<(InputFile, Part)> {
    let Source { path, options, .. } = *src;
    // Unchanged since an earlier run hashed it: not read again.
    let recalled = cache.and_then(|c| c.recall_hash(path));
    let sha256_recalled = recalled.is_some();
    let input_file = |(sha256, bytes): (String, u64), read: &BatchesRead, cached| InputFile {
        path: shown.clone(),
        sha256,
        bytes,
        sheet: None,
        encoding: read.encoding.map(str::to_string),
        rows_read: read.rows,
        cached,
        sha256_recalled,
        cache_rebuilt: None,
    };
    // The hash, taken on its own thread while the file is converted when nothing can be
    // found under it (no cache, or a file this cache never saw): hashing first would keep
    // one core idle while the whole file is read.
    let Some(cache) = cache else {
        // The typed batches accumulate here: smaller batches keep the peak near them.
        let mut kept: Option<DataFrame> = None;
        let (hash, read) = std::thread::scope(|s| {
            let (tap, hash) = hash_beside(path, options);
            let hashing = s.spawn(hash);
            let read = typed_batches(
                src,
                tap,
                &shown,
                read::PARQUET_BATCH_ROWS / 4,
                false,
                |frame, _| {
                    let frame = match columns {
                        Some(cols) => frame.select(cols.iter().map(String::as_str))?,
                        None => frame,
                    };
                    match &mut kept {
                        Some(k) => {
                            k.vstack_mut_owned(frame)?;
                        }
                        None => kept = Some(frame),
                    }
                    Ok(true)
                },
            );
            (joined(hashing), read)
        });
        // What stopped the reading, rather than the hash it left unfinished.
        let read = read?;
        let hash = hash?;
        let frame = kept.ok_or_else(|| Error::Bug("a file read in no batch".into()))?;
        let file = input_file(hash, &read, None);
        // Kept in the batches' chunks: joining them into one would copy every column.
        let part = Part::kept(frame, read.rejected, read.quality);
        return Ok((file, part));
    };
    let known = match recalled {
        Some(known) => Some(known),
        None if cache.seen(path) => Some(hashed(Some(cache), path, || sha256_streamed(path))?),
        None => None,
    };
    if let Some((sha256, _)) = &known
        && let Some(hit) = cache.get(&cache::key(sha256, &shown, spec), columns)?
    {
        return Ok(Part::served(hit, shown, true, sha256_recalled));
    }
    let writer = cache.writer(cache::id_columns(spec));
    // Batches go to the writer's thread while the next is read and typed: half the usual
    // batch size, as several are in memory. The writer encodes a row group once it has
    // gathered four batches; two more may wait meanwhile, so the typing goes on rather than
    // waiting on the encoding every fourth batch.
    let (writer, read, hash) = std::thread::scope(|s| -> Result<_> {
        let (tap, hashing) = match known {
            Some(known) => (None, s.spawn(|| Ok(known))),
            None => {
                let (tap, hash) = hash_beside(path, options);
                (tap, s.spawn(|| hashed(Some(cache), path, hash)))
            }
        };
        let (to_writer, batches) = std::sync::mpsc::sync_channel::<(DataFrame, cache::Coded)>(2);
        let written = s.spawn(move || -> Result<_> {
            let mut writer = writer;
            for (frame, coded) in batches {
                writer.write(&frame, &coded)?;
            }
            Ok(writer)
        });
        // A send fails only once the writer stopped on an error, which its join gives.
        let read = typed_batches(
            src,
            tap,
            &shown,
            read::PARQUET_BATCH_ROWS / 2,
            true,
            |frame, coded| Ok(to_writer.send((frame, coded)).is_ok()),
        );
        drop(to_writer);
        let writer = written
            .join()
            .unwrap_or_else(|_| Err(Error::Bug("the cache writer panicked".into())));
        let hash = joined(hashing);
        let read = read?;
        Ok((writer?, read, hash?))
    })?;
    let key = cache::key(&hash.0, &shown, spec);
    let file = input_file(hash, &read, Some(false));
    writer.finish(&key, &file, &read.rejected, &read.quality)?;
    let damaged = cache.damage(&key);
    let hit = cache.get(&key, columns)?.ok_or_else(|| Error::Input {
        path: path.to_path_buf(),
        message: "the converted file could not be read back from the cache just after it was \
                  written (a full or failing disk?); run again, or with --no-cache"
            .into(),
    })?;
    // Converted just now: the rules scan what was written, never the batches held.
    let (mut file, part) = Part::served(hit, shown, false, sha256_recalled);
    file.cache_rebuilt = damaged;
    Ok((file, part))
}

/// What reading a file's batches gave besides their rows.
pub(super) struct BatchesRead {
    pub(super) rows: u64,
    pub(super) rejected: Vec<RejectedRow>,
    pub(super) quality: BTreeMap<String, IdQuality>,
    /// The encoding a CSV file was read in.
    pub(super) encoding: Option<&'static str>,
}

/// Reads and types a Parquet or CSV file a batch at a time (`parquet_rows` rows of Parquet;
/// a CSV file's bytes also go to `tap`),
/// handing each typed batch (and its columns typed once per distinct value, with `by_value`)
/// to `each`, which returns false to stop. With `by_value` the batches are for the cache's
/// writer only: the texts typed by value are in `coded`, not in the frame.
pub(super) fn typed_batches(
    src: &Source,
    tap: Option<read::Tap>,
    shown: &str,
    parquet_rows: usize,
    by_value: bool,
    mut each: impl FnMut(DataFrame, cache::Coded) -> Result<bool>,
) -> Result<BatchesRead> {
    let Source {
        catalog,
        name,
        path,
        options,
    } = *src;
    let mut tables = Vec::new();
    let mut read = BatchesRead {
        rows: 0,
        rejected: Vec::new(),
        quality: BTreeMap::new(),
        encoding: None,
    };
    let batches = read::batches(path, options, parquet_rows, tap)?;
    std::thread::scope(|s| {
        // The next batch is read (decoded, parsed) on its own thread while this one is typed.
        let (to_typing, read_ahead) = std::sync::mpsc::sync_channel(0);
        s.spawn(move || {
            for table in batches {
                let failed = table.is_err();
                // A send fails once typing stopped: nothing more to read.
                if to_typing.send(table).is_err() || failed {
                    break;
                }
            }
        });
        for table in read_ahead {
            let table = table?;
            read.rows += table.rows.len() as u64;
            read.encoding = table.encoding;
            let part = type_table(
                catalog,
                name,
                path,
                shown,
                &table,
                by_value.then_some(&mut tables),
                !by_value,
            )?;
            drop(table);
            read.rejected.extend(part.rejected);
            merge_quality(&mut read.quality, part.quality);
            if !each(part.frame, part.coded)? {
                break;
            }
        }
        Ok(read)
    })
}

pub(super) fn merge_quality(
    total: &mut BTreeMap<String, IdQuality>,
    part: BTreeMap<String, IdQuality>,
) {
    for (col, q) in part {
        let t = total.entry(col).or_default();
        t.valid += q.valid;
        t.cleaned += q.cleaned;
        t.legacy_upgraded += q.legacy_upgraded;
        for (code, n) in q.invalid {
            *t.invalid.entry(code).or_default() += n;
        }
    }
}

/// One file's rows as the rules will read them.
pub(super) struct Part {
    pub(super) frame: Frame,
    pub(super) rows: u64,
    /// In memory (0 for a scan of the cache).
    pub(super) bytes: u64,
    pub(super) rejected: Vec<RejectedRow>,
    pub(super) quality: BTreeMap<String, IdQuality>,
}

/// A part's rows, not yet numbered in the dataset.
pub(super) enum Frame {
    Memory(Box<LazyFrame>),
    Cache(cache::Scan),
}

impl Frame {
    pub(super) fn numbered(self, first_row: u64) -> Result<LazyFrame> {
        let offset = IdxSize::try_from(first_row).map_err(|_| {
            Error::Bug(format!(
                "row {first_row} is past what crosscheck can number"
            ))
        })?;
        match self {
            Frame::Memory(lf) => Ok((*lf).with_row_index(ROW_ID, Some(offset))),
            Frame::Cache(scan) => scan.numbered(ROW_ID, offset),
        }
    }
}

impl Part {
    /// A file served by the cache (`cached`: from an earlier run, not converted just now;
    /// `recalled`: its hash taken from an earlier run, this run did not read it).
    pub(super) fn served(
        hit: cache::Cached,
        shown: String,
        cached: bool,
        recalled: bool,
    ) -> (InputFile, Part) {
        let mut file = hit.file;
        file.path = shown;
        file.cached = Some(cached);
        file.sha256_recalled = recalled;
        let part = Part {
            frame: Frame::Cache(hit.scan),
            rows: hit.rows,
            bytes: 0,
            rejected: hit.rejected,
            quality: hit.quality,
        };
        (file, part)
    }

    /// A file typed in memory, in one chunk per column.
    pub(super) fn memory(mut part: FilePart) -> Part {
        part.frame.rechunk_mut_par();
        Part::kept(part.frame, part.rejected, part.quality)
    }

    /// Rows held in memory as they are.
    pub(super) fn kept(
        frame: DataFrame,
        rejected: Vec<RejectedRow>,
        quality: BTreeMap<String, IdQuality>,
    ) -> Part {
        Part {
            rows: frame.height() as u64,
            bytes: frame.estimated_size() as u64,
            frame: Frame::Memory(Box::new(frame.lazy())),
            rejected,
            quality,
        }
    }
}

/// Puts the typed files of a dataset together, numbers the rows, and checks the accounting.
pub(super) fn load_tables(
    catalog: &Catalog,
    name: &str,
    parts: impl Iterator<Item = Result<(InputFile, Part)>>,
) -> Result<LoadedDataset> {
    let spec = catalog
        .datasets
        .get(name)
        .ok_or_else(|| Error::Bug(format!("dataset `{name}` not in the catalog")))?;
    let mut frames = Vec::new();
    let (mut rows_loaded, mut bytes_loaded) = (0u64, 0u64);
    let mut quality: BTreeMap<String, IdQuality> = BTreeMap::new();
    let (mut rejected, mut files, mut rows_read) = (Vec::new(), Vec::new(), 0u64);
    let mut stored = Some(cache::Stored::default());
    for part in parts {
        let (file, part) = part?;
        rows_read += file.rows_read;
        files.push(file);
        rejected.extend(part.rejected);
        merge_quality(&mut quality, part.quality);
        match (&part.frame, &mut stored) {
            (Frame::Cache(scan), Some(stored)) => scan.add_to(stored),
            _ => stored = None,
        }
        // The row id numbers the dataset's rows in file order, as the provenance does.
        frames.push(part.frame.numbered(rows_loaded)?);
        rows_loaded += part.rows;
        bytes_loaded += part.bytes;
    }
    let stacked = match frames.len() {
        0 => empty_frame(catalog, name)?.lazy(),
        1 => frames.remove(0),
        _ => concat(frames, UnionArgs::default())?,
    };
    let mut frame = stacked.with_column(col(ROW_ID).cast(DataType::Int64));
    let columns_loaded = frame
        .collect_schema()?
        .iter_names()
        .filter(|c| c.as_str() != ROW_ID)
        .map(|c| c.to_string())
        .collect();
    let report = DatasetReport {
        name: name.to_string(),
        title: spec.title.clone(),
        files,
        rows_read,
        rows_loaded,
        rows_rejected: rejected.len() as u64,
        id_quality: quality,
        columns_loaded,
        bytes_loaded,
    };
    if report.rows_read != report.rows_loaded + report.rows_rejected {
        return Err(Error::Bug(format!(
            "dataset `{name}`: rows read ≠ loaded + rejected"
        )));
    }
    Ok(LoadedDataset {
        frame,
        report,
        rejected,
        stored: stored.filter(|s| !s.files.is_empty()),
    })
}
