//! The group-by's per-group states: what each aggregate leaf keeps for a group (counts,
//! sums, minima and maxima, distinct values) and how a row updates it.

use super::*;

/// One aggregate leaf of the measures, computed per group here.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Leaf {
    /// count(*)
    Rows,
    /// count(x): non-null values.
    Count,
    /// count(DISTINCT x): distinct non-null values.
    Distinct,
    Sum,
    Min,
    Max,
}

/// The leaves' running state, one entry per group of a partition.
pub(super) enum State {
    Count(Vec<i64>),
    SumInt(Vec<i64>),
    SumFloat(Vec<f64>),
    /// Minimum or maximum of an integer-backed column (integers, dates, times, row numbers).
    Extreme {
        max: bool,
        v: Vec<Option<i64>>,
    },
    DistinctText(TextDistinct),
    DistinctInt(IntDistinct),
}

/// Distinct text values per group: the first value in place (up to 24 bytes), so comparing
/// a row's value with it is one read of the group's entry; the others in a set made only for
/// the groups that have more than one.
pub(super) struct TextDistinct {
    pub(super) first: Vec<KeyRec>,
    pub(super) long: Vec<u8>,
    pub(super) more: Vec<Option<Box<TextSet>>>,
    pub(super) n: Vec<i64>,
}

/// A group's distinct text values after its first.
pub(super) type TextSet = PlHashSet<Box<[u8]>>;

impl TextDistinct {
    pub(super) fn new() -> Self {
        TextDistinct {
            first: Vec::new(),
            long: Vec::new(),
            more: Vec::new(),
            n: Vec::new(),
        }
    }

    pub(super) fn grow(&mut self, groups: usize) {
        self.first.resize(groups, KeyRec::NONE);
        self.more.resize_with(groups, || None);
        self.n.resize(groups, 0);
    }

    pub(super) fn add(&mut self, g: usize, v: &[u8]) {
        let first = &self.first[g];
        if first.len == KeyRec::NONE.len {
            self.first[g] = KeyRec::new(v, &mut self.long);
            self.n[g] = 1;
        } else if !same_bytes(first.get(&self.long), v) {
            let set = self.more[g].get_or_insert_with(Default::default);
            if !set.contains(v) {
                set.insert(v.into());
                self.n[g] += 1;
            }
        }
    }
}

/// Distinct integer-backed values per group (numbers, dates), like `TextDistinct`: the first
/// value in place, the others in a set made only for the groups that have more than one.
pub(super) struct IntDistinct {
    pub(super) first: Vec<Option<i64>>,
    pub(super) more: Vec<Option<Box<PlHashSet<i64>>>>,
    pub(super) n: Vec<i64>,
}

impl IntDistinct {
    pub(super) fn new() -> Self {
        IntDistinct {
            first: Vec::new(),
            more: Vec::new(),
            n: Vec::new(),
        }
    }

    pub(super) fn grow(&mut self, groups: usize) {
        self.first.resize(groups, None);
        self.more.resize_with(groups, || None);
        self.n.resize(groups, 0);
    }

    pub(super) fn add(&mut self, g: usize, v: i64) {
        match self.first[g] {
            None => {
                self.first[g] = Some(v);
                self.n[g] = 1;
            }
            Some(f) if f == v => {}
            Some(_) => {
                if self.more[g].get_or_insert_with(Default::default).insert(v) {
                    self.n[g] += 1;
                }
            }
        }
    }
}

/// One batch's input column of a leaf: whether the value is there (counts), an integer
/// (sums, and minima, maxima and distinct counts of integer-backed types), a decimal or a
/// text; from an Arrow array or from the cache's Parquet (`parquet.rs`).
pub(super) enum Input<'a> {
    Valid(&'a Bitmap),
    Int(Vals<'a, i64>),
    /// Texts as the codes the cache reader numbered them with (counted distinct).
    Code(Vals<'a, u32>),
    Float(Vals<'a, f64>),
    Text(&'a <StringType as PolarsDataType>::Array),
}

/// Values with which of them are there (`None`: all).
#[derive(Clone, Copy)]
pub(super) struct Vals<'a, T> {
    pub(super) values: &'a [T],
    pub(super) valid: Option<&'a Bitmap>,
}

impl<T: Copy> Vals<'_, T> {
    #[inline]
    pub(super) fn get(&self, i: usize) -> Option<T> {
        match self.valid {
            Some(b) if !b.get_bit(i) => None,
            _ => Some(self.values[i]),
        }
    }
}

impl<'a, T: polars_arrow::types::NativeType> From<&'a polars_arrow::array::PrimitiveArray<T>>
    for Vals<'a, T>
{
    fn from(a: &'a polars_arrow::array::PrimitiveArray<T>) -> Self {
        Vals {
            values: a.values().as_slice(),
            valid: a.validity(),
        }
    }
}

impl State {
    pub(super) fn start(&self) -> State {
        match self {
            State::Count(_) => State::Count(Vec::new()),
            State::SumInt(_) => State::SumInt(Vec::new()),
            State::SumFloat(_) => State::SumFloat(Vec::new()),
            State::Extreme { max, .. } => State::Extreme {
                max: *max,
                v: Vec::new(),
            },
            State::DistinctText(_) => State::DistinctText(TextDistinct::new()),
            State::DistinctInt(_) => State::DistinctInt(IntDistinct::new()),
        }
    }

    pub(super) fn grow(&mut self, groups: usize) {
        match self {
            State::Count(v) | State::SumInt(v) => v.resize(groups, 0),
            State::SumFloat(v) => v.resize(groups, 0.0),
            State::Extreme { v, .. } => v.resize(groups, None),
            State::DistinctText(d) => d.grow(groups),
            State::DistinctInt(d) => d.grow(groups),
        }
    }

    /// Adds rows `rows` (batch row numbers; `None`: every row in order) of groups `gids`
    /// (one per row added).
    pub(super) fn update(
        &mut self,
        rows: Option<&[u32]>,
        gids: &[u32],
        input: &Input,
    ) -> PolarsResult<()> {
        match rows {
            Some(rows) => {
                assert_eq!(rows.len(), gids.len(), "a group for every row");
                self.update_rows(|k| rows[k] as usize, gids, input)
            }
            None => self.update_rows(|k| k, gids, input),
        }
    }

    /// `update`, the k-th row added being batch row `row(k)`. Each arm prefetches the entry
    /// of the row `AHEAD` rows on, as `Part::groups_of` does.
    fn update_rows(
        &mut self,
        row: impl Fn(usize) -> usize + Copy,
        gids: &[u32],
        input: &Input,
    ) -> PolarsResult<()> {
        let pairs = gids
            .iter()
            .enumerate()
            .map(move |(k, &g)| (k, (row(k), g as usize)));
        fn ahead<T>(v: &[T], gids: &[u32], k: usize) {
            if let Some(&g) = gids.get(k + AHEAD) {
                prefetch(&v[g as usize]);
            }
        }
        match (self, input) {
            (State::Count(n), Input::Valid(x)) => {
                for (k, (i, g)) in pairs {
                    ahead(n, gids, k);
                    n[g] += i64::from(x.get_bit(i));
                }
            }
            (State::SumInt(s), Input::Int(x)) => {
                for (k, (i, g)) in pairs {
                    ahead(s, gids, k);
                    if let Some(v) = x.get(i) {
                        s[g] = s[g].wrapping_add(v);
                    }
                }
            }
            (State::SumFloat(s), Input::Float(x)) => {
                for (k, (i, g)) in pairs {
                    ahead(s, gids, k);
                    if let Some(v) = x.get(i) {
                        s[g] += v;
                    }
                }
            }
            (State::Extreme { max, v }, Input::Int(x)) => {
                let max = *max;
                for (k, (i, g)) in pairs {
                    ahead(v, gids, k);
                    let Some(x) = x.get(i) else { continue };
                    v[g] = Some(match v[g] {
                        None => x,
                        Some(m) if max => m.max(x),
                        Some(m) => m.min(x),
                    });
                }
            }
            (State::DistinctText(d), Input::Text(x)) => {
                for (k, (i, g)) in pairs {
                    ahead(&d.first, gids, k);
                    if let Some(v) = x.get(i) {
                        d.add(g, v.as_bytes());
                    }
                }
            }
            (State::DistinctInt(d), Input::Int(x)) => {
                for (k, (i, g)) in pairs {
                    ahead(&d.first, gids, k);
                    if let Some(v) = x.get(i) {
                        d.add(g, v);
                    }
                }
            }
            (State::DistinctInt(d), Input::Code(x)) => {
                for (k, (i, g)) in pairs {
                    ahead(&d.first, gids, k);
                    if let Some(v) = x.get(i) {
                        d.add(g, i64::from(v));
                    }
                }
            }
            _ => {
                polars_bail!(ComputeError: "group-by leaf with the wrong input (a bug in crosscheck)")
            }
        }
        Ok(())
    }

    pub(super) fn into_series(self, name: &str, dtype: &DataType) -> PolarsResult<Series> {
        Ok(match self {
            State::Count(n) | State::SumInt(n) => Series::new(name.into(), n),
            State::SumFloat(s) => Series::new(name.into(), s),
            State::Extreme { v, .. } => Series::new(name.into(), v).cast(dtype)?,
            State::DistinctText(d) => Series::new(name.into(), d.n),
            State::DistinctInt(d) => Series::new(name.into(), d.n),
        })
    }
}

/// Groups are split by their key's hash into 2^bits partitions, each with its own table, key
/// bytes and states, aggregated by its own thread: as many as the thread budget's cores
/// (`crate::cores`, a power of two at most; 2 on the machine we measure on, Polars decoding on
/// the same cores). More partitions than threads, visited one after another to keep each
/// one's table in the CPU's cache, were slower: the rows are then read out of order
/// (benches/HISTORY.md).
pub(super) fn partition_bits() -> u32 {
    let cores = crate::cores().clamp(1, 64);
    usize::BITS - 1 - cores.leading_zeros()
}
