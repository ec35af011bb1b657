//! Interning text values: each distinct value gets a dense number (0, 1, 2, … in order of
//! first appearance) from a hash table built for the loops that look up millions of values
//! — the group-by's keys, and the text columns typed by value for the cache and its pages'
//! dictionaries.

use std::hash::BuildHasher;

use polars::prelude::{PolarsResult, polars_err};

/// `a == b` for byte strings, without a call to `memcmp` for those of 4 to 32 bytes (ID
/// numbers, bank accounts, names), which showed in the shared-bank-account rule's profile.
#[inline]
pub fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let half = |x: &[u8], at: usize| u32::from_ne_bytes(x[at..at + 4].try_into().unwrap());
    let word = |x: &[u8], at: usize| u64::from_ne_bytes(x[at..at + 8].try_into().unwrap());
    let wide = |x: &[u8], at: usize| u128::from_ne_bytes(x[at..at + 16].try_into().unwrap());
    match n {
        // The first and last 4 (8, 16) bytes, overlapping, cover the whole.
        4..=7 => half(a, 0) == half(b, 0) && half(a, n - 4) == half(b, n - 4),
        8..=16 => word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8),
        17..=32 => wide(a, 0) == wide(b, 0) && wide(a, n - 16) == wide(b, n - 16),
        _ => a == b,
    }
}

/// A stored value: up to `INLINE` bytes in place (IDs, accounts), a longer one in its owner's
/// `long` bytes with its offset in the first 8 bytes.
#[derive(Clone, Copy)]
pub struct KeyRec {
    pub len: u32,
    bytes: [u8; INLINE],
}

const INLINE: usize = 24;

impl KeyRec {
    /// No value yet (a length no value has).
    pub const NONE: KeyRec = KeyRec {
        len: u32::MAX,
        bytes: [0; INLINE],
    };

    /// Stores `key`, in place or at the end of `long`. Callers keep keys under 4 GiB: a
    /// value that long cannot come out of a text column.
    pub fn new(key: &[u8], long: &mut Vec<u8>) -> KeyRec {
        let mut rec = KeyRec {
            len: key.len() as u32,
            bytes: [0; INLINE],
        };
        if key.len() <= INLINE {
            rec.bytes[..key.len()].copy_from_slice(key);
        } else {
            rec.bytes[..8].copy_from_slice(&(long.len() as u64).to_ne_bytes());
            long.extend_from_slice(key);
        }
        rec
    }

    pub fn get<'a>(&'a self, long: &'a [u8]) -> &'a [u8] {
        let len = self.len as usize;
        if len <= INLINE {
            &self.bytes[..len]
        } else {
            let at = u64::from_ne_bytes(self.bytes[..8].try_into().unwrap()) as usize;
            &long[at..at + len]
        }
    }
}

/// How many rows ahead `Table::numbers_of` prefetches a row's table slot (and, half as far
/// ahead, the value the slot points to).
pub const AHEAD: usize = 16;

/// Asks the CPU to start loading `x` into its cache.
#[inline(always)]
pub fn prefetch<T>(x: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is only a hint: it reads nothing into the program and cannot fault.
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>((x as *const T).cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = x;
}

/// The distinct values seen so far and their numbers.
pub struct Table {
    /// Open addressing with linear probing, at most half full; a slot is 0 (empty) or the
    /// value hash's upper 32 bits beside the value's number + 1. Hand-written so the lookup
    /// loop can prefetch the slot of a row a few rows ahead (`numbers_of`): the table is what
    /// every row reads at random, and waiting on it was a quarter of the shared-bank-account
    /// rule's time.
    slots: Vec<u64>,
    keys: Vec<KeyRec>,
    long: Vec<u8>,
}

impl Default for Table {
    fn default() -> Self {
        Table {
            slots: vec![0; 1024],
            keys: Vec::new(),
            long: Vec::new(),
        }
    }
}

impl Table {
    /// How many distinct values.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Forgets every value, keeping the table's size.
    pub fn clear(&mut self) {
        self.slots.fill(0);
        self.keys.clear();
        self.long.clear();
    }

    /// Value number `g`.
    pub fn key(&self, g: u32) -> &[u8] {
        self.keys[g as usize].get(&self.long)
    }

    /// Stores `key` as the next number without looking it up (a group no lookup can reach,
    /// such as the NULL key's).
    pub fn push_unlooked(&mut self, key: &[u8]) {
        self.keys.push(KeyRec::new(key, &mut self.long));
    }

    /// A value's first slot: from the hash's upper half, which its slot keeps, so growing
    /// the table places each slot again without hashing its value again.
    fn home(&self, hash: u64) -> usize {
        (hash >> 32) as usize & (self.slots.len() - 1)
    }

    /// The number of the value of each row in `rows`, onto `out`, numbering new values;
    /// `hashes[i]` is row i's value's hash (by the one hasher every value of the table is
    /// hashed with), `key_of(i)` its bytes.
    pub fn numbers_of<'k>(
        &mut self,
        rows: &[u32],
        hashes: &[u64],
        key_of: impl Fn(usize) -> &'k [u8],
        out: &mut Vec<u32>,
    ) -> PolarsResult<()> {
        out.reserve(rows.len());
        for (k, &i) in rows.iter().enumerate() {
            if let Some(&j) = rows.get(k + AHEAD) {
                prefetch(&self.slots[self.home(hashes[j as usize])]);
            }
            if let Some(&j) = rows.get(k + AHEAD / 2) {
                let h = hashes[j as usize];
                let slot = self.slots[self.home(h)];
                if slot != 0 && slot >> 32 == h >> 32 {
                    prefetch(&self.keys[(slot as u32 - 1) as usize]);
                }
            }
            let i = i as usize;
            out.push(self.number(hashes[i], key_of(i))?);
        }
        Ok(())
    }

    #[inline(always)]
    fn number(&mut self, hash: u64, key: &[u8]) -> PolarsResult<u32> {
        let mask = self.slots.len() - 1;
        let mut at = self.home(hash);
        loop {
            let slot = self.slots[at];
            if slot == 0 {
                break;
            }
            if slot >> 32 == hash >> 32 {
                let g = slot as u32 - 1;
                if same_bytes(self.key(g), key) {
                    return Ok(g);
                }
            }
            at = (at + 1) & mask;
        }
        let g = u32::try_from(self.keys.len())
            .ok()
            .filter(|g| *g < u32::MAX)
            .ok_or_else(|| polars_err!(ComputeError: "more than 4 billion distinct values"))?;
        self.keys.push(KeyRec::new(key, &mut self.long));
        self.slots[at] = (hash >> 32) << 32 | (u64::from(g) + 1);
        if self.keys.len() * 2 > self.slots.len() {
            self.grow();
        }
        Ok(g)
    }

    /// Doubles the table, placing every value again by the hash its slot keeps.
    fn grow(&mut self) {
        // Zeroed by writing, not handed out zeroed: a fresh page the loop below reads first
        // is the kernel's shared zero page until written, and replacing it on that write
        // stops every core the process runs on (4 % of the shared-account rule, 2 M people).
        let mut slots = Vec::with_capacity(self.slots.len() * 2);
        slots.resize(self.slots.len() * 2, std::hint::black_box(0u64));
        let mask = slots.len() - 1;
        for &slot in self.slots.iter().filter(|s| **s != 0) {
            let mut at = (slot >> 32) as usize & mask;
            while slots[at] != 0 {
                at = (at + 1) & mask;
            }
            slots[at] = slot;
        }
        self.slots = slots;
    }
}

/// How many new values among `n` rows make a column "mostly distinct", not worth numbering:
/// three in four, Polars' own threshold for a dictionary (all of them, in a short column).
pub fn distinct_limit(n: usize) -> usize {
    if n > 128 { n * 3 / 4 } else { n }
}

/// The hasher of every `Table` that a `Numbering` fills.
fn hasher() -> foldhash::fast::FixedState {
    foldhash::fast::FixedState::with_seed(0xd1c7)
}

/// A `Table` with the buffers `number` fills for every call, kept from call to call: a
/// column's batches one after another reuse the same memory rather than have the allocator
/// hand back (and the kernel clear) fresh pages for each.
///
/// It also remembers which value followed which: a monthly extract lists its people in the
/// same order every month (a roster, or sorted by ID), so the value after the one just
/// numbered is most often the one that followed it the month before. Checking that guess
/// reads two arrays in order instead of hashing the value and probing the table at random
/// (`cargo bench -- number/` measures both orders). Where guesses mostly fail (names, which
/// repeat), it hashes.
#[derive(Default)]
pub struct Numbering {
    pub table: Table,
    hashes: Vec<u64>,
    rows: Vec<u32>,
    looked_up: Vec<u32>,
    /// The number of the value that followed each number the last time it was seen, `NONE`
    /// before any did.
    follows: Vec<u32>,
    /// The number of the last value numbered.
    last: Option<u32>,
    /// Whether the last slice of rows mostly followed as before (three in four).
    guess: bool,
}

/// Rows numbered together, between two checks of the limit and of how well guesses do.
const SLICE: usize = 16 * 1024;

const NONE: u32 = u32::MAX;

impl Numbering {
    /// Forgets every value, keeping the buffers.
    pub fn clear(&mut self) {
        self.table.clear();
        self.follows.clear();
        self.last = None;
        self.guess = false;
    }

    /// The number of one value, numbering it after the others when new.
    pub fn number_one(&mut self, value: &[u8]) -> PolarsResult<u32> {
        self.table.number(hasher().hash_one(value), value)
    }

    /// Numbers the values of `n` rows in the table: each row's number onto `out` (cleared
    /// first), a value the table holds keeping its number and a new one numbered after the
    /// others in order of first appearance. `value(i)` is row i's bytes, `None` for a row
    /// without a value (its number, 0, means nothing). A row equal to the row before takes
    /// that row's number without a lookup (a sorted extract repeats values in runs). False,
    /// and `out` and the table left unfinished, when more than `limit` values are new:
    /// numbering them would save nothing.
    pub fn number<'v>(
        &mut self,
        n: usize,
        value: impl Fn(usize) -> Option<&'v [u8]>,
        limit: usize,
        out: &mut Vec<u32>,
    ) -> PolarsResult<bool> {
        let hasher = hasher();
        let Numbering {
            table,
            hashes,
            rows,
            looked_up,
            follows,
            last,
            guess,
        } = self;
        // Filled a slice at a time just before its lookups, while still in the processor's
        // cache (hashing a whole batch first left the hashes out of cache: the bench
        // `number/`); written before read, so what the call before left needs no clearing.
        if hashes.len() < n {
            hashes.resize(n, 0);
        }
        // The rows to look up: those with a value unlike the row before's.
        rows.clear();
        // Each row's place in `rows` (of the row whose value it repeats), until numbered.
        out.clear();
        out.reserve(n);
        let mut before: Option<&[u8]> = None;
        for i in 0..n {
            let Some(v) = value(i) else {
                before = None;
                out.push(u32::MAX);
                continue;
            };
            if !before.is_some_and(|b| same_bytes(b, v)) {
                rows.push(i as u32);
                before = Some(v);
            }
            out.push(rows.len() as u32 - 1);
        }
        let before = table.len();
        looked_up.clear();
        let key_of = |i: usize| value(i).unwrap_or_default();
        // In slices, to give up early on a column of distinct values.
        for slice in rows.chunks(SLICE) {
            let start = looked_up.len();
            let mut followed = 0;
            if *guess {
                for &i in slice {
                    let v = key_of(i as usize);
                    let guessed = last.and_then(|l| follows.get(l as usize).copied());
                    let g = match guessed {
                        Some(g) if (g as usize) < table.len() && same_bytes(table.key(g), v) => {
                            followed += 1;
                            g
                        }
                        _ => {
                            let g = table.number(hasher.hash_one(v), v)?;
                            follows.resize(table.len(), NONE);
                            if let Some(l) = *last {
                                follows[l as usize] = g;
                            }
                            g
                        }
                    };
                    looked_up.push(g);
                    *last = Some(g);
                }
            } else {
                for &i in slice {
                    hashes[i as usize] = hasher.hash_one(key_of(i as usize));
                }
                table.numbers_of(slice, hashes, key_of, looked_up)?;
                follows.resize(table.len(), NONE);
                for &g in &looked_up[start..] {
                    if let Some(l) = *last {
                        let f = &mut follows[l as usize];
                        followed += usize::from(*f == g);
                        *f = g;
                    }
                    *last = Some(g);
                }
            }
            *guess = followed * 4 >= slice.len() * 3;
            if table.len() - before > limit {
                return Ok(false);
            }
        }
        for k in out.iter_mut() {
            *k = looked_up.get(*k as usize).copied().unwrap_or(0);
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_byte_strings_compare_as_equal_only_when_equal() {
        for n in 0..=40usize {
            let a: Vec<u8> = (0..n as u8).map(|i| b'0' + i % 10).collect();
            assert!(same_bytes(&a, &a.clone()), "{n} bytes");
            for at in 0..n {
                let mut b = a.clone();
                b[at] ^= 1;
                assert!(!same_bytes(&a, &b), "{n} bytes, differing at {at}");
            }
            assert!(!same_bytes(&a, &a[..n.saturating_sub(1)]) || n == 0);
        }
    }

    #[test]
    fn rows_are_numbered_by_first_appearance_and_runs_share_a_number() {
        let values: Vec<Option<&str>> = vec![
            Some("b"),
            Some("b"),
            None,
            Some("b"),
            Some("a"),
            Some(""),
            Some("b"),
            Some("a"),
            None,
        ];
        let mut numbering = Numbering::default();
        let mut numbers = vec![7];
        // An earlier batch numbered "a" and "c".
        let earlier = [Some("a"), Some("c")];
        let earlier = |i: usize| earlier[i].map(str::as_bytes);
        assert!(numbering.number(2, earlier, 2, &mut numbers).unwrap());
        assert_eq!(numbers, [0, 1]);
        let value = |i: usize| values[i].map(str::as_bytes);
        assert!(
            numbering
                .number(values.len(), value, values.len(), &mut numbers)
                .unwrap()
        );
        // "a" keeps its number; "b" and "" follow "c" in order of first appearance.
        assert_eq!(numbers, vec![2, 2, 0, 2, 0, 3, 2, 0, 0]);
        let table = &numbering.table;
        assert_eq!(
            (0..4).map(|g| table.key(g)).collect::<Vec<_>>(),
            [&b"a"[..], b"c", b"b", b""]
        );
        // No value is new: within a limit of none.
        assert!(
            numbering
                .number(values.len(), value, 0, &mut numbers)
                .unwrap()
        );
        // Three new values are more than a limit of two.
        let new = [Some("x"), Some("y"), Some("a"), Some("z")];
        let new = |i: usize| new[i].map(str::as_bytes);
        assert!(!numbering.number(4, new, 2, &mut numbers).unwrap());
    }

    /// Months of a roster in the same order, now and then a person's ID written short, one
    /// month shuffled, in batches that do not line up with the months: every row gets the
    /// number its value got first, whether guessed from the value before or looked up.
    #[test]
    fn values_in_a_repeated_order_keep_their_numbers() {
        let people: Vec<String> = (0..3000u64)
            .map(|i| format!("3201{:014}", i * 7919 % 99991))
            .collect();
        let mut rows: Vec<Option<&str>> = Vec::new();
        for month in 0..12usize {
            let mut order: Vec<usize> = (0..people.len()).collect();
            if month == 6 {
                order.sort_by_key(|&i| i * 7 % people.len());
            }
            for (k, &i) in order.iter().enumerate() {
                rows.push(match (k * 31 + month * 17) % 50 {
                    0 => Some(&people[i][..15]),
                    1 => None,
                    _ => Some(&people[i]),
                });
            }
        }
        let mut first: std::collections::HashMap<&str, u32> = Default::default();
        let expected: Vec<u32> = rows
            .iter()
            .map(|r| match r {
                Some(v) => {
                    let next = first.len() as u32;
                    *first.entry(v).or_insert(next)
                }
                None => 0,
            })
            .collect();
        let mut numbering = Numbering::default();
        let (mut numbers, mut out, mut guessed) = (Vec::new(), Vec::new(), 0);
        for batch in rows.chunks(2500) {
            let value = |i: usize| batch[i].map(str::as_bytes);
            assert!(
                numbering
                    .number(batch.len(), value, usize::MAX, &mut out)
                    .unwrap()
            );
            numbers.extend_from_slice(&out);
            guessed += usize::from(numbering.guess);
        }
        assert_eq!(numbers, expected);
        assert_eq!(numbering.table.len(), first.len());
        // Guessing took over after the first month and stopped for the shuffled one.
        assert!(
            (9..14).contains(&guessed),
            "{guessed} of 15 batches guessed"
        );
    }
}
