//! The group-by's own reader of crosscheck's cache files. The cache stores a text column with
//! many repeats (bank accounts, ID numbers) dictionary-encoded: each row group holds each
//! distinct value once and every row as a small index into it. Polars decodes every row back
//! into a text value, which the group-by then hashes and looks up; this reader looks up each
//! row group's dictionary entries once and maps every row through the indices. On the 100x
//! city's 10.4 M payments (62 K accounts, about four rows per account in each 262 K-row group)
//! that is a quarter of the lookups and no text decoded per row.
//!
//! Only what crosscheck's cache writer produces is read (flat columns, plain or dictionary
//! pages); anything else is an error that says to bypass the cache.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use polars::prelude::*;
use polars_arrow::bitmap::{Bitmap, MutableBitmap};
use polars_buffer::Buffer;
use polars_parquet::parquet::CowBuffer;
use polars_parquet::parquet::compression::DecompressionContext;
use polars_parquet::parquet::encoding::Encoding;
use polars_parquet::parquet::encoding::hybrid_rle::{HybridRleChunk, HybridRleDecoder};
use polars_parquet::parquet::metadata::{ColumnChunkMetadata, FileMetadata};
use polars_parquet::parquet::page::{CompressedPage, Page, split_buffer};
use polars_parquet::parquet::read::{decompress, get_page_iterator, read_metadata};
use polars_parquet::parquet::schema::types::PhysicalType;

fn to_compute_err(e: impl std::fmt::Display) -> PolarsError {
    polars_err!(ComputeError: "{e}")
}

/// What the group-by reads of a column, per row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Want {
    /// Only whether the value is there (count).
    Presence,
    /// Integers (INT32 or INT64: integers, dates, datetimes).
    Ints,
    /// Decimals (DOUBLE).
    Floats,
    /// Text, as codes given by the caller's interning (BYTE_ARRAY).
    Codes,
}

impl Want {
    fn reads(self, t: PhysicalType) -> bool {
        match self {
            Want::Presence => true,
            Want::Ints => matches!(t, PhysicalType::Int32 | PhysicalType::Int64),
            Want::Floats => t == PhysicalType::Double,
            Want::Codes => t == PhysicalType::ByteArray,
        }
    }
}

/// A cached Parquet file, mapped, with its footer.
pub(super) struct File {
    path: PathBuf,
    data: Buffer<u8>,
    meta: FileMetadata,
}

impl File {
    pub(super) fn open(path: &Path) -> PolarsResult<File> {
        let failed = |e: &dyn std::fmt::Display| polars_err!(ComputeError: "cannot read the cached file {}: {e}; run with --no-cache to bypass the cache", path.display());
        let file = std::fs::File::open(path).map_err(|e| failed(&e))?;
        // SAFETY: cache files are written under a temporary name and renamed into place, never
        // changed after, so the mapped bytes do not change under the reader.
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| failed(&e))?;
        let data = Buffer::from_owner(map);
        let meta = read_metadata(&mut Cursor::new(&data[..])).map_err(|e| failed(&e))?;
        Ok(File {
            path: path.to_path_buf(),
            data,
            meta,
        })
    }

    /// Whether every row group has each column, flat, of a physical type it is read as.
    pub(super) fn has(&self, columns: &[(&str, Want)]) -> bool {
        (0..self.row_groups()).all(|rg| {
            columns.iter().all(|(name, want)| {
                self.chunk(rg, name).is_some_and(|c| {
                    let d = &c.descriptor().descriptor;
                    d.max_rep_level == 0 && d.max_def_level <= 1 && want.reads(c.physical_type())
                })
            })
        })
    }

    /// Column `name` of row group `rg`, when it is one flat column.
    fn chunk(&self, rg: usize, name: &str) -> Option<&ColumnChunkMetadata> {
        let mut chunks = self.meta.row_groups[rg].columns_under_root_iter(name)?;
        match (chunks.next(), chunks.next()) {
            (Some(c), None) => Some(c),
            _ => None,
        }
    }

    pub(super) fn row_groups(&self) -> usize {
        self.meta.row_groups.len()
    }

    pub(super) fn rows_in(&self, rg: usize) -> usize {
        self.meta.row_groups[rg].num_rows()
    }

    /// Whether column `name` of row group `rg` starts with a dictionary page (tests check
    /// which kind of pages they read).
    #[cfg(test)]
    pub(super) fn dictionary_encoded(&self, rg: usize, name: &str) -> bool {
        let chunk = self.chunk(rg, name).expect("the column");
        get_page_iterator(chunk, Cursor::new(self.data.clone()), vec![], usize::MAX)
            .and_then(|mut pages| pages.read_dict())
            .expect("pages")
            .is_some()
    }

    /// Column `name` of row group `rg`, one entry per row, into `out`; texts as the codes
    /// `intern` appends for them.
    pub(super) fn read(
        &self,
        rg: usize,
        name: &str,
        want: Want,
        intern: &mut Intern,
        out: &mut Rows,
    ) -> PolarsResult<()> {
        let chunk = self
            .chunk(rg, name)
            .ok_or_else(|| self.bad(name, &"the column is missing"))?;
        out.clear();
        // The row group's size at once: grown page by page, the buffer would be copied and
        // fresh memory faulted in at every doubling.
        out.reserve(want, self.rows_in(rg));
        self.read_chunk(chunk, want, intern, out)
            .map_err(|e| self.bad(name, &e))?;
        if out.len != self.rows_in(rg) {
            return Err(self.bad(name, &"a row group's column has the wrong number of rows"));
        }
        Ok(())
    }

    fn bad(&self, column: &str, e: &dyn std::fmt::Display) -> PolarsError {
        polars_err!(ComputeError: "cannot read column `{column}` of the cached file {}: {e}; run with --no-cache to bypass the cache", self.path.display())
    }

    fn read_chunk(
        &self,
        chunk: &ColumnChunkMetadata,
        want: Want,
        intern: &mut Intern,
        out: &mut Rows,
    ) -> PolarsResult<()> {
        let t = chunk.physical_type();
        if !want.reads(t) {
            polars_bail!(ComputeError: "a column of type {t:?}");
        }
        // Taken while pages go to `out` (an error leaves fresh buffers for the next read).
        let mut scratch = std::mem::take(&mut out.scratch);
        let s = &mut scratch;
        let mut pages = get_page_iterator(
            chunk,
            Cursor::new(self.data.clone()),
            std::mem::take(&mut s.header),
            usize::MAX,
        )
        .map_err(to_compute_err)?;
        let mut ctx = DecompressionContext::Unset;
        // The dictionary's values, as the rows read them.
        let mut dict = false;
        if let Some(page) = pages.read_dict().map_err(to_compute_err)? {
            let Page::Dict(mut page) =
                decompress(CompressedPage::Dict(page), &mut s.dict_page, &mut ctx)
                    .map_err(to_compute_err)?
            else {
                polars_bail!(ComputeError: "a dictionary page that is not one");
            };
            if want != Want::Presence {
                plain(
                    &page.buffer,
                    page.num_values,
                    t,
                    want,
                    intern,
                    &mut s.dict,
                    &mut s.spans,
                )?;
                dict = true;
            }
            if let CowBuffer::Owned(b) = &mut page.buffer {
                s.dict_page = std::mem::take(b);
            }
        }
        for page in pages.by_ref() {
            let page = page.map_err(to_compute_err)?;
            let Page::Data(mut page) =
                decompress(page, &mut s.page, &mut ctx).map_err(to_compute_err)?
            else {
                polars_bail!(ComputeError: "a second dictionary page");
            };
            let n = page.num_values();
            let split = split_buffer(&page).map_err(to_compute_err)?;
            s.defs.clear();
            let present = if page.descriptor.max_def_level > 0 {
                levels(HybridRleDecoder::new(split.def, 1, n), &mut s.defs)?;
                s.defs.iter().filter(|&&d| d != 0).count()
            } else {
                n
            };
            s.dense.clear();
            match (want, page.encoding()) {
                (Want::Presence, _) => {}
                (_, Encoding::Plain) => plain(
                    split.values,
                    present,
                    t,
                    want,
                    intern,
                    &mut s.dense,
                    &mut s.spans,
                )?,
                (_, Encoding::RleDictionary | Encoding::PlainDictionary) if dict => {
                    let (&width, codes) = split.values.split_first().ok_or_else(
                        || polars_err!(ComputeError: "a dictionary-encoded page is empty"),
                    )?;
                    s.indices.clear();
                    levels(
                        HybridRleDecoder::new(codes, u32::from(width), present),
                        &mut s.indices,
                    )?;
                    s.dict.gather(&s.indices, &mut s.dense)?;
                }
                (_, e) => polars_bail!(ComputeError: "a page in encoding {e:?}"),
            }
            let defs = (present < n).then_some(&s.defs[..]);
            let r = out.push(want, &s.dense, defs, n, present);
            // The page's buffer, for the next page.
            s.page = std::mem::take(page.buffer_mut());
            r?;
        }
        s.header = pages.into_inner().1;
        out.scratch = scratch;
        Ok(())
    }
}

/// Looks up a batch of texts, appending their codes.
pub(super) type Intern<'a> = dyn FnMut(&Texts, &mut Vec<u32>) -> PolarsResult<()> + 'a;

/// Texts in a page's bytes: each value's start and length.
pub(super) struct Texts<'a> {
    bytes: &'a [u8],
    spans: &'a [(u32, u32)],
}

impl Texts<'_> {
    pub(super) fn len(&self) -> usize {
        self.spans.len()
    }

    /// The bytes holding the first `n` texts (their lengths too), as the page holds them.
    pub(super) fn through(&self, n: usize) -> &[u8] {
        match n.checked_sub(1).map(|last| self.spans[last]) {
            Some((at, len)) => &self.bytes[..at as usize + len as usize],
            None => &[],
        }
    }

    /// Whether the first `n` texts are held in the bytes `prefix`, exactly.
    pub(super) fn starts_with(&self, prefix: &[u8], n: usize) -> bool {
        n <= self.len() && self.through(n) == prefix
    }

    #[inline]
    pub(super) fn get(&self, i: usize) -> &[u8] {
        let (at, len) = self.spans[i];
        &self.bytes[at as usize..at as usize + len as usize]
    }
}

/// A page's values, NULLs left out: text codes, integers or decimals.
#[derive(Default)]
struct Dense {
    codes: Vec<u32>,
    ints: Vec<i64>,
    floats: Vec<f64>,
}

impl Dense {
    fn clear(&mut self) {
        self.codes.clear();
        self.ints.clear();
        self.floats.clear();
    }

    fn len(&self) -> usize {
        self.codes.len().max(self.ints.len()).max(self.floats.len())
    }

    /// The entries at `indices` (this is a dictionary), onto `out`.
    fn gather(&self, indices: &[u32], out: &mut Dense) -> PolarsResult<()> {
        fn pick<T: Copy>(v: &[T], at: &[u32], out: &mut Vec<T>) -> PolarsResult<()> {
            if v.is_empty() {
                return Ok(());
            }
            for &i in at {
                out.push(
                    *v.get(i as usize).ok_or_else(
                        || polars_err!(ComputeError: "a dictionary index out of range"),
                    )?,
                );
            }
            Ok(())
        }
        pick(&self.codes, indices, &mut out.codes)?;
        pick(&self.ints, indices, &mut out.ints)?;
        pick(&self.floats, indices, &mut out.floats)
    }
}

/// `count` PLAIN-encoded values of physical type `t` onto `out` (cleared first).
fn plain(
    bytes: &[u8],
    count: usize,
    t: PhysicalType,
    want: Want,
    intern: &mut Intern,
    out: &mut Dense,
    spans: &mut Vec<(u32, u32)>,
) -> PolarsResult<()> {
    out.clear();
    let short = || polars_err!(ComputeError: "a page holds fewer values than it says");
    fn fixed<const N: usize, T>(
        bytes: &[u8],
        count: usize,
        f: impl Fn([u8; N]) -> T,
        out: &mut Vec<T>,
    ) -> Option<()> {
        let bytes = bytes.get(..count.checked_mul(N)?)?;
        out.extend(
            bytes
                .chunks_exact(N)
                .map(|c| f(c.try_into().expect("N bytes"))),
        );
        Some(())
    }
    match (want, t) {
        (Want::Codes, PhysicalType::ByteArray) => {
            spans.clear();
            let mut at = 0usize;
            for _ in 0..count {
                let len = bytes
                    .get(at..at + 4)
                    .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
                    .ok_or_else(short)?;
                let start = at + 4;
                at = start + len as usize;
                if at > bytes.len() || start > u32::MAX as usize {
                    return Err(short());
                }
                spans.push((start as u32, len));
            }
            intern(&Texts { bytes, spans }, &mut out.codes)?;
        }
        (Want::Ints, PhysicalType::Int32) => fixed(
            bytes,
            count,
            |b| i64::from(i32::from_le_bytes(b)),
            &mut out.ints,
        )
        .ok_or_else(short)?,
        (Want::Ints, PhysicalType::Int64) => {
            fixed(bytes, count, i64::from_le_bytes, &mut out.ints).ok_or_else(short)?
        }
        (Want::Floats, PhysicalType::Double) => {
            fixed(bytes, count, f64::from_le_bytes, &mut out.floats).ok_or_else(short)?
        }
        (want, t) => polars_bail!(ComputeError: "{t:?} values read as {want:?}"),
    }
    Ok(())
}

/// Decodes RLE/bit-packed hybrid values (levels, dictionary indices) onto `out`.
fn levels(d: HybridRleDecoder, out: &mut Vec<u32>) -> PolarsResult<()> {
    for chunk in d.into_chunk_iter() {
        match chunk.map_err(to_compute_err)? {
            HybridRleChunk::Rle(v, n) => out.resize(out.len() + n, v),
            HybridRleChunk::Bitpacked(b) => b.collect_into(out),
        }
    }
    Ok(())
}

/// One row group's column, one entry per row: codes (`u32::MAX` where NULL), integers or
/// decimals (0 where NULL), and which rows hold a value; with buffers kept between reads.
#[derive(Default)]
pub(super) struct Rows {
    pub(super) codes: Vec<u32>,
    pub(super) ints: Vec<i64>,
    pub(super) floats: Vec<f64>,
    valid: Option<MutableBitmap>,
    pub(super) len: usize,
    scratch: Scratch,
}

/// A reader's buffers: pages as read and decompressed, levels, indices, values.
#[derive(Default)]
struct Scratch {
    header: Vec<u8>,
    dict_page: Vec<u8>,
    page: Vec<u8>,
    defs: Vec<u32>,
    indices: Vec<u32>,
    spans: Vec<(u32, u32)>,
    dict: Dense,
    dense: Dense,
}

impl Rows {
    fn clear(&mut self) {
        self.codes.clear();
        self.ints.clear();
        self.floats.clear();
        self.valid = None;
        self.len = 0;
    }

    fn reserve(&mut self, want: Want, rows: usize) {
        match want {
            Want::Presence => {}
            Want::Codes => self.codes.reserve(rows),
            Want::Ints => self.ints.reserve(rows),
            Want::Floats => self.floats.reserve(rows),
        }
    }

    /// Whether some row is NULL.
    pub(super) fn has_nulls(&self) -> bool {
        self.valid.is_some()
    }

    /// Which rows hold a value (`None`: all of them).
    pub(super) fn validity(&self) -> Option<Bitmap> {
        self.valid.clone().map(Bitmap::from)
    }

    /// Appends a page of `n` rows, `present` of them with a value: its values `dense` (none
    /// for a count), spread over the rows by the definition levels `defs` when some are NULL.
    fn push(
        &mut self,
        want: Want,
        dense: &Dense,
        defs: Option<&[u32]>,
        n: usize,
        present: usize,
    ) -> PolarsResult<()> {
        let got = dense.len();
        if want != Want::Presence && got != present {
            polars_bail!(ComputeError: "a page holds {got} values for {present} rows with one");
        }
        fn spread<T: Copy>(out: &mut Vec<T>, v: &[T], defs: Option<&[u32]>, null: T) {
            match defs {
                None => out.extend_from_slice(v),
                Some(defs) => {
                    let mut v = v.iter();
                    out.extend(defs.iter().map(|&d| {
                        if d != 0 {
                            *v.next().expect("as many values as set levels")
                        } else {
                            null
                        }
                    }));
                }
            }
        }
        match want {
            Want::Presence => {}
            Want::Codes => spread(&mut self.codes, &dense.codes, defs, u32::MAX),
            Want::Ints => spread(&mut self.ints, &dense.ints, defs, 0),
            Want::Floats => spread(&mut self.floats, &dense.floats, defs, 0.0),
        }
        match (defs, &mut self.valid) {
            (None, None) => {}
            (None, Some(bits)) => bits.extend_constant(n, true),
            (Some(d), bits) => {
                let bits = bits.get_or_insert_with(|| {
                    let mut b = MutableBitmap::with_capacity(self.len + n);
                    b.extend_constant(self.len, true);
                    b
                });
                // Not `extend`: it starts a new byte, whatever the length.
                bits.extend_from_trusted_len_iter(d.iter().map(|&x| x != 0));
            }
        }
        self.len += n;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kind of column reads back as written, NULLs in place, across pages and row
    /// groups that do not start on a byte of the validity bitmap (227 rows a page here), as
    /// Polars writes it and as the cache writes it (repeated floats as a dictionary).
    #[test]
    fn columns_read_back_as_written() {
        let n = 3000usize;
        let f: Vec<Option<f64>> = (0..n)
            .map(|i| (i % 3 != 0).then_some((i % 9) as f64 * 0.5))
            .collect();
        let x: Vec<Option<i64>> = (0..n).map(|i| (i % 5 != 1).then_some(i as i64)).collect();
        let d: Vec<Option<i32>> = (0..n)
            .map(|i| (i % 7 != 2).then_some(i as i32 % 40))
            .collect();
        let s: Vec<Option<String>> = (0..n)
            .map(|i| (i % 4 != 3).then(|| format!("账户{}", i % 50)))
            .collect();
        let mut df = df!["f" => &f, "x" => &x, "d" => &d, "s" => &s].unwrap();
        let dir = tempfile::tempdir().unwrap();
        let polars = dir.path().join("polars.parquet");
        ParquetWriter::new(std::fs::File::create(&polars).unwrap())
            .with_compression(ParquetCompression::Lz4Raw)
            .with_row_group_size(Some(700))
            .with_data_page_size(Some(2048))
            .finish(&mut df)
            .unwrap();
        let cache = dir.path().join("cache.parquet");
        let mut writer = crate::ingest::cache::pages::PageWriter::new(
            std::fs::File::create(&cache).unwrap(),
            df.schema(),
            700,
        )
        .unwrap();
        writer.write(&df, &Default::default()).unwrap();
        writer.finish().unwrap();
        for (path, floats_coded) in [(polars, false), (cache, true)] {
            reads_back(&path, floats_coded, (&f, &x, &d, &s));
        }
    }

    type Written<'a> = (
        &'a [Option<f64>],
        &'a [Option<i64>],
        &'a [Option<i32>],
        &'a [Option<String>],
    );

    fn reads_back(path: &std::path::Path, floats_coded: bool, (f, x, d, s): Written) {
        let file = File::open(path).unwrap();
        assert_eq!(file.dictionary_encoded(0, "f"), floats_coded, "{path:?}");
        assert!(file.has(&[("f", Want::Floats), ("x", Want::Ints), ("s", Want::Codes)]));
        assert!(!file.has(&[("f", Want::Ints)]) && !file.has(&[("absent", Want::Presence)]));
        // Texts as their position in `seen`.
        let seen: std::cell::RefCell<Vec<Vec<u8>>> = Default::default();
        let mut intern = |t: &Texts, out: &mut Vec<u32>| {
            let mut seen = seen.borrow_mut();
            for i in 0..t.len() {
                let v = t.get(i).to_vec();
                let at = seen.iter().position(|s| *s == v).unwrap_or_else(|| {
                    seen.push(v);
                    seen.len() - 1
                });
                out.push(at as u32);
            }
            Ok(())
        };
        let mut out = Rows::default();
        let (mut floats, mut ints, mut days, mut texts, mut present) =
            (vec![], vec![], vec![], vec![], vec![]);
        for rg in 0..file.row_groups() {
            let valid = |out: &Rows, i: usize| out.validity().is_none_or(|b| b.get_bit(i));
            file.read(rg, "f", Want::Floats, &mut intern, &mut out)
                .unwrap();
            floats.extend((0..out.len).map(|i| valid(&out, i).then_some(out.floats[i])));
            file.read(rg, "x", Want::Ints, &mut intern, &mut out)
                .unwrap();
            ints.extend((0..out.len).map(|i| valid(&out, i).then_some(out.ints[i])));
            file.read(rg, "d", Want::Ints, &mut intern, &mut out)
                .unwrap();
            days.extend((0..out.len).map(|i| valid(&out, i).then_some(out.ints[i] as i32)));
            file.read(rg, "s", Want::Codes, &mut intern, &mut out)
                .unwrap();
            texts.extend(out.codes.iter().map(|&c| {
                (c != u32::MAX)
                    .then(|| String::from_utf8(seen.borrow()[c as usize].clone()).unwrap())
            }));
            file.read(rg, "s", Want::Presence, &mut intern, &mut out)
                .unwrap();
            present.extend((0..out.len).map(|i| valid(&out, i)));
        }
        assert_eq!(floats, f);
        assert_eq!(ints, x);
        assert_eq!(days, d);
        assert_eq!(texts, s);
        assert_eq!(present, s.iter().map(Option::is_some).collect::<Vec<_>>());
    }
}
