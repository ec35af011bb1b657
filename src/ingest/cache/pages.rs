//! A cache file's row groups, encoded here rather than by Polars' writer. Polars builds a text
//! column's dictionary with a general hash map, after estimating how many values are
//! distinct; that was a quarter of converting ten million payments. Here a text column's
//! dictionary is the one its typing made (`Coded`: the column typed once per distinct value),
//! or else comes from the group-by's table (`crate::intern`), which fetches a row's slot a few
//! rows ahead, and a value equal to the row before's (a sorted extract) takes its key without
//! a lookup.
//! The pages are otherwise Polars' own: the same encoders, the same statistics (of the values
//! the dictionary holds), the same file schema, so the file reads back as Polars wrote it.

use polars::io::parquet::write::{BatchedWriter, StatisticsOptions};
use polars::prelude::*;
use polars_arrow::array::{
    Array, DictionaryArray, MutableBinaryViewArray, PrimitiveArray, Utf8ViewArray,
};
use polars_arrow::bitmap::MutableBitmap;
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

/// Text columns typed once per distinct value (`ingest::type_by_value`): each row's number
/// and the typed values, which the writer stores as the column's dictionary rather than look
/// every row up again; `None` for a text column whose values were found mostly distinct,
/// which the writer stores plain without trying a dictionary. By column name; the keys are
/// aligned with the frame's rows.
pub type Coded = std::collections::HashMap<String, Option<DictionaryArray<u32>>>;

/// A Parquet file written a row group at a time: Polars' writer lays out the file (schema,
/// footer, Arrow metadata) with the options `ParquetWriter` would use; `row_group` encodes
/// the pages.
pub struct PageWriter<W: std::io::Write> {
    writer: BatchedWriter<W>,
    options: WriteOptions,
    fields: Vec<ParquetType>,
    /// Each column's encodings when not text (texts are decided by `dictionary`).
    encodings: Vec<Vec<Encoding>>,
    /// Each column's dictionary table, kept from row group to row group so each starts at
    /// the size the last needed.
    tables: Vec<Numbering>,
}

impl<W: std::io::Write> PageWriter<W> {
    pub fn new(out: W, schema: &Schema) -> PolarsResult<Self> {
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
            tables: (0..schema.len()).map(|_| Numbering::default()).collect(),
        })
    }

    /// Writes `frame` as one row group, the columns in `coded` as those dictionaries.
    pub fn write(&mut self, frame: &DataFrame, coded: &Coded) -> PolarsResult<()> {
        let pages = row_group(
            frame,
            coded,
            &self.fields,
            &self.encodings,
            &mut self.tables,
            self.options,
        )?;
        self.writer.write_row_group(frame.height() as u64, &pages)
    }

    /// Writes the footer.
    pub fn finish(&self) -> PolarsResult<()> {
        self.writer.finish().map(|_| ())
    }
}

/// The compressed pages of each leaf column of `frame`, one row group. Columns one after
/// another: the writer thread runs beside the threads typing the next batch, and a parallel
/// loop here would wait on the pool those threads hold while they wait on the writer.
fn row_group(
    frame: &DataFrame,
    coded: &Coded,
    fields: &[ParquetType],
    encodings: &[Vec<Encoding>],
    tables: &mut [Numbering],
    options: WriteOptions,
) -> PolarsResult<Vec<Vec<CompressedPage>>> {
    let columns = frame
        .columns()
        .iter()
        .zip(fields)
        .zip(encodings)
        .zip(tables)
        .map(|(((column, field), encoding), table)| {
            let given = coded.get(column.name().as_str());
            let (array, encoding) = match (given, constant_text(column)) {
                (Some(Some(dict)), _) => (dict.clone().boxed(), vec![Encoding::RleDictionary]),
                (_, Some(array)) => array,
                (given, None) => {
                    let series = column.as_materialized_series().rechunk();
                    let array = series.to_arrow(0, CompatLevel::newest());
                    match array.as_any().downcast_ref::<Utf8ViewArray>() {
                        Some(_) if given.is_some() => (array, vec![Encoding::Plain]),
                        Some(text) => match dictionary(text, table)? {
                            Some(dict) => (dict.boxed(), vec![Encoding::RleDictionary]),
                            None => (array, vec![Encoding::Plain]),
                        },
                        None => (array, encoding.clone()),
                    }
                }
            };
            array_to_columns(&array, field.clone(), options, &encoding)?
                .into_iter()
                .map(|pages| {
                    pages
                        .map(|page| Ok(compress(page?, Vec::new(), options.compression)?))
                        .collect::<PolarsResult<Vec<CompressedPage>>>()
                })
                .collect::<PolarsResult<Vec<Vec<CompressedPage>>>>()
        })
        .collect::<PolarsResult<Vec<_>>>()?;
    Ok(columns.into_iter().flatten().collect())
}

/// A text column holding one value in every row (a file's name, a sheet's), as a dictionary
/// of that value, or all NULL as plain pages, without writing the value out row by row.
fn constant_text(column: &Column) -> Option<(Box<dyn Array>, Vec<Encoding>)> {
    let scalar = column.as_scalar_column()?;
    if scalar.dtype() != &DataType::String {
        return None;
    }
    let n = scalar.len();
    Some(match scalar.scalar().value() {
        AnyValue::Null => (
            Utf8ViewArray::new_null(ArrowDataType::Utf8View, n).boxed(),
            vec![Encoding::Plain],
        ),
        value => {
            let mut values = MutableBinaryViewArray::<str>::with_capacity(1);
            values.push_value(value.get_str()?);
            let keys = PrimitiveArray::<u32>::from_vec(vec![0; n]);
            let dict = text_dictionary(keys, values.freeze()).ok()?;
            (dict.boxed(), vec![Encoding::RleDictionary])
        }
    })
}

/// `text` as its distinct values, in order of first appearance, and each row's index among
/// them; `None` when it has no value, or when most rows hold distinct values (Polars' own
/// threshold: three in four), which plain pages store as well and read faster.
fn dictionary(
    text: &Utf8ViewArray,
    numbering: &mut Numbering,
) -> PolarsResult<Option<DictionaryArray<u32>>> {
    let n = text.len();
    let limit = crate::intern::distinct_limit(n);
    let valid = text.validity();
    let value = |i: usize| {
        valid
            .is_none_or(|v| v.get_bit(i))
            .then(|| text.value(i).as_bytes())
    };
    let mut keys = Vec::new();
    numbering.table.clear();
    if !numbering.number(n, value, limit, &mut keys)? || numbering.table.is_empty() {
        return Ok(None);
    }
    let table = &numbering.table;
    let mut values = MutableBinaryViewArray::<str>::with_capacity(table.len());
    for g in 0..table.len() as u32 {
        // The bytes were copied out of a text column.
        let value = std::str::from_utf8(table.key(g))
            .map_err(|e| polars_err!(ComputeError: "a cached text is not UTF-8: {e}"))?;
        values.push_value(value);
    }
    let keys = PrimitiveArray::<u32>::new(ArrowDataType::UInt32, keys.into(), valid.cloned());
    text_dictionary(keys, values.freeze()).map(Some)
}

/// The text `values` of a column typed once per distinct value, as the dictionary of the rows
/// whose value numbers are `keys`. The dictionary keeps only the values some row holds, never
/// a NULL (a NULL value's rows are NULL rows): the group-by's reader makes a group of every
/// entry, so a value only a rejected row held, or the NULL of an invalid ID, would come back
/// as a group of no rows.
pub fn typed_dictionary(
    values: &StringChunked,
    keys: &IdxCa,
) -> PolarsResult<DictionaryArray<u32>> {
    let values = values.rechunk();
    let values = values.downcast_as_array();
    let keys = keys.downcast_as_array().values();
    // Each value's place in the dictionary, once a row holds it.
    let mut place = vec![u32::MAX; values.len()];
    let mut held = MutableBinaryViewArray::<str>::with_capacity(values.len());
    let mut numbers = Vec::with_capacity(keys.len());
    let mut validity = (values.null_count() > 0).then(|| MutableBitmap::with_capacity(keys.len()));
    for &k in keys.iter() {
        let k = k as usize;
        let valid = values.is_valid(k);
        if let Some(v) = &mut validity {
            v.push(valid);
        }
        if !valid {
            numbers.push(0);
            continue;
        }
        if place[k] == u32::MAX {
            place[k] = held.len() as u32;
            held.push_value(values.value(k));
        }
        numbers.push(place[k]);
    }
    let keys = PrimitiveArray::<u32>::new(
        ArrowDataType::UInt32,
        numbers.into(),
        validity.map(Into::into),
    );
    text_dictionary(keys, held.freeze())
}

/// A text column as `keys` into `values`.
fn text_dictionary(
    keys: PrimitiveArray<u32>,
    values: Utf8ViewArray,
) -> PolarsResult<DictionaryArray<u32>> {
    let dtype = ArrowDataType::Dictionary(
        IntegerType::UInt32,
        Box::new(ArrowDataType::Utf8View),
        false,
    );
    DictionaryArray::try_new(dtype, keys, values.boxed())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(values: &[Option<&str>]) -> Utf8ViewArray {
        let mut m = MutableBinaryViewArray::<str>::new();
        for v in values {
            m.push(*v);
        }
        m.freeze()
    }

    /// The dictionary's values at each row, as `text` holds them.
    fn expanded(d: &DictionaryArray<u32>) -> Vec<Option<String>> {
        let values = d.values().as_any().downcast_ref::<Utf8ViewArray>().unwrap();
        (0..d.len())
            .map(|i| {
                d.keys()
                    .get(i)
                    .map(|k| values.value(k as usize).to_string())
            })
            .collect()
    }

    #[test]
    fn each_row_keeps_its_value_and_each_value_is_stored_once() {
        // Runs, repeats far apart, nulls, an empty text, long and short values, and enough
        // distinct values (300) that the table grows twice.
        let mut rows: Vec<Option<String>> = Vec::new();
        for round in 0..3 {
            for i in 0..300 {
                let v = if i % 7 == 0 {
                    format!("62170000{i:011}")
                } else {
                    format!("张{i}")
                };
                rows.push(Some(v.clone()));
                if i % 3 == round {
                    rows.push(Some(v));
                    rows.push(None);
                }
            }
            rows.push(Some(String::new()));
        }
        let refs: Vec<Option<&str>> = rows.iter().map(|r| r.as_deref()).collect();
        let text = texts(&refs);
        let d = dictionary(&text, &mut Numbering::default())
            .unwrap()
            .expect("a dictionary: each value recurs");
        assert_eq!(expanded(&d), rows);
        assert_eq!(d.values().len(), 301);
        assert_eq!(d.null_count(), text.null_count());
    }

    /// A frame written through `PageWriter` reads back as it was: constant texts (a value,
    /// NULL), text columns as dictionaries and plain, numbers, dates; two row groups.
    #[test]
    fn row_groups_read_back_as_written() {
        let n = 3000;
        let ids: Vec<String> = (0..n).map(|i| format!("62170000{:011}", i % 40)).collect();
        let distinct: Vec<Option<String>> = (0..n)
            .map(|i| (i % 5 != 0).then(|| format!("李{i}")))
            .collect();
        let mut frame = DataFrame::new(
            n,
            vec![
                Column::new("id".into(), ids),
                Column::new("distinct".into(), distinct),
                Column::new(
                    "amount".into(),
                    (0..n).map(|i| i as f64 / 4.0).collect::<Vec<_>>(),
                ),
                Column::new("row".into(), (0..n as i64).collect::<Vec<_>>()),
                Column::new_scalar(
                    "__file".into(),
                    Scalar::new(DataType::String, AnyValue::StringOwned("低保.xlsx".into())),
                    n,
                ),
                Column::new_scalar("__sheet".into(), Scalar::null(DataType::String), n),
            ],
        )
        .unwrap();
        frame
            .with_column(
                Column::new("day".into(), (0..n as i32).collect::<Vec<_>>())
                    .cast(&DataType::Date)
                    .unwrap(),
            )
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        let mut writer =
            PageWriter::new(std::fs::File::create(&path).unwrap(), frame.schema()).unwrap();
        writer.write(&frame.slice(0, 2000), &Coded::new()).unwrap();
        writer
            .write(&frame.slice(2000, 1000), &Coded::new())
            .unwrap();
        writer.finish().unwrap();
        let back = ParquetReader::new(std::fs::File::open(&path).unwrap())
            .finish()
            .unwrap();
        assert_eq!(back, frame);
    }

    /// Whether column `name` of row group `rg` of the file at `path` has a dictionary page.
    fn dictionary_page(path: &std::path::Path, rg: usize, name: &str) -> bool {
        use polars_parquet::parquet::read::{get_page_iterator, read_metadata};
        let data = std::fs::read(path).unwrap();
        let meta = read_metadata(&mut std::io::Cursor::new(&data[..])).unwrap();
        let chunk = meta.row_groups[rg]
            .columns_under_root_iter(name)
            .unwrap()
            .next()
            .unwrap();
        let mut pages = get_page_iterator(
            chunk,
            std::io::Cursor::new(polars_buffer::Buffer::from(data)),
            vec![],
            usize::MAX,
        )
        .unwrap();
        pages.read_dict().unwrap().is_some()
    }

    /// A text column the typing found mostly distinct (`None` in `Coded`) is stored plain,
    /// even where a dictionary would have been tried; a given dictionary is stored as given.
    #[test]
    fn coded_columns_are_stored_as_the_typing_decided() {
        let n = 1000;
        let repeated: Vec<String> = (0..n).map(|i| format!("62170000{:011}", i % 10)).collect();
        let frame = DataFrame::new(
            n,
            vec![
                Column::new("plain".into(), repeated.clone()),
                Column::new("tried".into(), repeated.clone()),
                Column::new("given".into(), repeated),
            ],
        )
        .unwrap();
        let values = StringChunked::from_iter_values(
            "v".into(),
            (0..10).map(|i| format!("62170000{i:011}")),
        );
        let keys = IdxCa::from_vec("k".into(), (0..n as u32).map(|i| i % 10).collect());
        let coded = Coded::from([
            ("plain".to_string(), None),
            (
                "given".to_string(),
                Some(typed_dictionary(&values, &keys).unwrap()),
            ),
        ]);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        let mut writer =
            PageWriter::new(std::fs::File::create(&path).unwrap(), frame.schema()).unwrap();
        writer.write(&frame, &coded).unwrap();
        writer.finish().unwrap();
        let back = ParquetReader::new(std::fs::File::open(&path).unwrap())
            .finish()
            .unwrap();
        assert_eq!(back, frame);
        assert!(!dictionary_page(&path, 0, "plain"));
        assert!(dictionary_page(&path, 0, "tried"));
        assert!(dictionary_page(&path, 0, "given"));
    }

    #[test]
    fn mostly_distinct_or_empty_columns_are_left_plain() {
        let distinct: Vec<String> = (0..1000).map(|i| format!("1101011990{i:08}")).collect();
        let refs: Vec<Option<&str>> = distinct.iter().map(|s| Some(s.as_str())).collect();
        assert!(
            dictionary(&texts(&refs), &mut Numbering::default())
                .unwrap()
                .is_none()
        );
        assert!(
            dictionary(&texts(&[None; 200]), &mut Numbering::default())
                .unwrap()
                .is_none()
        );
        // A quarter repeated: kept as a dictionary.
        let mut some = refs.clone();
        some.truncate(700);
        some.extend(refs[..300].iter().copied());
        assert_eq!(
            dictionary(&texts(&some), &mut Numbering::default())
                .unwrap()
                .unwrap()
                .values()
                .len(),
            700
        );
    }
}
