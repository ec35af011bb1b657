use super::*;

/// Property: any text GBK or GB18030 can hold survives encode → detect → decode unchanged,
/// with or without a declared encoding, and UTF-8 with a BOM too.
#[test]
fn encodings_round_trip() {
    let alphabet: Vec<char> = "张王李赵刘陈杨黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段漕钱汤尹黎易常武乔贺赖龚文，。、；：“”（）《》０１２３４５６７８９ＸＡａ　abcXYZ0123456789 ,.-_/'\"\t年月日元号室区路镇村组"
            .chars()
            .collect();
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let path = Path::new("prop.csv");
    for _ in 0..2000 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let len = (state % 60) as usize;
        let text: String = (0..len)
            .map(|i| alphabet[((state >> (i % 40)) as usize + i * 7919) % alphabet.len()])
            .collect();
        for (enc, declared) in [
            (encoding_rs::GBK, Encoding::Gbk),
            (encoding_rs::GB18030, Encoding::Gb18030),
        ] {
            let (bytes, _, unmappable) = enc.encode(&text);
            assert!(!unmappable);
            assert_eq!(decode(path, &bytes, declared).unwrap().0, text);
            // Detected, also when the GBK bytes happen to be valid UTF-8.
            let (auto, _) = decode(path, &bytes, Encoding::Auto).unwrap();
            assert_eq!(auto, text);
        }
        let mut bom = b"\xEF\xBB\xBF".to_vec();
        bom.extend_from_slice(text.as_bytes());
        assert_eq!(
            decode(path, &bom, Encoding::Auto).unwrap(),
            (text.clone(), "UTF-8 BOM")
        );
        // UTF-8 without a BOM stays UTF-8.
        assert_eq!(
            decode(path, text.as_bytes(), Encoding::Auto).unwrap().0,
            text
        );
    }
}

/// A CSV file's header, each row's number and cells, the malformed rows (index,
/// reason), and the encoding read.
type Read = (
    Vec<String>,
    Vec<(u64, Vec<String>)>,
    Vec<(usize, String)>,
    String,
);

/// Every batch of a CSV file read `chunk` bytes at a time, as one table.
fn csv_in_chunks(bytes: &[u8], encoding: Encoding, header_row: u64, chunk: usize) -> Result<Read> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.csv");
    std::fs::write(&path, bytes).unwrap();
    let o = ReadOptions {
        format: Format::Csv,
        encoding,
        sheet: None,
        delimiter: ',',
        header_row,
    };
    let (mut headers, mut rows, mut malformed, mut read_as) =
        (Vec::new(), Vec::new(), Vec::new(), String::new());
    for table in csv_batches(&path, &o, chunk, None)? {
        let table = table?;
        headers = table.headers.clone();
        read_as = table.encoding.unwrap().to_string();
        for m in &table.malformed {
            malformed.push((rows.len() + m.index, m.reason.clone()));
        }
        for (i, row) in table.rows.iter().enumerate() {
            let cells = table.columns.iter();
            rows.push((
                *row,
                cells.map(|c| c.get(i).display().into_owned()).collect(),
            ));
        }
    }
    Ok((headers, rows, malformed, read_as))
}

/// A CSV file gives the same records, row numbers and malformed rows whatever the size of
/// the chunks it is read in: chunks ending inside a character, a quoted field, a line
/// break (CR LF), a blank line, a title line above the header.
#[test]
fn a_csv_file_read_in_chunks_of_any_size_gives_the_same_rows() {
    let text = "养老金发放表（2024年）\r\n姓名,身份证号,备注\r\n张三,110105194912310021,\"含,逗号\"\r\n\r\n李四,110105194912310022,\"两行\n备注\"\n王五,110105194912310023\n赵六,110105194912310024,末行";
    let row = |n: u64, cells: [&str; 3]| (n, cells.map(str::to_string).to_vec());
    let expected = (
        vec!["姓名".to_string(), "身份证号".into(), "备注".into()],
        vec![
            row(3, ["张三", "110105194912310021", "含,逗号"]),
            row(5, ["李四", "110105194912310022", "两行\n备注"]),
            row(7, ["", "", ""]),
            row(8, ["赵六", "110105194912310024", "末行"]),
        ],
        vec![(
            2,
            "行字段数不符 / row has 2 fields, the header has 3".to_string(),
        )],
    );
    let (gbk, _, _) = encoding_rs::GBK.encode(text);
    let mut bom = BOM.to_vec();
    bom.extend_from_slice(text.as_bytes());
    for (bytes, encoding, read_as) in [
        (&gbk[..], Encoding::Gbk, "GBK"),
        (&gbk[..], Encoding::Auto, "GB18030"),
        (&bom[..], Encoding::Utf8, "UTF-8"),
        (&bom[..], Encoding::Auto, "UTF-8 BOM"),
    ] {
        for chunk in 3..=bytes.len() + 1 {
            let (headers, rows, malformed, encoding) =
                csv_in_chunks(bytes, encoding, 2, chunk).unwrap();
            assert_eq!(
                (headers, rows, malformed),
                expected,
                "{read_as}, chunks of {chunk}"
            );
            assert_eq!(encoding, read_as);
        }
    }
}

/// A file that is ASCII for its first 100 KiB and GBK after, and a UTF-8 file whose first
/// non-ASCII character is not Chinese and ends a chunk (alone, é reads as GB18030 茅, more
/// Chinese than UTF-8 é): each read in the encoding it is in, with `auto`, which decides by
/// what follows the first non-ASCII byte.
#[test]
fn auto_tells_the_encoding_by_what_follows_the_first_non_ascii_byte() {
    let chunk = 8 << 10;
    let mut ascii = String::from("name,note\n");
    while ascii.len() < 100 << 10 {
        ascii.push_str("ascii,0123456789\n");
    }
    let rows = |text: &str| text.lines().count() - 1;
    for tail in ["张三,王五李四\n", "café,é\n"] {
        let mut text = ascii.clone();
        // A row of padding so that the tail's first non-ASCII character ends a chunk.
        let first = tail.char_indices().find(|(_, c)| !c.is_ascii()).unwrap();
        let ends = text.len() + first.0 + first.1.len_utf8() + "x,\n".len();
        text.push_str(&format!("x,{}\n", "0".repeat(chunk - ends % chunk)));
        text.push_str(tail);
        for _ in 0..2000 {
            text.push_str("李四,养老金发放\n");
        }
        let (gbk, _, _) = encoding_rs::GBK.encode(&text);
        for (bytes, read_as) in [(&gbk[..], "GB18030"), (text.as_bytes(), "UTF-8")] {
            let (_, read, _, encoding) = csv_in_chunks(bytes, Encoding::Auto, 1, chunk).unwrap();
            assert_eq!(encoding, read_as);
            assert_eq!(read.len(), rows(&text));
            let cells = |i: usize| read[i].1.clone();
            let tail: Vec<String> = tail.trim_end().split(',').map(String::from).collect();
            assert_eq!(cells(read.len() - 2001), tail);
            assert_eq!(cells(read.len() - 1), ["李四", "养老金发放"]);
        }
    }
}

#[test]
fn a_csv_error_names_the_line_and_a_header_alone_is_a_table_of_no_rows() {
    // One record with a byte invalid in GBK: that record is rejected, the others load.
    let mut text = b"name,note\r\nc,\x81 \r\n".to_vec();
    for _ in 0..9 {
        text.extend_from_slice(b"a,b\r\n");
    }
    let (_, rows, malformed, _) = csv_in_chunks(&text, Encoding::Gbk, 1, 4).unwrap();
    assert_eq!(rows.len(), 10);
    assert_eq!(malformed.len(), 1);
    assert_eq!(malformed[0].0, 0);
    assert!(malformed[0].1.contains("not valid GBK"), "{malformed:?}");
    // More than a tenth invalid: the file is in another encoding, refused naming the first.
    let err = csv_in_chunks(
        b"name,note\r\na,b\r\nc,\x81 \r\nd,\x82 \r\n",
        Encoding::Gbk,
        1,
        4,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("c.csv") && err.contains("not valid GBK") && err.contains("line 3"),
        "{err}"
    );
    // The header itself: refused.
    let err = csv_in_chunks(b"na\x81 ,note\r\na,b\r\n", Encoding::Gbk, 1, 4)
        .unwrap_err()
        .to_string();
    assert!(err.contains("header row"), "{err}");
    let (headers, rows, _, _) = csv_in_chunks(b"name,note\n", Encoding::Utf8, 1, 4).unwrap();
    assert_eq!(
        (headers, rows.len()),
        (vec!["name".into(), "note".into()], 0)
    );
    for empty in [&b""[..], b"\r\n\n", b"title only\n"] {
        let err = csv_in_chunks(empty, Encoding::Utf8, 2, 4).unwrap_err();
        assert!(err.to_string().contains("no header row"), "{err}");
    }
}

/// Batches follow the file's row groups (rows numbered on from batch to batch): groups of
/// three rows gathered while they fit in four, never split.
#[test]
fn parquet_is_read_in_batches_whose_rows_continue() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.parquet");
    let mut df = df!("id" => (0..10).map(|i| format!("r{i}")).collect::<Vec<_>>()).unwrap();
    ParquetWriter::new(std::fs::File::create(&path).unwrap())
        .with_row_group_size(Some(3))
        .finish(&mut df)
        .unwrap();
    let tables: Vec<SourceTable> = parquet_batches(&path, 4)
        .unwrap()
        .collect::<Result<_>>()
        .unwrap();
    let rows: Vec<Vec<u64>> = tables.iter().map(|t| t.rows.clone()).collect();
    assert_eq!(rows, [vec![2, 3, 4], vec![5, 6, 7], vec![8, 9, 10, 11]]);
    let last: Vec<String> = (0..4)
        .map(|i| tables[2].columns[0].get(i).display().into_owned())
        .collect();
    assert_eq!(last, ["r6", "r7", "r8", "r9"]);
    // One chunk a batch: nothing to join before typing.
    assert!(tables.iter().all(|t| match &t.columns[0] {
        SourceColumn::Strings(ca) => ca.chunks().len() == 1,
        _ => false,
    }));
}

/// Batches of about `batch` rows that end where row groups end: small groups gathered, a
/// group of up to twice the batch whole, a larger one in equal slices; every row in
/// exactly one batch, in order.
#[test]
fn parquet_batches_end_where_row_groups_end() {
    use super::parquet::batch_slices;
    assert_eq!(
        batch_slices(&[3, 3, 10, 1, 1, 1], 4),
        [(0, 3), (3, 3), (6, 3), (9, 3), (12, 4), (16, 3)]
    );
    // A month of payments (338 thousand rows) in batches of 256 Ki: a month a batch.
    assert_eq!(
        batch_slices(&[338_000, 338_000, 12], 1 << 18),
        [(0, 338_000), (338_000, 338_000), (676_000, 12)]
    );
    assert_eq!(batch_slices(&[8, 9], 4), [(0, 8), (8, 3), (11, 3), (14, 3)]);
    // Empty groups skipped; an empty file is one batch, for its header.
    assert_eq!(batch_slices(&[0, 2, 0, 2], 4), [(0, 4)]);
    assert_eq!(batch_slices(&[], 4), [(0, 4)]);
    assert_eq!(batch_slices(&[0], 4), [(0, 4)]);
    for groups in [vec![1; 40], vec![7, 1, 12, 5, 5, 30, 2], vec![100]] {
        let slices = batch_slices(&groups, 6);
        let mut next = 0;
        for (start, len) in &slices {
            assert_eq!(*start, next, "{groups:?}: {slices:?}");
            assert!(*len > 0 && *len <= 12, "{groups:?}: {slices:?}");
            next += len;
        }
        assert_eq!(next, groups.iter().sum::<usize>());
    }
}

/// A NUL byte is found in a short text (held in its view) and in a long one (held in a
/// buffer), not in a NULL; a slice whose buffer holds a NUL only in rows outside it has none.
#[test]
fn nul_bytes_are_found_in_short_and_long_parquet_texts() {
    let ca: StringChunked = [
        Some("ok"),
        Some("王\0五"),
        None,
        Some("a long value without one"),
        Some("a long value with \0 in it"),
        Some("短"),
    ]
    .into_iter()
    .collect();
    let found = |ca: StringChunked| -> Vec<usize> {
        let n = ca.len();
        with_nul_bytes(&[SourceColumn::Strings(ca)], n)
            .iter()
            .map(|m| m.index)
            .collect()
    };
    assert_eq!(found(ca.clone()), [1, 4]);
    assert_eq!(found(ca.slice(2, 2)), Vec::<usize>::new());
    assert_eq!(found(ca.slice(3, 3)), [1]);
}

#[test]
fn bytes_invalid_in_the_declared_encoding_are_an_error_not_a_replacement() {
    let err = decode(Path::new("x.csv"), b"\xff\xfe\xfd", Encoding::Utf8)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("x.csv") && err.contains("declare the right `encoding`"),
        "{err}"
    );
    // A GBK lead byte followed by a space is not GBK.
    assert!(decode(Path::new("x.csv"), b"a\x81 ", Encoding::Gbk).is_err());
}

/// A workbook whose shared strings unpack past the limit is refused from the zip's table of
/// contents, before calamine holds them: a zip bomb in the strings, not the sheet.
#[test]
fn a_workbook_whose_shared_strings_unpack_too_large_is_refused() {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    for r in 0..200u32 {
        ws.write_string(r, 0, format!("文本 {r}")).unwrap();
    }
    let bytes = wb.save_to_buffer().unwrap();
    assert_eq!(xlsx::check_shared_strings(&bytes, 1 << 30), Ok(()));
    let err = xlsx::check_shared_strings(&bytes, 100).unwrap_err();
    assert!(err.contains("shared strings unpack to"), "{err}");
    // Not a zip at all: left to calamine's own message.
    assert_eq!(xlsx::check_shared_strings(b"not a workbook", 100), Ok(()));
}
