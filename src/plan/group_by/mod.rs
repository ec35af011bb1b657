//! A hand-written group-by for the commonest audit aggregate: rows grouped by one text column
//! (a bank account, an ID number, an address) with counts, distinct counts, sums, minima and
//! maxima. Polars groups text keys by hashing every row's bytes in each of the two group-bys a
//! distinct count needs (and row-encodes the pair in the first); this hashes each row's key
//! once, keeps one state per group, and skips the distinct-value set when a row repeats the
//! group's first value (a person paid every month into one account). It runs as the sink of a
//! streaming Polars query, so the scan decodes on Polars' threads while this aggregates, and
//! only the groups are held, never the rows.
//!
//! When the cache served the dataset whole and the key and arguments are stored columns, it
//! reads the cache's Parquet files itself instead (`parquet.rs`): each row group's dictionary
//! of keys is looked up once, and every row maps through its index, no text decoded per row.
//!
//! Why it exists: Polars groups a text column in two group-bys and holds the rows; this one
//! holds only the groups, and served by the cache it decodes no text per row. The figures
//! (the shared-bank-account rule on the 100x city) are in benches/HISTORY.md.

use std::hash::BuildHasher;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use polars::prelude::*;

use polars_arrow::bitmap::Bitmap;

use super::expr::{AggFunc, Expr as E};
use crate::intern::{AHEAD, KeyRec, Table, prefetch, same_bytes};

mod parquet;
mod states;

use states::*;

use parquet::Want;

/// One partition's groups; the last partition holds the NULL key's group alone.
struct Part {
    keys: Interner,
    leaves: Vec<State>,
}

impl Part {
    fn new(leaves: Vec<State>) -> Self {
        Part {
            keys: Interner::default(),
            leaves,
        }
    }

    /// Adds rows `rows` (`None`: every row of the batch, in order) of groups `gids` to the
    /// leaves' states.
    fn add(&mut self, rows: Option<&[u32]>, gids: &[u32], inputs: &[Input]) -> PolarsResult<()> {
        let groups = self.keys.table.len();
        for (state, input) in self.leaves.iter_mut().zip(inputs) {
            state.grow(groups);
            state.update(rows, gids, input)?;
        }
        Ok(())
    }

    /// The NULL key's partition: its one group, for each of `rows` rows.
    fn null_group(&mut self, rows: usize) -> Vec<u32> {
        if self.keys.table.is_empty() {
            self.keys.table.push_unlooked(b"");
        }
        vec![0; rows]
    }
}

/// Numbers for texts as the cache's pages hold them: a partition's keys, or a text leaf's
/// values counted distinct.
#[derive(Default)]
struct Interner {
    table: Table,
    /// Hashes and positions of the values `intern` looks up, kept from call to call.
    hashes: Vec<u64>,
    order: Vec<u32>,
    /// The texts looked up last, as their page held them, and their numbers: the cache's
    /// writer keeps a column's dictionary from row group to row group while its values
    /// recur, so the next group's dictionary starts with these very bytes, and only what
    /// follows them is looked up.
    last: Vec<u8>,
    last_numbers: Vec<u32>,
}

impl Interner {
    /// The number of each of `texts` (a row group's dictionary, a page's values), onto `out`,
    /// numbering new values.
    fn intern(
        &mut self,
        texts: &parquet::Texts,
        hasher: &foldhash::fast::FixedState,
        out: &mut Vec<u32>,
    ) -> PolarsResult<()> {
        let n = texts.len();
        let start = out.len();
        // Equal bytes hold equal texts in equal places: their numbers are the ones found.
        let known = self.last_numbers.len();
        let from = if known > 0 && known <= n && texts.starts_with(&self.last, known) {
            out.extend_from_slice(&self.last_numbers);
            known
        } else {
            0
        };
        self.hashes.resize(n, 0);
        for i in from..n {
            self.hashes[i] = hasher.hash_one(texts.get(i));
        }
        self.order.clear();
        self.order.extend(from as u32..n as u32);
        self.table
            .numbers_of(&self.order, &self.hashes, |i| texts.get(i), out)?;
        self.last.clear();
        self.last.extend_from_slice(texts.through(n));
        self.last_numbers.clear();
        self.last_numbers.extend_from_slice(&out[start..]);
        Ok(())
    }
}

/// Per-row buffers of a batch: the key's hash, its partition, the rows by partition.
#[derive(Default)]
struct Scratch {
    hashes: Vec<u64>,
    part_of: Vec<u8>,
    order: Vec<u32>,
}

/// The groups seen so far, in partitions: 2^bits by the key's hash, then the NULL key's.
struct Groups {
    scratch: Scratch,
    parts: Vec<Part>,
    bits: u32,
    hasher: foldhash::fast::FixedState,
}

impl Groups {
    fn new(leaves: Vec<State>) -> Self {
        Self::with_bits(leaves, partition_bits())
    }

    fn with_bits(leaves: Vec<State>, bits: u32) -> Self {
        let parts = (0..=(1usize << bits))
            .map(|_| Part::new(leaves.iter().map(State::start).collect()))
            .collect();
        Groups {
            scratch: Scratch::default(),
            parts,
            bits,
            hasher: foldhash::fast::FixedState::with_seed(0x5eed),
        }
    }

    /// The partitions by hash; the NULL key's is the one after them.
    fn partitions(&self) -> usize {
        self.parts.len() - 1
    }

    /// Aggregates one batch: column 0 is the key, column 1 + i the input of leaf i.
    fn add(&mut self, df: &DataFrame) -> PolarsResult<()> {
        let n = df.height();
        if n == 0 {
            return Ok(());
        }
        let columns: Vec<Series> = df
            .columns()
            .iter()
            .map(|c| c.as_materialized_series().rechunk())
            .collect();
        // Each leaf's input as one array; `text_key_aggregate` selected it in a type
        // `State::update` reads.
        let inputs = columns[1..]
            .iter()
            .map(|x| {
                Ok(match x.dtype() {
                    // A count's input is `is_not_null` or `true`: never NULL.
                    DataType::Boolean => Input::Valid(x.bool()?.downcast_as_array().values()),
                    DataType::Int64 => Input::Int(x.i64()?.downcast_as_array().into()),
                    DataType::Float64 => Input::Float(x.f64()?.downcast_as_array().into()),
                    DataType::String => Input::Text(x.str()?.downcast_as_array()),
                    t => polars_bail!(ComputeError: "group-by input of type {t} (a bug in crosscheck)"),
                })
            })
            .collect::<PolarsResult<Vec<_>>>()?;
        let keys = columns[0].str()?.downcast_as_array();

        // Partition the rows by their key's hash (a counting sort, stable).
        // Scratch kept from batch to batch: fresh buffers of a few MB each batch came from
        // new pages the kernel had to clear (8 % of the time).
        let Scratch {
            hashes,
            part_of,
            order,
        } = &mut self.scratch;
        hashes.clear();
        part_of.clear();
        let partitions = self.parts.len() - 1;
        let bits = self.bits;
        let mut counts = vec![0usize; partitions + 1];
        for i in 0..n {
            let p = if let Some(k) = keys.get(i) {
                let h = self.hasher.hash_one(k.as_bytes());
                hashes.push(h);
                // The hash's top bits; none with one partition (a shift by 64 overflows).
                if bits == 0 {
                    0
                } else {
                    (h >> (64 - bits)) as usize
                }
            } else {
                hashes.push(0);
                partitions
            };
            part_of.push(p as u8);
            counts[p] += 1;
        }
        let mut next = vec![0usize; partitions + 2];
        for p in 0..=partitions {
            next[p + 1] = next[p] + counts[p];
        }
        let bounds = next.clone();
        order.clear();
        order.resize(n, 0);
        for (i, &p) in part_of.iter().enumerate() {
            order[next[p as usize]] = i as u32;
            next[p as usize] += 1;
        }

        let work = |p: usize, part: &mut Part| -> PolarsResult<()> {
            let rows = &order[bounds[p]..bounds[p + 1]];
            let gids: Vec<u32> = if p == partitions {
                part.null_group(rows.len())
            } else {
                let mut gids = Vec::new();
                part.keys.table.numbers_of(
                    rows,
                    hashes,
                    |i| keys.value(i).as_bytes(),
                    &mut gids,
                )?;
                gids
            };
            part.add(Some(rows), &gids, &inputs)
        };
        // One thread per partition with rows; this thread takes the first.
        std::thread::scope(|scope| {
            let mut busy = self
                .parts
                .iter_mut()
                .enumerate()
                .filter(|(p, _)| bounds[p + 1] > bounds[*p]);
            let here = busy.next();
            let there: Vec<_> = busy
                .map(|(p, part)| scope.spawn(move || work(p, part)))
                .collect();
            let mut result = here.map_or(Ok(()), |(p, part)| work(p, part));
            for t in there {
                let r = t
                    .join()
                    .unwrap_or_else(|_| Err(polars_err!(ComputeError: "group-by thread panicked")));
                result = result.and(r);
            }
            result
        })
    }

    /// Aggregates cached Parquet files read directly (see `parquet.rs`), row group by row
    /// group: a second thread decodes the leaves' columns of the next row group while this
    /// one decodes the key's and adds the rows (two sets of column buffers pass between them).
    fn add_files(&mut self, src: &FromCache) -> PolarsResult<()> {
        let batches: Vec<(&parquet::File, usize)> = src
            .files
            .iter()
            .flat_map(|f| (0..f.row_groups()).map(move |rg| (f, rg)))
            .collect();
        let hasher = self.hasher.clone();
        // Every key's group in the first partition (the keys are interned on this thread);
        // the other half stays empty, the NULL key's partition as ever.
        let (keyed, rest) = self.parts.split_first_mut().expect("partitions");
        let null_part = rest.last_mut().expect("the NULL key's partition");
        let new_set =
            || -> Vec<parquet::Rows> { src.args.iter().map(|_| Default::default()).collect() };
        std::thread::scope(|scope| {
            let (full_tx, full) =
                std::sync::mpsc::sync_channel::<PolarsResult<Vec<parquet::Rows>>>(1);
            let (empty, empty_rx) = std::sync::mpsc::channel::<Vec<parquet::Rows>>();
            for _ in 0..2 {
                empty.send(new_set()).expect("the receiver is here");
            }
            let (batches, hasher) = (&batches, &hasher);
            let leaves = scope.spawn(move || {
                // The distinct values of a text leaf, as codes.
                let mut interners: Vec<Option<Interner>> = src
                    .args
                    .iter()
                    .map(|a| matches!(a, Some((_, Want::Codes))).then(Interner::default))
                    .collect();
                for &(file, rg) in batches {
                    // Stops when the other side has (after an error).
                    let Ok(mut columns) = empty_rx.recv() else {
                        return;
                    };
                    let r = read_leaves(file, rg, src, &mut interners, &mut columns, hasher);
                    if full_tx.send(r.map(|()| columns)).is_err() {
                        return;
                    }
                }
            });
            let (mut key, mut rows, mut gids, mut nulls) =
                (parquet::Rows::default(), Vec::new(), Vec::new(), Vec::new());
            let mut add = |file: &parquet::File, rg: usize| -> PolarsResult<()> {
                let mut intern =
                    |v: &parquet::Texts, out: &mut Vec<u32>| keyed.keys.intern(v, hasher, out);
                file.read(rg, &src.key, Want::Codes, &mut intern, &mut key)?;
                let columns = full
                    .recv()
                    .map_err(|_| polars_err!(ComputeError: "group-by thread stopped"))??;
                let valid: Vec<Option<Bitmap>> =
                    columns.iter().map(parquet::Rows::validity).collect();
                let all = Bitmap::new_with_value(true, key.len);
                let inputs: Vec<Input> = src
                    .args
                    .iter()
                    .zip(&columns)
                    .zip(&valid)
                    .map(|((arg, c), valid)| {
                        let valid = valid.as_ref();
                        match arg.as_ref().map(|(_, w)| *w) {
                            None => Input::Valid(&all),
                            Some(Want::Presence) => Input::Valid(valid.unwrap_or(&all)),
                            Some(Want::Ints) => Input::Int(Vals {
                                values: &c.ints,
                                valid,
                            }),
                            Some(Want::Codes) => Input::Code(Vals {
                                values: &c.codes,
                                valid,
                            }),
                            Some(Want::Floats) => Input::Float(Vals {
                                values: &c.floats,
                                valid,
                            }),
                        }
                    })
                    .collect();
                if !key.has_nulls() {
                    // No NULL key: every row in order, its group the key's code.
                    keyed.add(None, &key.codes, &inputs)?;
                } else {
                    rows.clear();
                    gids.clear();
                    nulls.clear();
                    for (i, &g) in key.codes.iter().enumerate() {
                        if g == u32::MAX {
                            nulls.push(i as u32);
                        } else {
                            rows.push(i as u32);
                            gids.push(g);
                        }
                    }
                    keyed.add(Some(&rows), &gids, &inputs)?;
                    if !nulls.is_empty() {
                        let zeros = null_part.null_group(nulls.len());
                        null_part.add(Some(&nulls), &zeros, &inputs)?;
                    }
                }
                drop(inputs);
                // The other thread may have stopped: then this is the last batch.
                let _ = empty.send(columns);
                Ok(())
            };
            let result = batches.iter().try_for_each(|&(file, rg)| add(file, rg));
            // Unblocks the other thread if this one stopped early.
            drop(full);
            drop(empty);
            leaves
                .join()
                .map_err(|_| polars_err!(ComputeError: "group-by thread panicked"))?;
            result
        })
    }

    /// The groups as a frame: the key column, then one column per leaf.
    fn finish(self, key: &str, dtypes: &[DataType]) -> PolarsResult<DataFrame> {
        let mut keys: Vec<Option<&str>> = Vec::new();
        let partitions = self.partitions();
        for (p, part) in self.parts.iter().enumerate() {
            for g in 0..part.keys.table.len() as u32 {
                keys.push(if p == partitions {
                    None
                } else {
                    // The bytes came from a text column.
                    Some(
                        std::str::from_utf8(part.keys.table.key(g)).map_err(
                            |e| polars_err!(ComputeError: "group key is not UTF-8: {e}"),
                        )?,
                    )
                });
            }
        }
        let height = keys.len();
        let keys: StringChunked = keys.into_iter().collect();
        let mut columns = vec![keys.with_name(key.into()).into_series().into_column()];
        let leaves = dtypes.len();
        let mut per_leaf: Vec<Vec<Series>> = (0..leaves).map(|_| Vec::new()).collect();
        for part in self.parts {
            for (i, (state, dtype)) in part.leaves.into_iter().zip(dtypes).enumerate() {
                per_leaf[i].push(state.into_series(&leaf_column(i), dtype)?);
            }
        }
        for parts in per_leaf {
            let mut parts = parts.into_iter();
            let mut s = parts.next().expect("a state per partition");
            for part in parts {
                s.append(&part)?;
            }
            columns.push(s.into_column());
        }
        DataFrame::new(height, columns)
    }
}

/// The leaves' columns of row group `rg` of `file`, texts as codes of their `interners`.
fn read_leaves(
    file: &parquet::File,
    rg: usize,
    src: &FromCache,
    interners: &mut [Option<Interner>],
    columns: &mut [parquet::Rows],
    hasher: &foldhash::fast::FixedState,
) -> PolarsResult<()> {
    for ((arg, out), interner) in src.args.iter().zip(columns).zip(interners) {
        let Some((name, want)) = arg else { continue };
        let mut intern = |v: &parquet::Texts, codes: &mut Vec<u32>| match interner.as_mut() {
            Some(t) => t.intern(v, hasher, codes),
            None => polars_bail!(ComputeError: "no codes for a text leaf (a bug in crosscheck)"),
        };
        file.read(rg, name, *want, &mut intern, out)?;
    }
    Ok(())
}

fn leaf_column(i: usize) -> String {
    format!("__leaf{i}")
}

fn input_column(i: usize) -> String {
    format!("__in{i}")
}

/// The aggregate leaves of some measures, each with its input (none for count(*)).
type Leaves = Vec<(Leaf, Option<E>)>;

/// The leaves of the measures, and the measures rewritten over the leaf columns; `None` when
/// a measure uses an aggregate this group-by does not compute.
fn leaves(measures: &[(String, E)]) -> Option<(Leaves, Vec<(String, E)>)> {
    let mut leaves: Leaves = Vec::new();
    let mut supported = true;
    let rewritten = measures
        .iter()
        .map(|(name, m)| {
            let m = m.map_nodes(&mut |e| {
                let leaf = match e {
                    E::Agg(AggFunc::Count, None) => (Leaf::Rows, None),
                    E::Agg(AggFunc::Count, Some(x)) => (Leaf::Count, Some((**x).clone())),
                    E::Agg(AggFunc::CountDistinct, Some(x)) => {
                        (Leaf::Distinct, Some((**x).clone()))
                    }
                    E::Agg(AggFunc::Sum, Some(x)) => (Leaf::Sum, Some((**x).clone())),
                    E::Agg(AggFunc::Min, Some(x)) => (Leaf::Min, Some((**x).clone())),
                    E::Agg(AggFunc::Max, Some(x)) => (Leaf::Max, Some((**x).clone())),
                    E::Agg(..) | E::FirstBy(..) => {
                        supported = false;
                        return Some(e.clone());
                    }
                    _ => return None,
                };
                let i = leaves.iter().position(|l| *l == leaf).unwrap_or_else(|| {
                    leaves.push(leaf);
                    leaves.len() - 1
                });
                Some(E::Col(leaf_column(i)))
            });
            (name.clone(), m)
        })
        .collect();
    supported.then_some((leaves, rewritten))
}

/// The state a leaf starts from and the input it reads, given the type of its argument
/// `x` (none for count(*)), in a type `State::update` reads: integer-backed types as their
/// integers, counts as whether the value is there. `None` for a type it does not handle
/// (Polars then runs the whole aggregate). Last, what the leaf reads of its column when the
/// cache's files are read directly (`None`: they are not, for this type).
fn start(leaf: Leaf, x: Expr, t: &DataType) -> Option<(State, Expr, Option<Want>)> {
    let integer_backed =
        t.is_integer() || matches!(t, DataType::Date | DataType::Datetime(..) | DataType::Time);
    // Stored as INT32 or INT64 with the value the integer cast gives (not unsigned, not time
    // of day, which Parquet stores in another unit).
    let stored_as_is = matches!(
        t,
        DataType::Int32 | DataType::Int64 | DataType::Date | DataType::Datetime(..)
    );
    let ints = stored_as_is.then_some(Want::Ints);
    let integers = || x.clone().to_physical().cast(DataType::Int64);
    Some(match (leaf, t) {
        (Leaf::Rows, _) => (State::Count(Vec::new()), lit(true), Some(Want::Presence)),
        (Leaf::Count, _) => (
            State::Count(Vec::new()),
            x.is_not_null(),
            Some(Want::Presence),
        ),
        (Leaf::Sum, DataType::Int64) => (State::SumInt(Vec::new()), x, ints),
        (Leaf::Sum, DataType::Float64) => (State::SumFloat(Vec::new()), x, Some(Want::Floats)),
        (Leaf::Min | Leaf::Max, _) if integer_backed => {
            let max = leaf == Leaf::Max;
            (State::Extreme { max, v: Vec::new() }, integers(), ints)
        }
        (Leaf::Distinct, DataType::String) => (
            State::DistinctText(TextDistinct::new()),
            x,
            Some(Want::Codes),
        ),
        (Leaf::Distinct, _) if integer_backed => {
            (State::DistinctInt(IntDistinct::new()), integers(), ints)
        }
        _ => return None,
    })
}

/// Where an aggregate reads when the cache's files are read directly: the files, the key's
/// column, and each leaf's column with what is read of it (`None`: count(*)).
struct FromCache {
    files: Vec<parquet::File>,
    key: String,
    args: Vec<Option<(String, Want)>>,
}

/// An aggregate this group-by takes, checked against the input's schema and not yet run.
pub struct TextKeyAggregate {
    /// The key, then each leaf's input.
    narrowed: LazyFrame,
    key: String,
    states: Vec<State>,
    /// Each leaf's argument's type (a minimum of dates is cast back to a date).
    dtypes: Vec<DataType>,
    /// The measures over the leaf columns, lowered.
    out: Vec<Expr>,
    /// Each leaf's argument (none for count(*)), and what it reads of a cached file's column
    /// (`None`: the files cannot be read directly).
    args: Vec<(Option<E>, Option<Want>)>,
    cache: Option<FromCache>,
}

/// Whether `input` grouped by `keys` with `measures` runs here: one key of type text and only
/// count, count(DISTINCT), sum, min and max over the types handled above. `None` lets
/// Polars do it. Nothing is computed.
pub fn text_key_aggregate(
    input: LazyFrame,
    keys: &[(String, Expr)],
    measures: &[(String, E)],
    lower_expr: impl Fn(&E) -> Expr,
) -> PolarsResult<Option<TextKeyAggregate>> {
    let [(key, key_expr)] = keys else {
        return Ok(None);
    };
    let Some((leaves, rewritten)) = leaves(measures) else {
        return Ok(None);
    };
    // The arguments as written, for their types (count(*) has none: the key stands in).
    let mut select = vec![key_expr.clone().alias(key.as_str())];
    for (i, (_, x)) in leaves.iter().enumerate() {
        let x = x.as_ref().map_or_else(|| col(key.as_str()), &lower_expr);
        select.push(x.alias(input_column(i)));
    }
    let mut raw = input.select(select);
    let schema = raw.collect_schema()?;
    if schema.get(key.as_str()) != Some(&DataType::String) {
        return Ok(None);
    }
    let mut states = Vec::with_capacity(leaves.len());
    let mut args = Vec::with_capacity(leaves.len());
    let mut dtypes = Vec::with_capacity(leaves.len());
    let mut inputs = vec![col(key.as_str())];
    for (i, (leaf, _)) in leaves.iter().enumerate() {
        let name = input_column(i);
        let t = schema.get(name.as_str()).ok_or_else(
            || polars_err!(ComputeError: "group-by input missing (a bug in crosscheck)"),
        )?;
        let Some((state, x, want)) = start(*leaf, col(name.as_str()), t) else {
            return Ok(None);
        };
        states.push(state);
        args.push((leaves[i].1.clone(), want));
        dtypes.push(t.clone());
        inputs.push(x.alias(name.as_str()));
    }
    // The conversions run in the scan, on Polars' threads, not in the serial sink.
    let narrowed = raw.select(inputs);
    let mut out = vec![col(key.as_str())];
    out.extend(
        rewritten
            .iter()
            .map(|(n, e)| lower_expr(e).alias(n.as_str())),
    );
    Ok(Some(TextKeyAggregate {
        narrowed,
        key: key.clone(),
        states,
        dtypes,
        out,
        args,
        cache: None,
    }))
}

impl TextKeyAggregate {
    /// Reads the key and the leaves' arguments straight from the cache's Parquet `files`
    /// (see `parquet.rs`) when `key` and each argument are stored columns (`stored` names
    /// the column an argument is, if any) of a type read there, in every file; otherwise the
    /// aggregate reads its input through Polars as before. `unreadable`: columns whose stored
    /// values are not what the rules see.
    pub fn reading_cache(
        mut self,
        files: &[PathBuf],
        key: Option<String>,
        stored: impl Fn(&E) -> Option<String>,
        unreadable: &[String],
    ) -> PolarsResult<Self> {
        let Some(key) = key else { return Ok(self) };
        let mut args = Vec::with_capacity(self.args.len());
        for (arg, want) in &self.args {
            args.push(match (arg, want) {
                (None, _) => None,
                (Some(x), Some(want)) => match stored(x) {
                    Some(c) => Some((c, *want)),
                    None => return Ok(self),
                },
                (Some(_), None) => return Ok(self),
            });
        }
        let mut columns: Vec<(&str, Want)> = vec![(key.as_str(), Want::Codes)];
        columns.extend(args.iter().flatten().map(|(c, w)| (c.as_str(), *w)));
        if files.is_empty()
            || columns
                .iter()
                .any(|(c, _)| unreadable.iter().any(|u| u == c))
        {
            return Ok(self);
        }
        // Opened once: the footers read here serve the run.
        let files = files
            .iter()
            .map(|f| parquet::File::open(f))
            .collect::<PolarsResult<Vec<_>>>()?;
        if !files.iter().all(|f| f.has(&columns)) {
            return Ok(self);
        }
        // Distinct texts are counted as their codes.
        for s in &mut self.states {
            if let State::DistinctText(_) = s {
                *s = State::DistinctInt(IntDistinct::new());
            }
        }
        self.cache = Some(FromCache { files, key, args });
        Ok(self)
    }

    #[cfg(test)]
    fn reads_cache(&self) -> bool {
        self.cache.is_some()
    }

    /// Runs the aggregate; returns the groups (key column, then the measures) as a frame.
    pub fn run(self) -> PolarsResult<LazyFrame> {
        if let Some(src) = &self.cache {
            let mut groups = Groups::new(self.states);
            groups.add_files(src)?;
            let frame = groups.finish(&self.key, &self.dtypes)?;
            return Ok(frame.lazy().select(self.out));
        }
        let groups = Arc::new(Mutex::new(Groups::new(self.states)));
        let sink = groups.clone();
        self.narrowed
            .sink_batches(
                PlanCallback::new(move |df: DataFrame| {
                    let mut g = sink
                        .lock()
                        .map_err(|_| polars_err!(ComputeError: "group-by state poisoned"))?;
                    g.add(&df)?;
                    // false: keep the batches coming.
                    Ok(false)
                }),
                false,
                None,
            )?
            .collect_with_engine(Engine::Streaming)?;
        let groups = Arc::try_unwrap(groups)
            .map_err(|_| polars_err!(ComputeError: "group-by still shared (a bug in crosscheck)"))?
            .into_inner()
            .map_err(|_| polars_err!(ComputeError: "group-by state poisoned"))?;
        let frame = groups.finish(&self.key, &self.dtypes)?;
        Ok(frame.lazy().select(self.out))
    }
}

#[cfg(test)]
mod tests;
