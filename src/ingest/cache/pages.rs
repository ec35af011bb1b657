//! A cache file's row groups, encoded here rather than by Polars' writer. Polars builds a text
//! column's dictionary with a general hash map, after estimating how many values are
//! distinct; that was a quarter of converting ten million payments. Here a row group's
//! dictionary is numbered in the group-by's table (`crate::intern`), which fetches a row's slot
//! a few rows ahead, and a value equal to the row before's (a sorted extract) takes its key
//! without a lookup; a column typed once per distinct value (`Coded`) has each of its values
//! looked up once per group, not its rows.
//! The pages are otherwise Polars' own: the same encoders, the same statistics (of the values
//! the dictionary holds), the same file schema, so the file reads back as Polars wrote it.

use polars::io::parquet::write::{BatchedWriter, StatisticsOptions};
use polars::prelude::*;
use polars_arrow::array::{
    Array, DictionaryArray, MutableBinaryViewArray, PrimitiveArray, Utf8ViewArray,
};
use polars_arrow::datatypes::{ArrowDataType, IntegerType};
use polars_parquet::write::{
    CompressedPage, Encoding, ParquetType, Version, WriteOptions, array_to_columns, compress,
    get_dtype_encoding,
};

use crate::intern::Numbering;

/// Each row's number in its source file (provenance), stored as deltas.
pub const ROW: &str = "__row";

/// LZ4: a cache is written once per extract and read at every run, and zstd took seconds to
/// write ten million rows.
const COMPRESSION: ParquetCompression = ParquetCompression::Lz4Raw;

/// Text columns typed once per distinct value (`ingest::type_by_value`), by column name;
/// `None` for a text column whose values were found mostly distinct, which the writer stores
/// plain without trying a dictionary.
pub type Coded = std::collections::HashMap<String, Option<CodedText>>;

/// A batch of a text column typed once per distinct value: the values the column's typing
/// has numbered so far in its file, and each row's number. The writer makes the row group's
/// dictionary from the numbers, looking up each value once per group rather than every row.
#[derive(Clone, Debug)]
pub struct CodedText {
    /// By number; NULL for a value that loads as no text (an invalid ID), whose rows are NULL.
    /// In chunks, as the typing adds them batch after batch: joining them into one at every
    /// batch copied all the values kept.
    pub values: StringChunked,
    /// Which numbering `values` and `keys` follow: the typing numbers a column's values afresh
    /// now and then (too many kept, or a batch of mostly new values).
    pub epoch: u64,
    /// Each row's value number.
    pub keys: PrimitiveArray<u32>,
}

/// A Parquet file written a row group at a time: Polars' writer lays out the file (schema,
/// footer, Arrow metadata) with the options `ParquetWriter` would use; the pages are encoded
/// here. A row group gathers batches until it holds `group_rows` rows, so a text column's
/// dictionary is written once for them all: with a row group per 256 Ki-row batch, the
/// dictionaries of ten million payments' IDs, names and accounts (62 K values each, in
/// every group) were a third of the cache, and a quarter of the rules' time reading it.
pub struct PageWriter<W: std::io::Write> {
    writer: BatchedWriter<W>,
    options: WriteOptions,
    fields: Vec<ParquetType>,
    /// Each column's encodings when not text (a text column's are decided per row group).
    encodings: Vec<Vec<Encoding>>,
    group_rows: usize,
    /// The row group being gathered, by column.
    open: Vec<Open>,
    open_rows: usize,
    /// The column whose typed numbers tell a row's amount where to be found (`with_guide`).
    guide: Option<String>,
}

/// A column of the row group being gathered.
#[derive(Default)]
struct Open {
    /// A column not text: its batches, encoded once the group is complete (Polars may give
    /// integers a dictionary, whose page must come first).
    arrays: Vec<Box<dyn Array>>,
    /// A text column's pages encoded already (once it is found mostly distinct).
    pages: Vec<CompressedPage>,
    /// A text column's batches, encoded once the group is complete (its dictionary page
    /// comes first, and holds the values of every batch).
    texts: Vec<Piece>,
    /// The group's dictionary of a text column. Kept from group to group while most of its
    /// values recur (a month of payments names the same people as the month before): the
    /// next group's dictionary then starts with this one's values in this one's order, which
    /// the group-by's reader looks up once per file rather than once per group, and a typed
    /// value placed in one group needs no lookup in the next.
    table: Numbering,
    /// A column typed by value: the epoch of the numbering its batches follow, and each of
    /// that numbering's values' number in `table` (`UNPLACED` until a row holds it).
    placed: Option<(u64, Vec<u32>)>,
    /// A batch of the column was found mostly distinct: the group stores it plain.
    plain: bool,
    /// A column of floating-point numbers: its batches' rows' numbers in the guide column
    /// (`u32::MAX` where there is none), beside `arrays`.
    guides: Vec<u32>,
    /// By guide number, the bits of the float the last row with that guide held and their
    /// number in `table` (`UNPLACED` when none yet), for `float_pages`.
    remembered: Vec<(u64, u32)>,
}

/// A typed value no row of the group holds yet.
const UNPLACED: u32 = u32::MAX;
/// A typed value met in the batch being added, numbered once the batch's are all found.
const PENDING: u32 = u32::MAX - 1;
/// A NULL typed value (an invalid ID), whose rows are NULL: found so once, not at every row.
const NULL_VALUE: u32 = u32::MAX - 2;

/// A batch of a text column.
enum Piece {
    Plain(Utf8ViewArray),
    /// Each row's number in the group's dictionary, NULL where the row has no value.
    Keys(PrimitiveArray<u32>),
}

impl<W: std::io::Write> PageWriter<W> {
    pub fn new(out: W, schema: &Schema, group_rows: usize) -> PolarsResult<Self> {
        let mut writer = ParquetWriter::new(out)
            .with_compression(COMPRESSION)
            .batched(schema)?;
        let fields = writer.parquet_schema().fields().to_vec();
        let encodings = schema
            .to_arrow(CompatLevel::newest())
            .iter_values()
            .map(|f| match f.name.as_str() {
                // Rows numbered in order, rejected rows left out: deltas of 1, stored in
                // almost nothing instead of eight bytes a row (a fifth of the file).
                ROW => vec![Encoding::DeltaBinaryPacked],
                _ => get_dtype_encoding(f.dtype()),
            })
            .collect();
        Ok(PageWriter {
            writer,
            options: WriteOptions {
                statistics: StatisticsOptions::default(),
                version: Version::V1,
                compression: COMPRESSION.into(),
                data_page_size: None,
            },
            fields,
            encodings,
            group_rows: group_rows.max(1),
            open: (0..schema.len()).map(|_| Open::default()).collect(),
            open_rows: 0,
            guide: None,
        })
    }

    /// Names the column (an ID, typed by value) that a float column's rows are looked up
    /// by first: a person's monthly amount is most often the one they were paid the month
    /// before, so the dictionary number that amount got is checked before any hashing.
    /// Which column guides changes nothing written, only how fast.
    pub fn with_guide(mut self, column: Option<&str>) -> Self {
        self.guide = column.map(str::to_string);
        self
    }

    /// Adds `frame`'s rows, the columns in `coded` as those dictionaries, writing each row
    /// group once it is complete.
    pub fn write(&mut self, frame: &DataFrame, coded: &Coded) -> PolarsResult<()> {
        let mut offset = 0;
        while offset < frame.height() {
            let rows = (self.group_rows - self.open_rows).min(frame.height() - offset);
            let part = frame.slice(offset as i64, rows);
            let guide = match self.guide.as_deref().and_then(|g| coded.get(g)) {
                Some(Some(coded)) => Some(&coded.keys.values()[offset..offset + rows]),
                _ => None,
            };
            for ((column, open), field) in
                part.columns().iter().zip(&mut self.open).zip(&self.fields)
            {
                match coded.get(column.name().as_str()) {
                    Some(Some(coded)) => {
                        let mut coded = coded.clone();
                        coded.keys.slice(offset, rows);
                        open.add_coded(&coded)?;
                    }
                    // Text the typing found mostly distinct (a date so found is no text).
                    Some(None) if column.dtype() == &DataType::String => {
                        open.plain = true;
                        open.add_text(column)?;
                    }
                    _ if column.dtype() == &DataType::String => open.add_text(column)?,
                    _ => {
                        let series = column.as_materialized_series().rechunk();
                        if column.dtype() == &DataType::Float64 {
                            match guide {
                                Some(keys) => open.guides.extend_from_slice(keys),
                                None => open.guides.resize(open.guides.len() + rows, u32::MAX),
                            }
                        }
                        open.arrays.push(series.to_arrow(0, CompatLevel::newest()));
                    }
                }
                if open.plain {
                    open.spill(field, self.options)?;
                }
            }
            self.open_rows += rows;
            offset += rows;
            if self.open_rows == self.group_rows {
                self.flush()?;
            }
        }
        Ok(())
    }

    /// Writes the row group gathered so far, if it holds any row.
    fn flush(&mut self) -> PolarsResult<()> {
        if self.open_rows == 0 {
            return Ok(());
        }
        // Each column on a thread of its own, not the pool's: the typing threads hold the
        // pool while they wait on this writer, so a parallel loop on it could wait forever.
        // One after another, the group's encoding lagged behind the typing, and the file's
        // last groups were encoded while the rest of the machine had nothing left to do.
        let rows = self.open_rows;
        let options = self.options;
        let columns = std::thread::scope(|s| {
            let encoding: Vec<_> = self
                .open
                .iter_mut()
                .zip(&self.fields)
                .zip(&self.encodings)
                .map(|((open, field), encoding)| {
                    s.spawn(move || open.pages(field, encoding, options, rows))
                })
                .collect();
            encoding
                .into_iter()
                .map(|e| e.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect::<PolarsResult<Vec<_>>>()
        })?;
        self.writer
            .write_row_group(self.open_rows as u64, &columns)?;
        self.open_rows = 0;
        Ok(())
    }

    /// Writes the last row group and the footer.
    pub fn finish(&mut self) -> PolarsResult<()> {
        self.flush()?;
        self.writer.finish().map(|_| ())
    }
}

impl Open {
    /// The group's pages of this column, the column left ready for the next group.
    fn pages(
        &mut self,
        field: &ParquetType,
        encoding: &[Encoding],
        options: WriteOptions,
        rows: usize,
    ) -> PolarsResult<Vec<CompressedPage>> {
        let mut keep = false;
        let pages = if self.arrays.is_empty() {
            let (pages, kept) = self.text_pages(field, options, rows)?;
            keep = kept;
            pages
        } else {
            let array = concatenated(std::mem::take(&mut self.arrays))?;
            match array.as_any().downcast_ref::<PrimitiveArray<f64>>() {
                Some(floats) => {
                    let (table, remembered) = (&mut self.table, &mut self.remembered);
                    let pages =
                        float_pages(floats, &self.guides, table, remembered, field, options)?;
                    self.guides.clear();
                    pages
                }
                None => encoded(array, field, options, encoding)?,
            }
        };
        if !keep {
            self.table.clear();
            self.placed = None;
        }
        self.plain = false;
        Ok(pages)
    }

    /// A batch typed once per distinct value: each value its rows hold numbered in the
    /// group's dictionary the first time the group meets it, the rows mapped through those
    /// numbers.
    fn add_coded(&mut self, coded: &CodedText) -> PolarsResult<()> {
        if self.plain {
            let values = coded.values.rechunk();
            self.texts.push(Piece::Plain(expand(
                values.downcast_as_array(),
                &coded.keys,
            )));
            return Ok(());
        }
        let place = match &mut self.placed {
            Some((epoch, place)) if *epoch == coded.epoch => place,
            // The typing numbered afresh: its values are looked up in the group's table again.
            placed => &mut placed.insert((coded.epoch, Vec::new())).1,
        };
        let values = Chunks::of(&coded.values);
        place.resize(coded.values.len(), UNPLACED);
        let mut new = Vec::new();
        for &g in coded.keys.values().iter() {
            let p = &mut place[g as usize];
            if *p == UNPLACED {
                if values.get(g as usize).is_some() {
                    *p = PENDING;
                    new.push(g);
                } else {
                    *p = NULL_VALUE;
                }
            }
        }
        let mut numbers = Vec::new();
        self.table.number(
            new.len(),
            |i| values.get(new[i] as usize).map(str::as_bytes),
            usize::MAX,
            &mut numbers,
        )?;
        for (&g, &n) in new.iter().zip(&numbers) {
            place[g as usize] = n;
        }
        let mut keys: Vec<u32> = coded
            .keys
            .values()
            .iter()
            .map(|&g| place[g as usize])
            .collect();
        // Every value a row holds is placed now, but a NULL one.
        let validity = (coded.values.null_count() > 0)
            .then(|| keys.iter().map(|&k| k != NULL_VALUE).collect());
        for k in keys.iter_mut().filter(|k| **k == NULL_VALUE) {
            *k = 0;
        }
        self.texts.push(Piece::Keys(PrimitiveArray::new(
            ArrowDataType::UInt32,
            keys.into(),
            validity,
        )));
        Ok(())
    }

    /// A batch of text: its rows numbered in the group's dictionary, unless most of its
    /// values are new (Polars' own threshold: three in four), which plain pages store as
    /// well and read faster.
    fn add_text(&mut self, column: &Column) -> PolarsResult<()> {
        let n = column.len();
        if let Some(scalar) = column.as_scalar_column()
            && !self.plain
        {
            // A file's name, a sheet's: one value in every row, numbered once.
            let (key, validity) = match scalar.scalar().value().get_str() {
                Some(text) => {
                    let mut number = Vec::new();
                    self.table
                        .number(1, |_| Some(text.as_bytes()), usize::MAX, &mut number)?;
                    (number[0], None)
                }
                None => (0, Some(polars_arrow::bitmap::Bitmap::new_zeroed(n))),
            };
            self.texts.push(Piece::Keys(PrimitiveArray::new(
                ArrowDataType::UInt32,
                vec![key; n].into(),
                validity,
            )));
            return Ok(());
        }
        let series = column.as_materialized_series().rechunk();
        let array = series.to_arrow(0, CompatLevel::newest());
        let text = array
            .as_any()
            .downcast_ref::<Utf8ViewArray>()
            .ok_or_else(|| polars_err!(ComputeError: "a text column that is not text"))?
            .clone();
        if !self.plain {
            match keys(&text, &mut self.table)? {
                Some(keys) => {
                    self.texts.push(Piece::Keys(keys));
                    return Ok(());
                }
                None => self.plain = true,
            }
        }
        self.texts.push(Piece::Plain(text));
        Ok(())
    }

    /// The group's dictionary: the values its rows hold, in the order of their numbers.
    fn values(&self) -> PolarsResult<Utf8ViewArray> {
        let table = &self.table.table;
        let mut values = MutableBinaryViewArray::<str>::with_capacity(table.len());
        for g in 0..table.len() as u32 {
            // The bytes were copied out of a text column.
            let value = std::str::from_utf8(table.key(g))
                .map_err(|e| polars_err!(ComputeError: "a cached text is not UTF-8: {e}"))?;
            values.push_value(value);
        }
        Ok(values.freeze())
    }

    /// Encodes the batches gathered so far as plain text: a column found mostly distinct is
    /// encoded batch by batch, not held as text until its group is complete (names and
    /// addresses would otherwise be held whole for a group).
    fn spill(&mut self, field: &ParquetType, options: WriteOptions) -> PolarsResult<()> {
        if self.texts.is_empty() {
            return Ok(());
        }
        let keyed = self.texts.iter().any(|p| matches!(p, Piece::Keys(_)));
        let values = match keyed {
            true => self.values()?,
            false => MutableBinaryViewArray::<str>::new().freeze(),
        };
        let text = concatenated(
            std::mem::take(&mut self.texts)
                .into_iter()
                .map(|p| match p {
                    Piece::Plain(text) => text.boxed(),
                    Piece::Keys(keys) => expand(&values, &keys).boxed(),
                })
                .collect(),
        )?;
        self.pages
            .extend(encoded(text, field, options, &[Encoding::Plain])?);
        Ok(())
    }

    /// Which of the table's values the group's rows hold (none for plain batches).
    fn held(&self) -> (Vec<bool>, usize) {
        let mut held = vec![false; self.table.table.len()];
        let mut count = 0;
        for piece in &self.texts {
            if let Piece::Keys(keys) = piece {
                for k in keys.iter().flatten() {
                    let seen = &mut held[*k as usize];
                    count += usize::from(!*seen);
                    *seen = true;
                }
            }
        }
        (held, count)
    }

    /// The group's pages of a text column, and whether its dictionary is kept for the next
    /// group: a dictionary of the values its `rows` hold, or plain text when a batch was
    /// mostly distinct, the group's rows are (batches typed by value whose values do not
    /// recur from batch to batch), or no row holds a value. The dictionary holds the values
    /// of the groups before that are still kept, unless they would be most of it: then only
    /// the group's own, and the next group starts afresh.
    fn text_pages(
        &mut self,
        field: &ParquetType,
        options: WriteOptions,
        rows: usize,
    ) -> PolarsResult<(Vec<CompressedPage>, bool)> {
        let (held, count) = self.held();
        if !self.plain && count == 0 {
            // No row of the group holds a value (an ID issue column, a Parquet file's sheet):
            // one column of NULLs, not an empty dictionary expanded row by row and joined,
            // which for ten million payments' two such columns was 7 % of a first run's CPU.
            self.texts.clear();
            let nulls = Utf8ViewArray::new_null(ArrowDataType::Utf8View, rows);
            let pages = encoded(nulls.boxed(), field, options, &[Encoding::Plain])?;
            return Ok((pages, !self.table.table.is_empty()));
        }
        if self.plain || count > crate::intern::distinct_limit(rows) {
            self.spill(field, options)?;
            return Ok((std::mem::take(&mut self.pages), false));
        }
        let keys = concatenated(
            std::mem::take(&mut self.texts)
                .into_iter()
                .map(|piece| match piece {
                    Piece::Keys(keys) => keys.boxed(),
                    Piece::Plain(_) => unreachable!("a plain batch makes the group's column plain"),
                })
                .collect(),
        )?;
        let keys = keys
            .as_any()
            .downcast_ref::<PrimitiveArray<u32>>()
            .expect("keys concatenate to keys")
            .clone();
        let keep = count * 2 >= held.len();
        let (keys, values) = if keep {
            (keys, self.values()?)
        } else {
            // Mostly values of groups before: the group's own, renumbered in their order.
            let table = &self.table.table;
            let mut number = vec![u32::MAX; held.len()];
            let mut values = MutableBinaryViewArray::<str>::with_capacity(count);
            for (g, _) in held.iter().enumerate().filter(|(_, h)| **h) {
                number[g] = values.len() as u32;
                // The bytes were copied out of a text column.
                let value = std::str::from_utf8(table.key(g as u32))
                    .map_err(|e| polars_err!(ComputeError: "a cached text is not UTF-8: {e}"))?;
                values.push_value(value);
            }
            let keys = PrimitiveArray::new(
                ArrowDataType::UInt32,
                keys.values()
                    .iter()
                    .map(|&k| {
                        number
                            .get(k as usize)
                            .copied()
                            .filter(|n| *n != u32::MAX)
                            .unwrap_or(0)
                    })
                    .collect::<Vec<u32>>()
                    .into(),
                keys.validity().cloned(),
            );
            (keys, values.freeze())
        };
        let dict = dictionary(keys, values.boxed())?;
        Ok((
            encoded(dict.boxed(), field, options, &[Encoding::RleDictionary])?,
            keep,
        ))
    }
}

/// Texts in chunks, by their place in all of them.
struct Chunks<'a> {
    arrays: Vec<&'a Utf8ViewArray>,
    /// Where each chunk starts.
    starts: Vec<usize>,
}

impl<'a> Chunks<'a> {
    fn of(texts: &'a StringChunked) -> Self {
        let arrays: Vec<&Utf8ViewArray> = texts.downcast_iter().collect();
        let starts = arrays
            .iter()
            .scan(0, |at, a| {
                let start = *at;
                *at += a.len();
                Some(start)
            })
            .collect();
        Chunks { arrays, starts }
    }

    /// Text `i`, `None` where NULL.
    fn get(&self, i: usize) -> Option<&'a str> {
        let c = self.starts.partition_point(|&s| s <= i) - 1;
        self.arrays[c].get(i - self.starts[c])
    }
}

/// A group's batches of a column as one array.
fn concatenated(arrays: Vec<Box<dyn Array>>) -> PolarsResult<Box<dyn Array>> {
    let refs: Vec<&dyn Array> = arrays.iter().map(|a| a.as_ref()).collect();
    polars_arrow::compute::concatenate::concatenate(&refs)
}

/// The compressed pages of one column's rows.
fn encoded(
    array: Box<dyn Array>,
    field: &ParquetType,
    options: WriteOptions,
    encoding: &[Encoding],
) -> PolarsResult<Vec<CompressedPage>> {
    let mut out = Vec::new();
    for pages in array_to_columns(array, field.clone(), options, encoding)? {
        for page in pages {
            out.push(compress(page?, Vec::new(), options.compression)?);
        }
    }
    Ok(out)
}

/// Each row's value (NULL where the row's key or its value is NULL) as plain text.
fn expand(values: &Utf8ViewArray, keys: &PrimitiveArray<u32>) -> Utf8ViewArray {
    let mut out = MutableBinaryViewArray::<str>::with_capacity(keys.len());
    for k in keys.iter() {
        out.push(k.and_then(|&k| values.get(k as usize)));
    }
    out.freeze()
}

/// Each row's number among the values of `text` and those `numbering` holds already (new
/// values numbered after them, in order of first appearance), NULL where a row has no value;
/// `None` when most rows hold values new to it (Polars' own threshold: three in four), which
/// plain pages store as well and read faster.
fn keys(
    text: &Utf8ViewArray,
    numbering: &mut Numbering,
) -> PolarsResult<Option<PrimitiveArray<u32>>> {
    let n = text.len();
    numbered_keys(
        n,
        |i| text.value(i).as_bytes(),
        text.validity(),
        crate::intern::distinct_limit(n),
        numbering,
    )
}

/// Each of `n` rows' number in `numbering` for its bytes `value(i)`, NULL where `valid` says
/// the row has no value; `None` when more than `limit` values are new.
fn numbered_keys<'v>(
    n: usize,
    value: impl Fn(usize) -> &'v [u8],
    valid: Option<&polars_arrow::bitmap::Bitmap>,
    limit: usize,
    numbering: &mut Numbering,
) -> PolarsResult<Option<PrimitiveArray<u32>>> {
    let value = |i: usize| valid.is_none_or(|v| v.get_bit(i)).then(|| value(i));
    let mut keys = Vec::new();
    if !numbering.number(n, value, limit, &mut keys)? {
        return Ok(None);
    }
    Ok(Some(PrimitiveArray::new(
        ArrowDataType::UInt32,
        keys.into(),
        valid.cloned(),
    )))
}

/// The pages of a group's floating-point numbers (amounts): a dictionary of their values when
/// at most one row in four holds a value new to the group, else plain. Polars' writer stores
/// floats plain (it cannot hash them), and ten million monthly payments repeat each person's
/// amount: plain, their amounts were two fifths of the cache, LZ4 leaving about five of their
/// eight bytes a row. A dictionary costs eight bytes a value and a key a row, so it stores
/// less only below about a third of the rows distinct. Values are told apart by their bits,
/// so what is read back is what was written, bit for bit.
fn float_pages(
    floats: &PrimitiveArray<f64>,
    guides: &[u32],
    numbering: &mut Numbering,
    remembered: &mut Vec<(u64, u32)>,
    field: &ParquetType,
    options: WriteOptions,
) -> PolarsResult<Vec<CompressedPage>> {
    let n = floats.len();
    let keys = guided_keys(floats, guides, n / 4, numbering, remembered)?;
    let table = &numbering.table;
    match keys {
        Some(keys) if !table.is_empty() => {
            let values: Vec<f64> = (0..table.len() as u32)
                .map(|g| f64::from_ne_bytes(table.key(g).try_into().expect("eight bytes a value")))
                .collect();
            let dict = dictionary(keys, PrimitiveArray::from_vec(values).boxed())?;
            encoded(dict.boxed(), field, options, &[Encoding::RleDictionary])
        }
        // Not `RleDictionary`: Polars would try a dictionary again, and fail to hash them.
        _ => encoded(floats.clone().boxed(), field, options, &[Encoding::Plain]),
    }
}

/// Each row's number in `numbering` for its float's bits (numbered in order of first
/// appearance, as `Numbering::number` numbers), NULL where the row has none; `None` when more
/// than `limit` values are new. A row whose guide (`guides[i]`) last went with the same bits
/// takes their number from `remembered` without a lookup: hashing each of 19 million
/// payments' amounts and probing a table of half a million was an eighth of a first run's
/// CPU. A remembered number is one this group's table gave the same bits, so the guide only
/// decides how often the lookup is skipped, never a number.
fn guided_keys(
    floats: &PrimitiveArray<f64>,
    guides: &[u32],
    limit: usize,
    numbering: &mut Numbering,
    remembered: &mut Vec<(u64, u32)>,
) -> PolarsResult<Option<PrimitiveArray<u32>>> {
    let n = floats.len();
    remembered.clear();
    let valid = floats.validity();
    let mut keys = Vec::with_capacity(n);
    for (i, x) in floats.values().iter().enumerate() {
        if valid.is_some_and(|v| !v.get_bit(i)) {
            keys.push(0);
            continue;
        }
        let bits = x.to_bits();
        let guide = guides.get(i).copied().unwrap_or(u32::MAX) as usize;
        if let Some(&(b, g)) = remembered.get(guide)
            && g != UNPLACED
            && b == bits
        {
            keys.push(g);
            continue;
        }
        let g = numbering.number_one(&bits.to_ne_bytes())?;
        if numbering.table.len() > limit {
            return Ok(None);
        }
        // A typing's numbers stay below a few million (`KEEP_VALUES` and a batch); a larger
        // one is only not remembered.
        if guide < 1 << 24 {
            if remembered.len() <= guide {
                remembered.resize(guide + 1, (0, UNPLACED));
            }
            remembered[guide] = (bits, g);
        }
        keys.push(g);
    }
    Ok(Some(PrimitiveArray::new(
        ArrowDataType::UInt32,
        keys.into(),
        valid.cloned(),
    )))
}

/// A column as `keys` into `values`.
fn dictionary(
    keys: PrimitiveArray<u32>,
    values: Box<dyn Array>,
) -> PolarsResult<DictionaryArray<u32>> {
    let dtype =
        ArrowDataType::Dictionary(IntegerType::UInt32, Box::new(values.dtype().clone()), false);
    DictionaryArray::try_new(dtype, keys, values)
}

#[cfg(test)]
mod tests;
