//! Bytes to UTF-8 text without loss: the declared encoding, or the one `auto` tells from a
//! file's first non-ASCII bytes; an invalid sequence an error, or (reading a CSV) a marker
//! that rejects its row.

use super::*;

/// The share of non-ASCII characters that are Chinese (CJK ideographs, CJK punctuation,
/// full-width forms); 1.0 for pure ASCII.
pub(super) fn chinese_share(text: &str) -> f64 {
    let (mut non_ascii, mut chinese) = (0usize, 0usize);
    for c in text.chars().filter(|c| !c.is_ascii()) {
        non_ascii += 1;
        if matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}' | '\u{3000}'..='\u{303F}' | '\u{FF00}'..='\u{FFEF}' | '\u{2018}'..='\u{201D}' | '\u{2026}')
        {
            chinese += 1;
        }
    }
    if non_ascii == 0 {
        1.0
    } else {
        chinese as f64 / non_ascii as f64
    }
}

/// Decodes bytes to UTF-8 text without loss: a declared or detected encoding that meets an
/// invalid sequence is an error, never a replacement character. The text and the encoding's
/// name as the manifest gives it.
pub fn decode(path: &Path, bytes: &[u8], encoding: Encoding) -> Result<(String, &'static str)> {
    let mut decoder = Decoder::new(path, encoding);
    let mut text = String::new();
    decoder.push(bytes, true, &mut text)?;
    Ok((text, decoder.name()))
}

pub(super) const BOM: &[u8] = b"\xEF\xBB\xBF";

/// A file's bytes to UTF-8 text as they are read, piece by piece: the declared encoding, or
/// with `auto` the one the first 64 KiB from the first non-ASCII byte on show (ASCII reads the
/// same in each, so until then nothing is decided).
pub(super) struct Decoder {
    pub(super) path: PathBuf,
    pub(super) auto: bool,
    pub(super) state: DecodeState,
    /// Line breaks decoded so far: where an invalid byte is.
    pub(super) lines: u64,
    pub(super) started: bool,
    /// Whether an invalid byte sequence becomes `INVALID` in the text (its bytes queued in
    /// `invalid`) for the row holding it to be rejected, rather than an error.
    pub(super) lenient: bool,
    pub(super) invalid: std::collections::VecDeque<Vec<u8>>,
}

/// Stands in the decoded text for a byte sequence invalid in the file's encoding: a Unicode
/// noncharacter, reserved for a program's internal use, so no extract means it.
pub(super) const INVALID: char = '\u{FDD0}';

/// How many bytes from the first non-ASCII piece on `auto` decides the encoding by.
pub(super) const DETECT_BYTES: usize = 64 << 10;

pub(super) enum DecodeState {
    /// Only ASCII so far (`auto`), or the bytes from the first piece with another byte on,
    /// held until there are enough to tell the encoding by.
    Undecided(Vec<u8>),
    /// The decoder (which keeps a character split between pieces) and the encoding's name.
    Decided(encoding_rs::Decoder, &'static str),
}

impl DecodeState {
    pub(super) fn of(encoding: &'static encoding_rs::Encoding, name: &'static str) -> DecodeState {
        DecodeState::Decided(encoding.new_decoder_without_bom_handling(), name)
    }
}

impl Decoder {
    pub(super) fn new(path: &Path, encoding: Encoding) -> Decoder {
        let state = match encoding {
            Encoding::Auto => DecodeState::Undecided(Vec::new()),
            Encoding::Utf8 => DecodeState::of(encoding_rs::UTF_8, "UTF-8"),
            Encoding::Gbk => DecodeState::of(encoding_rs::GBK, "GBK"),
            Encoding::Gb18030 => DecodeState::of(encoding_rs::GB18030, "GB18030"),
        };
        Decoder {
            path: path.to_path_buf(),
            auto: encoding == Encoding::Auto,
            state,
            lines: 0,
            started: false,
            lenient: false,
            invalid: Default::default(),
        }
    }

    /// The encoding read, as the manifest names it (UTF-8 for a file of ASCII only).
    pub(super) fn name(&self) -> &'static str {
        match &self.state {
            DecodeState::Undecided(_) => "UTF-8",
            DecodeState::Decided(_, name) => name,
        }
    }

    /// Appends the text of the file's next `bytes` to `out` (or holds them, undecided);
    /// `last` when they end the file. The first piece holds at least 3 bytes, or the file:
    /// a UTF-8 byte order mark is looked for there (and left out of the text), unless the
    /// declared encoding is GBK or GB18030.
    pub(super) fn push(&mut self, mut bytes: &[u8], last: bool, out: &mut String) -> Result<()> {
        if !std::mem::replace(&mut self.started, true)
            && let Some(body) = bytes.strip_prefix(BOM)
        {
            match &self.state {
                DecodeState::Undecided(_) => {
                    self.state = DecodeState::of(encoding_rs::UTF_8, "UTF-8 BOM");
                    bytes = body;
                }
                DecodeState::Decided(d, _) if d.encoding() == encoding_rs::UTF_8 => bytes = body,
                DecodeState::Decided(..) => {}
            }
        }
        let DecodeState::Undecided(held) = &mut self.state else {
            return self.decode(bytes, last, out);
        };
        if held.is_empty() && bytes.is_ascii() {
            let text = std::str::from_utf8(bytes).expect("ASCII is UTF-8");
            self.lines += newlines(text.as_bytes());
            out.push_str(text);
            return Ok(());
        }
        held.extend_from_slice(bytes);
        if held.len() < DETECT_BYTES && !last {
            return Ok(());
        }
        let held = std::mem::take(held);
        self.state = detect(&held, last);
        self.decode(&held, last, out)
    }

    /// `push` once the encoding is decided.
    pub(super) fn decode(&mut self, mut bytes: &[u8], last: bool, out: &mut String) -> Result<()> {
        let DecodeState::Decided(decoder, _) = &mut self.state else {
            unreachable!("decided before decoding")
        };
        let start = out.len();
        let valid = loop {
            let room = decoder
                .max_utf8_buffer_length_without_replacement(bytes.len())
                .unwrap_or(bytes.len() * 4);
            out.reserve(room);
            let (result, read) = decoder.decode_to_string_without_replacement(bytes, out, last);
            let consumed = &bytes[..read];
            bytes = &bytes[read..];
            match result {
                encoding_rs::DecoderResult::InputEmpty => break true,
                encoding_rs::DecoderResult::OutputFull => continue,
                encoding_rs::DecoderResult::Malformed(bad, after) if self.lenient => {
                    // The bad bytes end `after` bytes before what was consumed; they may have
                    // begun in the piece before (then only their part in this one is kept).
                    let end = read.saturating_sub(usize::from(after));
                    let from = end.saturating_sub(usize::from(bad));
                    self.invalid.push_back(consumed[from..end].to_vec());
                    out.push(INVALID);
                }
                encoding_rs::DecoderResult::Malformed(..) => break false,
            }
        };
        let decoded = newlines(&out.as_bytes()[start..]);
        if !valid {
            let read_as = if self.auto {
                " (the file's first non-ASCII bytes read as that)"
            } else {
                ""
            };
            return Err(Error::Input {
                path: self.path.clone(),
                message: format!(
                    "bytes that are not valid {} on line {}{read_as}; declare the right `encoding` in datasets.yaml (utf-8, gbk, gb18030)",
                    self.name(),
                    self.lines + decoded + 1
                ),
            });
        }
        self.lines += decoded;
        Ok(())
    }
}

/// The encoding of a file whose first non-ASCII bytes are in `bytes` (`last`: the file ends
/// with them; else they may end inside a character): UTF-8 when they are valid UTF-8, unless
/// that reading is mostly not Chinese and the GB18030 one more so (GBK bytes can happen to be
/// valid UTF-8: 薛 = D1 A6 reads as Ѧ); else GB18030, which decodes every GBK byte sequence
/// identically and more besides.
pub(super) fn detect(bytes: &[u8], last: bool) -> DecodeState {
    let utf8 = match std::str::from_utf8(bytes) {
        Ok(text) => Some(text),
        // Ends inside a character: the next piece holds the rest.
        Err(e) if e.error_len().is_none() && !last => {
            Some(std::str::from_utf8(&bytes[..e.valid_up_to()]).expect("valid up to"))
        }
        Err(_) => None,
    };
    let more_chinese_as_gb18030 = |text: &str| {
        let share = chinese_share(text);
        share < 0.5
            && encoding_rs::GB18030
                .decode_without_bom_handling_and_without_replacement(text.as_bytes())
                .is_some_and(|gb| chinese_share(&gb) > share)
    };
    match utf8 {
        Some(text) if !more_chinese_as_gb18030(text) => {
            DecodeState::of(encoding_rs::UTF_8, "UTF-8")
        }
        _ => DecodeState::of(encoding_rs::GB18030, "GB18030"),
    }
}

/// What `auto` would read a CSV file's first bytes as, and whether that is certain: a BOM,
/// or text whose reading is mostly Chinese (or ASCII only) leaves no doubt; a short file
/// whose few non-ASCII bytes read as little Chinese either way does.
pub fn sniff_encoding(head: &[u8]) -> (Encoding, &'static str, bool) {
    if head.starts_with(BOM) {
        return (Encoding::Utf8, "UTF-8 BOM", true);
    }
    let Some(first) = head.iter().position(|b| !b.is_ascii()) else {
        return (Encoding::Utf8, "ASCII", true);
    };
    let tail = &head[first..];
    let last = head.len() < DETECT_BYTES;
    let DecodeState::Decided(decoder, name) = detect(tail, last) else {
        unreachable!("detect decides")
    };
    let text = decoder
        .encoding()
        .decode_without_bom_handling(tail)
        .0
        .into_owned();
    let sure = chinese_share(&text) >= 0.8;
    if decoder.encoding() == encoding_rs::UTF_8 {
        (Encoding::Utf8, "UTF-8", sure)
    } else if encoding_rs::GBK
        .decode_without_bom_handling_and_without_replacement(tail)
        .is_some()
    {
        (Encoding::Gbk, "GBK", sure)
    } else {
        (Encoding::Gb18030, name, sure)
    }
}

pub(super) fn newlines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|b| **b == b'\n').count() as u64
}
