//! A cache file's row groups, encoded here rather than by Polars' writer. Polars builds a text
//! column's dictionary by hashing every value (after estimating how many are distinct); that
//! was a quarter of converting ten million payments. Extracts come sorted — by person, by
//! account — so here a value equal to the row's before takes its key without a lookup, and
//! only the others are hashed. The pages are otherwise Polars' own: the same encoders, the
//! same statistics (of the values the dictionary holds), the same file schema, so the file
//! reads back exactly as Polars would have written it.

use std::hash::BuildHasher;

use polars::prelude::*;
use polars_arrow::array::{
    Array, DictionaryArray, MutableBinaryViewArray, PrimitiveArray, Utf8ViewArray,
};
use polars_arrow::datatypes::{ArrowDataType, IntegerType};
use polars_parquet::write::{
    CompressedPage, Encoding, ParquetType, WriteOptions, array_to_columns, compress,
};

/// The compressed pages of each leaf column of `frame`, one row group. Columns one after
/// another: the writer thread runs beside the threads typing the next batch, and a parallel
/// loop here would wait on the pool those threads hold while they wait on the writer.
pub fn row_group(
    frame: &DataFrame,
    fields: &[ParquetType],
    encodings: &[Vec<Encoding>],
    options: WriteOptions,
) -> PolarsResult<Vec<Vec<CompressedPage>>> {
    let columns = frame
        .columns()
        .iter()
        .zip(fields)
        .zip(encodings)
        .map(|((column, field), encoding)| {
            let series = column.as_materialized_series().rechunk();
            let array = series.to_arrow(0, CompatLevel::newest());
            let (array, encoding) = match array.as_any().downcast_ref::<Utf8ViewArray>() {
                Some(text) => match dictionary(text) {
                    Some(dict) => (dict.boxed(), vec![Encoding::RleDictionary]),
                    None => (array, vec![Encoding::Plain]),
                },
                None => (array, encoding.clone()),
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

/// `text` as its distinct values, in order of first appearance, and each row's index among
/// them; `None` when it has no value, or when most rows hold distinct values (Polars' own
/// threshold: three in four), which plain pages store as well and read faster.
pub fn dictionary(text: &Utf8ViewArray) -> Option<DictionaryArray<u32>> {
    let n = text.len();
    let limit = if n > 128 { n * 3 / 4 } else { n };
    let valid = text.validity();
    let hasher = foldhash::fast::FixedState::with_seed(0xd1c7);
    let mut keys: Vec<u32> = Vec::with_capacity(n);
    // The row where each value first appears; the table holds the upper half of a value's
    // hash beside its index + 1 (0: an empty slot), at most half full.
    let mut firsts: Vec<u32> = Vec::new();
    let mut slots: Vec<u64> = vec![0; 1024];
    let mut before: Option<(&str, u32)> = None;
    for i in 0..n {
        if valid.is_some_and(|v| !v.get_bit(i)) {
            keys.push(0);
            continue;
        }
        let value = text.value(i);
        if let Some((b, key)) = before
            && b == value
        {
            keys.push(key);
            continue;
        }
        let hash = hasher.hash_one(value.as_bytes());
        let mask = slots.len() - 1;
        let mut at = hash as usize & mask;
        let key = loop {
            let slot = slots[at];
            if slot == 0 {
                let key = firsts.len() as u32;
                firsts.push(i as u32);
                if firsts.len() > limit {
                    return None;
                }
                slots[at] = (hash >> 32) << 32 | u64::from(key + 1);
                if firsts.len() * 2 > slots.len() {
                    slots = grown(&slots, |k| {
                        hasher.hash_one(text.value(firsts[k] as usize).as_bytes())
                    });
                }
                break key;
            }
            if slot >> 32 == hash >> 32 {
                let key = slot as u32 - 1;
                if text.value(firsts[key as usize] as usize) == value {
                    break key;
                }
            }
            at = (at + 1) & mask;
        };
        keys.push(key);
        before = Some((value, key));
    }
    if firsts.is_empty() {
        return None;
    }
    let mut values = MutableBinaryViewArray::<str>::with_capacity(firsts.len());
    for &row in &firsts {
        values.push_value(text.value(row as usize));
    }
    let values: Utf8ViewArray = values.freeze();
    let keys = PrimitiveArray::<u32>::new(ArrowDataType::UInt32, keys.into(), valid.cloned());
    DictionaryArray::try_new(
        ArrowDataType::Dictionary(
            IntegerType::UInt32,
            Box::new(ArrowDataType::Utf8View),
            false,
        ),
        keys,
        values.boxed(),
    )
    .ok()
}

/// The table twice as large, each entry placed again by its value's hash (`hash_of(index)`).
fn grown(slots: &[u64], hash_of: impl Fn(usize) -> u64) -> Vec<u64> {
    let mut out = vec![0u64; slots.len() * 2];
    let mask = out.len() - 1;
    for &slot in slots.iter().filter(|s| **s != 0) {
        let key = (slot as u32 - 1) as usize;
        let hash = hash_of(key);
        let mut at = hash as usize & mask;
        while out[at] != 0 {
            at = (at + 1) & mask;
        }
        out[at] = slot;
    }
    out
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
        let d = dictionary(&text).expect("a dictionary: each value recurs");
        assert_eq!(expanded(&d), rows);
        assert_eq!(d.values().len(), 301);
        assert_eq!(d.null_count(), text.null_count());
    }

    #[test]
    fn mostly_distinct_or_empty_columns_are_left_plain() {
        let distinct: Vec<String> = (0..1000).map(|i| format!("1101011990{i:08}")).collect();
        let refs: Vec<Option<&str>> = distinct.iter().map(|s| Some(s.as_str())).collect();
        assert!(dictionary(&texts(&refs)).is_none());
        assert!(dictionary(&texts(&[None; 200])).is_none());
        // A quarter repeated: kept as a dictionary.
        let mut some = refs.clone();
        some.truncate(700);
        some.extend(refs[..300].iter().copied());
        assert_eq!(dictionary(&texts(&some)).unwrap().values().len(), 700);
    }
}
