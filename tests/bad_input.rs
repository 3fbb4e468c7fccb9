//! Bad input, as exports and files arrive in a province: broken JSON, wrong types, impossible
//! dates, huge fields, bytes that are not UTF-8, CSV headers missing or repeated, CRLF line ends
//! and blank lines, XLSX with formulas and merged cells, unit trees with cycles or unknown parents,
//! form definitions that contradict themselves. Each is read or refused with a message that names
//! the place (file, line, row, cell, unit, column) and the fix; nothing panics; every valid record
//! beside a bad one is kept. (Upstream answers that lie: tests/source_contract.rs.)

use baocao_sync::domain::{Dossier, UnitTree};
use baocao_sync::forms::FormCatalog;
use baocao_sync::sources::export::{FromWire, Input, InputFormat, RecordBatch};

const UNIT: &str = "000.10.00.H55";

/// A dossier resolved early, as the one-stop system exports it.
fn good(key: &str) -> serde_json::Value {
    serde_json::json!({
        "MaHoSo": key, "MaDonViXuLy": UNIT, "MaLinhVuc": "G09-HT", "TenLinhVuc": "Hộ tịch",
        "KenhThucHien": "2", "TrangThaiHoSo": "10", "NgayTiepNhan": "20230701080000",
        "NgayHenTra": "20230710080000", "NgayKetThucXuLy": "20230705080000"
    })
}

fn read(bytes: Vec<u8>, format: InputFormat) -> RecordBatch<Dossier> {
    RecordBatch::read(&Input::Bytes(bytes.into()), format).expect("the export is read")
}

fn keys(batch: &RecordBatch<Dossier>) -> Vec<String> {
    batch.records.iter().map(|d| d.key().to_owned()).collect()
}

/// The finding about `record`, which must name `words`.
fn finding<'a>(
    batch: &'a RecordBatch<Dossier>,
    record: &str,
    words: &[&str],
) -> &'a baocao_sync::domain::Finding {
    let f = batch
        .findings
        .iter()
        .find(|f| f.record == record)
        .unwrap_or_else(|| panic!("a finding about {record}: {:?}", batch.findings));
    for w in words {
        assert!(f.message.contains(w), "`{w}` in: {}", f.message);
    }
    assert!(
        f.message.contains("fix the record at the source"),
        "{}",
        f.message
    );
    f
}

#[test]
fn broken_ndjson_lines_are_findings_by_line_and_every_good_line_counts() {
    let mut lines: Vec<Vec<u8>> = Vec::new();
    lines.push(good("G1").to_string().into_bytes());
    let mut number = good("N1");
    number["TrangThaiHoSo"] = 10.into(); // a number where text is usual: its digits
    lines.push(number.to_string().into_bytes());
    let mut array = good("W1");
    array["NgayTiepNhan"] = serde_json::json!(["20230701080000"]);
    lines.push(array.to_string().into_bytes());
    let mut feb30 = good("D1");
    feb30["NgayTiepNhan"] = "2023-02-30T08:00:00+07:00".into();
    lines.push(feb30.to_string().into_bytes());
    let mut digits = good("D2");
    digits["NgayHenTra"] = "99999999999999".into();
    lines.push(digits.to_string().into_bytes());
    let mut huge = good("H1");
    huge["TenTTHC"] = "x".repeat(4 << 20).into();
    lines.push(huge.to_string().into_bytes());
    lines.push(br#"{"MaHoSo": "T1", "TrangThaiHoSo": "#.to_vec());
    lines.push(b"[1, 2, 3]".to_vec());
    let mut latin1 = good("U1").to_string().into_bytes();
    latin1.extend_from_slice(b" \xff\xfe");
    lines.push(latin1);
    let mut no_key = good("");
    no_key.as_object_mut().unwrap().remove("MaHoSo");
    lines.push(no_key.to_string().into_bytes());
    lines.push(good("G2").to_string().into_bytes());
    let batch = read(lines.join(&b"\r\n"[..]), InputFormat::Ndjson);

    assert_eq!(
        keys(&batch),
        ["G1", "N1", "H1", "G2"],
        "every good record kept"
    );
    finding(&batch, "W1", &["NgayTiepNhan", "line:3"]);
    finding(&batch, "D1", &["NgayTiepNhan", "2023-02-30", "line:4"]);
    finding(&batch, "D2", &["NgayHenTra", "99999999999999", "line:5"]);
    finding(&batch, "line:7", &["not JSON"]);
    finding(&batch, "line:8", &["not an object"]);
    finding(&batch, "line:9", &["not UTF-8", "line:9"]);
    finding(&batch, "line:10", &["MaHoSo is missing"]);
    assert_eq!(batch.findings.len(), 7, "{:?}", batch.findings);
}

#[test]
fn a_json_array_cut_short_is_refused_with_the_file_named() {
    let text = format!("[{}, {{\"MaHoSo\": ", good("G1"));
    let err =
        RecordBatch::<Dossier>::read(&Input::Bytes(text.into_bytes().into()), InputFormat::Json)
            .expect_err("refused");
    let message = err.to_string();
    assert!(message.contains("the export given"), "{message}");
    assert!(message.contains("is not a JSON array"), "{message}");
}

#[test]
fn csv_rows_are_named_by_their_number_in_the_file_even_after_crlf_and_blank_lines() {
    let header = "MaHoSo,MaDonViXuLy,MaLinhVuc,KenhThucHien,TrangThaiHoSo,NgayTiepNhan,NgayHenTra,NgayKetThucXuLy";
    let row = |key: &str, received: &str| {
        format!("{key},{UNIT},G09-HT,2,10,{received},20230710080000,20230705080000")
    };
    let mut bytes = Vec::new();
    for line in [
        header.to_owned(),
        row("G1", "20230701080000"),
        String::new(),
        row("D1", "2023-02-30 08:00:00"),
        format!("{UNIT},G09-HT"),
    ] {
        bytes.extend_from_slice(line.as_bytes());
        bytes.extend_from_slice(b"\r\n");
    }
    bytes.extend_from_slice(row("U1", "20230701080000").as_bytes());
    bytes.extend_from_slice(b"\xff\r\n");
    bytes.extend_from_slice(row("G2", "20230701080000").as_bytes());
    bytes.extend_from_slice(b"\r\n");
    let batch = read(bytes, InputFormat::Csv);
    assert_eq!(keys(&batch), ["G1", "G2"]);
    // Rows as a spreadsheet numbers them: the header is row 1, the blank line row 3.
    finding(&batch, "D1", &["NgayTiepNhan", "row:4"]);
    finding(&batch, "row:5", &["2 cells where the header has 8"]);
    finding(&batch, "U1", &["not valid UTF-8", "row:6"]);
}

#[test]
fn csv_headers_missing_or_repeated_are_refused_naming_the_column() {
    let refuse = |text: &str| {
        RecordBatch::<Dossier>::read(&Input::Bytes(text.as_bytes().into()), InputFormat::Csv)
            .expect_err("refused")
            .to_string()
    };
    let message = refuse("MaDonViXuLy,TrangThaiHoSo\r\n000.10.00.H55,2\r\n");
    assert!(message.contains("there is no MaHoSo column"), "{message}");
    let message = refuse("MaHoSo,TrangThaiHoSo,MaHoSo\r\nA,2,B\r\n");
    assert!(
        message.contains("MaHoSo appears twice (columns 1 and 3)"),
        "{message}"
    );
    let message = refuse("");
    assert!(message.contains("empty"), "{message}");
}

/// A workbook as an official saves it from Excel: the header, then rows (None = an empty cell).
fn workbook(edit: impl FnOnce(&mut rust_xlsxwriter::Worksheet)) -> Vec<u8> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    let header = [
        "MaHoSo",
        "MaDonViXuLy",
        "MaLinhVuc",
        "KenhThucHien",
        "TrangThaiHoSo",
        "NgayTiepNhan",
        "NgayHenTra",
        "NgayKetThucXuLy",
    ];
    for (c, h) in header.iter().enumerate() {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    edit(sheet);
    book.save_to_buffer().unwrap()
}

fn write_row(sheet: &mut rust_xlsxwriter::Worksheet, r: u32, cells: [&str; 8]) {
    for (c, v) in cells.iter().enumerate() {
        if !v.is_empty() {
            sheet.write_string(r, c as u16, *v).unwrap();
        }
    }
}

#[test]
fn xlsx_formulas_are_read_by_their_values() {
    let bytes = workbook(|sheet| {
        write_row(
            sheet,
            1,
            [
                "F1",
                UNIT,
                "G09-HT",
                "2",
                "",
                "20230701080000",
                "20230710080000",
                "20230705080000",
            ],
        );
        // The status typed as a formula Excel saved with its value.
        sheet
            .write_formula(1, 4, rust_xlsxwriter::Formula::new("=5+5").set_result("10"))
            .unwrap();
    });
    let batch = read(bytes, InputFormat::Xlsx);
    assert_eq!(keys(&batch), ["F1"], "{:?}", batch.findings);
    assert!(batch.findings.is_empty(), "{:?}", batch.findings);
}

#[test]
fn xlsx_merged_cells_are_findings_naming_the_merge_and_the_first_row_counts() {
    let bytes = workbook(|sheet| {
        for (r, key) in [(1, "M1"), (2, "M2"), (3, "M3")] {
            write_row(
                sheet,
                r,
                [
                    key,
                    "",
                    "G09-HT",
                    "2",
                    "10",
                    "20230701080000",
                    "20230710080000",
                    "20230705080000",
                ],
            );
        }
        // One unit typed once over three rows, as a person lays out a list.
        sheet
            .merge_range(1, 1, 3, 1, UNIT, &rust_xlsxwriter::Format::new())
            .unwrap();
    });
    let batch = read(bytes, InputFormat::Xlsx);
    assert_eq!(keys(&batch), ["M1"]);
    for key in ["M2", "M3"] {
        finding(
            &batch,
            key,
            &["MaDonViXuLy", "merged cells B2:B4", "unmerge"],
        );
    }
}

#[test]
fn unit_trees_that_are_not_one_tree_are_refused_naming_the_unit() {
    let unit = |code: &str, parent: &str| {
        format!(
            "[[units]]\ncode = \"{code}\"\nname = \"{code}\"\nkind = \"department\"\nparent = \"{parent}\"\n"
        )
    };
    let root = "[[units]]\ncode = \"P\"\nname = \"Tỉnh\"\nkind = \"province\"\nparent = \"\"\n";
    let cases = [
        (
            format!("{root}{}{}", unit("A", "B"), unit("B", "A")),
            "cycle",
        ),
        (
            format!("{root}{}", unit("A", "X")),
            "names parent `X`, which is not in the file",
        ),
        (
            format!("{root}{}{}", unit("A", "P"), unit("A", "P")),
            "`A` appears more than once",
        ),
        (String::new(), "no units"),
        ("[[units]]\ncode = 7\n".to_owned(), "not valid TOML"),
    ];
    for (text, words) in cases {
        let err = UnitTree::from_toml(&text).expect_err("refused").to_string();
        assert!(err.contains(words), "`{words}` in: {err}");
    }
}

#[test]
fn form_definitions_that_contradict_themselves_are_refused_naming_file_and_column() {
    let shipped = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/forms/TT01-2020/II.06a.toml"),
    )
    .unwrap();
    let regime = "id = \"X\"\nname = \"X\"\nbasis = \"X\"\n";
    let load = |files: Vec<(&str, String)>| {
        FormCatalog::from_files(vec![(
            "X".to_owned(),
            std::iter::once(("regime.toml".to_owned(), regime.to_owned()))
                .chain(files.into_iter().map(|(n, t)| (n.to_owned(), t)))
                .collect(),
        )])
    };
    assert!(
        load(vec![("II.06a.toml", shipped.clone())]).is_ok(),
        "the shipped form loads"
    );
    let edited = |from: &str, to: &str| {
        assert!(shipped.contains(from), "II.06a.toml holds {from}");
        shipped.replacen(from, to, 1)
    };
    let cases = [
        (
            vec![("II.06a.toml", edited("number = 4\n", "number = 3\n"))],
            "column 3 is defined twice",
        ),
        (
            vec![("II.06a.toml", edited("3 = 4 + 5 + 6", "3 = 4 + 5 + 66"))],
            "names column 66, which carries no figure",
        ),
        (
            vec![
                ("II.06a.toml", shipped.clone()),
                ("copy.toml", shipped.clone()),
            ],
            "copy.toml: defines II.06a again",
        ),
        (
            vec![("II.06a.toml", edited("metric = \"", "metric = 7 #\""))],
            "X/II.06a.toml",
        ),
    ];
    for (files, words) in cases {
        let err = load(files).expect_err("refused").to_string();
        assert!(err.contains(words), "`{words}` in: {err}");
    }
}
