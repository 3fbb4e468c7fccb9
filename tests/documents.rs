//! The files officials print and sign, rendered as they would be: each form's workbook and the
//! II.01-ĐC document are converted to PDF by LibreOffice headless (one user profile per
//! conversion) and the pages are read back with poppler's pdftotext. What is checked is what an
//! official sees on paper: a unit's II.06a on one page, every header label of config/forms, the
//! header again on the next page of a long table, page numbers, the provisional note kept off the
//! form, rates with one decimal, a Decree 30 document with no heading stranded at a page bottom.
//!
//! LibreOffice, fonts-liberation2 and poppler-utils are installed by `.ci/run` where missing.
//! The first page of each PDF is kept as a PNG in target/document-pages for a look by eye.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

fn need(tool: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "`{tool}` is needed to render documents: .ci/run installs it \
         (apt-get install libreoffice-calc libreoffice-writer fonts-liberation2 poppler-utils)"
    );
}

/// Converts `file` to PDF beside it, with a user profile of its own. LibreOffice freshly
/// installed has been seen to abort on its first start (CI on a new machine: "Unspecified
/// Application Error", signal 6, while writing its first profile); a second start with another
/// fresh profile is given, so a file it cannot read still fails, twice.
fn to_pdf(file: &Path) -> PathBuf {
    need("soffice");
    let dir = file.parent().unwrap();
    let pdf = file.with_extension("pdf");
    let convert = || {
        let profile = tempfile::tempdir().unwrap();
        Command::new("soffice")
            .arg(format!(
                "-env:UserInstallation=file://{}",
                profile.path().display()
            ))
            .args([
                "--headless",
                "--norestore",
                "--convert-to",
                "pdf",
                "--outdir",
            ])
            .arg(dir)
            .arg(file)
            .output()
            .expect("soffice runs")
    };
    let mut out = convert();
    if !(out.status.success() && pdf.exists()) {
        eprintln!(
            "LibreOffice failed to convert {} once ({}); trying again with a fresh profile",
            file.display(),
            out.status
        );
        out = convert();
    }
    assert!(
        out.status.success() && pdf.exists(),
        "LibreOffice could not convert {}: {}{}",
        file.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    keep_first_page(&pdf);
    pdf
}

/// The first page as a PNG under target/document-pages, to look at.
fn keep_first_page(pdf: &Path) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/document-pages");
    std::fs::create_dir_all(&dir).unwrap();
    let stem = pdf.file_stem().unwrap().to_string_lossy().into_owned();
    let _ = Command::new("pdftoppm")
        .args(["-r", "60", "-png", "-f", "1", "-l", "2"])
        .arg(pdf)
        .arg(dir.join(stem))
        .status();
}

/// The text of each page, in the order the PDF draws it (a cell's lines stay together).
fn pages(pdf: &Path) -> Vec<String> {
    need("pdftotext");
    let info = Command::new("pdfinfo").arg(pdf).output().unwrap();
    let info = String::from_utf8_lossy(&info.stdout);
    let count: usize = info
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("pdfinfo gives the page count");
    (1..=count)
        .map(|p| {
            let out = Command::new("pdftotext")
                .args(["-raw", "-f", &p.to_string(), "-l", &p.to_string()])
                .arg(pdf)
                .arg("-")
                .output()
                .unwrap();
            String::from_utf8(out.stdout).unwrap()
        })
        .collect()
}

/// Text with every white space removed: wrapped cells and merged lines compare equal.
fn squash(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

/// Every header label (columns and groups) of a form file in config/forms, read as TOML.
fn header_labels(regime: &str, form: &str) -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("config/forms")
        .join(regime)
        .join(format!("{form}.toml"));
    let file: toml::Value = toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let mut labels = Vec::new();
    for table in ["columns", "groups"] {
        for entry in file
            .get(table)
            .and_then(|t| t.as_array())
            .into_iter()
            .flatten()
        {
            labels.push(entry["header"].as_str().unwrap().to_owned());
            // A group's printed note ("(Bao gồm cả hồ sơ chờ bổ sung và trả lại/xin rút)").
            if let Some(note) = entry.get("note").and_then(|n| n.as_str()) {
                labels.push(note.to_owned());
            }
        }
    }
    assert!(!labels.is_empty(), "{form} has header labels");
    labels
}

fn assert_labels(regime: &str, form: &str, text: &str) {
    let text = squash(text);
    for label in header_labels(regime, form) {
        assert!(
            text.contains(&squash(&label)),
            "{form}: the header label `{label}` is not on the page"
        );
    }
}

/// `report` over the golden dossiers, or over the ratings-and-feedback fixture.
fn report(golden: bool) -> Command {
    let mut cmd = bin();
    cmd.arg("report");
    if golden {
        cmd.args(["--input", fixture("dossiers.ndjson").to_str().unwrap()])
            .args(["--units", fixture("units.toml").to_str().unwrap()]);
    } else {
        let small = |n: &str| own_fixture("hl-pakn-small", n);
        cmd.args(["--input", &small("dossiers.ndjson")])
            .args(["--ratings", &small("ratings.ndjson")])
            .args(["--feedback", &small("feedback.ndjson")])
            .args(["--units", &small("units.toml")]);
    }
    cmd
}

/// Writes a form of the golden fixture (II.06a/II.06) or of the ratings-and-feedback fixture.
fn workbook(dir: &Path, form: &str) -> PathBuf {
    let out = dir.join(format!("{form}.xlsx"));
    let mut cmd = report(form.starts_with("II.06"));
    cmd.args([
        "--period", "2023-Q3", "--form", form, "--format", "xlsx", "--out",
    ])
    .arg(&out);
    output_with(&mut cmd, &[0]);
    out
}

/// Pages of a form's table: they carry the numbered header row (repeated on every page).
fn table_pages(pages: &[String]) -> Vec<&String> {
    pages
        .iter()
        .filter(|p| squash(p).contains("(1)(2)(3)"))
        .collect()
}

#[test]
fn each_unit_of_the_golden_ii06a_prints_on_one_page_with_its_whole_header() {
    let dir = tempfile::tempdir().unwrap();
    let xlsx = workbook(dir.path(), "II.06a");
    let pages = pages(&to_pdf(&xlsx));
    let tables = table_pages(&pages);
    // The fixture's expected II.06a has 12 units; each sheet starts with its unit code.
    assert_eq!(tables.len(), 12, "one page per unit, no continuation pages");
    for page in &tables {
        let text = squash(page);
        assert!(text.contains("Mãđơnvị:"), "each page is a unit's first");
        assert!(
            text.contains("THỦTRƯỞNGCƠQUAN,ĐƠNVỊ"),
            "signed on the same page"
        );
        assert!(text.contains("…,ngày…tháng…năm…"), "with the date line");
        assert!(page.contains("Trang "), "page number");
        assert_labels("TT01-2020", "II.06a", page);
    }
    // The figures are there as numbers, one per column (unit 000.00.30.H55's total, from the
    // fixture's expected file).
    assert!(
        pages
            .iter()
            .any(|p| p.contains("Tổng số 22 8 10 4 13 6 2 5 9 5 4"))
    );
    assert!(
        pages.iter().all(|p| p.contains("Trang ")),
        "every page is numbered"
    );

    // Sheet names as the file holds them: the index first, unique, at most 31 characters.
    use calamine::{Reader, Xlsx, open_workbook};
    let book: Xlsx<_> = open_workbook(&xlsx).unwrap();
    let names = book.sheet_names();
    assert_eq!(names.first().map(String::as_str), Some("Mục lục"));
    assert_eq!(names.last().map(String::as_str), Some("Phát hiện dữ liệu"));
    let unique: std::collections::HashSet<&String> = names.iter().collect();
    assert_eq!(unique.len(), names.len());
    assert!(names.iter().all(|n| n.chars().count() <= 31), "{names:?}");
    // Highest level first, within a level by kind as domain.md lists kinds: the province, the
    // departments, the districts, then the communes.
    let at = |prefix: &str| names.iter().position(|n| n.ends_with(prefix)).unwrap();
    assert!(
        at("Sở 1") < at("Sở 2") && at("Sở 2") < at("UBND huyện 1"),
        "{names:?}"
    );
    assert!(at("UBND huyện 2") < at("UBND xã 1"), "{names:?}");
}

#[test]
fn a_long_ii06_repeats_its_header_on_every_page() {
    let dir = tempfile::tempdir().unwrap();
    let pages = pages(&to_pdf(&workbook(dir.path(), "II.06")));
    let tables = table_pages(&pages);
    let continued: Vec<&&String> = tables
        .iter()
        .filter(|p| !squash(p).contains("Mãđơnvị:"))
        .collect();
    assert!(
        !continued.is_empty(),
        "the province's II.06 (three sections of eight fields) runs onto a second page"
    );
    for page in continued {
        assert_labels("TT01-2020", "II.06", page);
        assert!(page.contains("Trang "));
    }
    for page in &tables {
        assert_labels("TT01-2020", "II.06", page);
    }
}

#[test]
fn hl_prints_its_header_rates_with_one_decimal_and_why_coverage_passes_100() {
    let dir = tempfile::tempdir().unwrap();
    let pages = pages(&to_pdf(&workbook(dir.path(), "HL")));
    let tables = table_pages(&pages);
    assert_eq!(tables.len(), 1, "the summary fits one page");
    let text = tables[0];
    assert_labels("TT01-2020", "HL", text);
    assert!(text.contains("THỦ TRƯỞNG CƠ QUAN, ĐƠN VỊ"));
    // Worked out in tests/fixtures/hl-pakn-small/README.md: 2 of 4 satisfied is 50.0, 1 of 1
    // 100.0; H1's subtree has 3 ratings for 2 resolved dossiers: 150.0, with the reason.
    assert!(text.contains("50.0") && text.contains("100.0") && text.contains("150.0"));
    assert!(squash(text).contains(&squash("Trên 100%")));
    assert!(!text.contains("Tablet"), "Vietnamese wording");
    // Numbering runs on from the unit rows into the subtree rows.
    let numbers: Vec<u32> = text
        .lines()
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .filter(|n| *n < 100)
        .collect();
    let mut sorted = numbers.clone();
    sorted.dedup();
    assert!(sorted.windows(2).all(|w| w[1] == w[0] + 1), "{numbers:?}");
}

#[test]
fn ii05a_and_ii05_print_their_header_and_unit_rows_without_the_provisional_note() {
    let dir = tempfile::tempdir().unwrap();
    for form in ["II.05a", "II.05"] {
        let xlsx = workbook(dir.path(), form);
        let pages = pages(&to_pdf(&xlsx));
        let all = pages.concat();
        let tables = table_pages(&pages);
        assert!(!tables.is_empty());
        for page in tables {
            assert_labels("TT01-2020", form, page);
        }
        assert!(
            !all.contains("tạm thời"),
            "{form}: the provisional note is not printed"
        );
        // … but it is in the workbook, beside the form, for whoever opens it.
        use calamine::{Reader, Xlsx, open_workbook};
        let mut book: Xlsx<_> = open_workbook(&xlsx).unwrap();
        let first = book.sheet_names()[1].clone();
        let cells: Vec<String> = book
            .worksheet_range(&first)
            .unwrap()
            .cells()
            .map(|(_, _, v)| v.to_string())
            .collect();
        assert!(cells.iter().any(|c| c.contains("mẫu tạm thời")), "{form}");
        // Printed in numeric order, (8) (9) (10), although the definition lists (8) (10) (9).
        assert!(squash(&all).contains("(7)(8)(9)(10)"), "{form}");
        assert!(!squash(&all).contains("(8)(10)(9)"), "{form}");
    }
    // II.05 lists the units of each section under its subtotal (fixture README: S1 has 3).
    let pages = pages(&dir.path().join("II.05.pdf"));
    assert!(pages.concat().contains("Sở Tư pháp 3 1 2"));
}

#[test]
fn the_ii01_dc_prints_as_a_decree_30_report_with_no_stranded_heading() {
    let dir = tempfile::tempdir().unwrap();
    let docx = dir.path().join("X1.docx");
    let small = |n: &str| own_fixture("hl-pakn-small", n);
    let mut cmd = bin();
    cmd.args(["report", "--input", &small("dossiers.ndjson")])
        .args(["--ratings", &small("ratings.ndjson")])
        .args(["--feedback", &small("feedback.ndjson")])
        .args(["--units", &small("units.toml")])
        .args([
            "--period", "2023-Q3", "--form", "II.01-DC", "--format", "docx",
        ])
        .args(["--unit", "X1", "--out"])
        .arg(&docx);
    output_with(&mut cmd, &[0]);
    let pdf = to_pdf(&docx);
    let pages = pages(&pdf);
    assert!(pages.len() >= 2);
    let first = squash(&pages[0]);
    for part in [
        "CỘNGHÒAXÃHỘICHỦNGHĨAVIỆTNAM",
        "Độclập-Tựdo-Hạnhphúc",
        "Số:…/BC-UBND",
        "BÁOCÁO",
        "Kínhgửi:UBNDhuyệnBìnhSơn.",
        // The issuer by the unit tree's official_name (fixture units.toml), in capitals.
        "ỦYBANNHÂNDÂNXÃBÌNHTHẠNH",
    ] {
        assert!(first.contains(part), "page 1 lacks `{part}`");
    }
    assert!(
        !first.contains("UBNDXÃ"),
        "the short name is not the issuer"
    );
    let all = squash(&pages.concat());
    assert!(all.contains("Nơinhận:") && all.contains("CHỦTỊCH"));
    // The signature block is never alone: the last section's text is on its page.
    let signed = pages
        .iter()
        .find(|p| squash(p).contains("Nơinhận:"))
        .unwrap();
    assert!(
        squash(signed).contains(&squash("Đề xuất, kiến nghị với cấp có thẩm quyền")),
        "{signed}"
    );
    assert!(
        all.contains("Phụlục"),
        "the appendix the text points to is attached"
    );
    // Page numbers from the second page.
    for (i, page) in pages.iter().enumerate().skip(1) {
        let number = (i + 1).to_string();
        assert!(
            page.lines().any(|l| l.trim() == number),
            "page {number} is numbered"
        );
    }
    // No page ends on a heading: it is kept with what follows.
    let headings = ["I.", "II.", "III.", "IV.", "V.", "VI."];
    for (i, page) in pages.iter().enumerate() {
        let last = page
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        assert!(
            !headings
                .iter()
                .any(|h| last.trim_start().starts_with(&format!("{h} "))),
            "page {} ends on the heading `{last}`",
            i + 1
        );
    }
    // Times New Roman, or its metric twin where Times is not installed.
    let fonts = Command::new("pdffonts").arg(&pdf).output().unwrap();
    let fonts = String::from_utf8_lossy(&fonts.stdout);
    assert!(
        fonts.contains("TimesNewRoman") || fonts.contains("LiberationSerif"),
        "{fonts}"
    );
}

/// Column letters and row number of a cell reference like `D12` (0-based).
fn cell_ref(r: &str) -> (u32, u32) {
    let letters: String = r.chars().take_while(|c| c.is_ascii_alphabetic()).collect();
    let col = letters
        .chars()
        .fold(0, |acc, c| acc * 26 + (c as u32 - 'A' as u32 + 1))
        - 1;
    let row: u32 = r[letters.len()..].parse().unwrap();
    (row - 1, col)
}

/// Evaluates the two shapes of formula the workbook uses: `SUM(A1:A9)` / `SUM(A1,A5)` and
/// `A1+B1+C1`, over the values the file holds.
fn evaluate(formula: &str, value: &dyn Fn(u32, u32) -> f64) -> f64 {
    let f = formula.trim_start_matches('=');
    if let Some(args) = f.strip_prefix("SUM(").and_then(|a| a.strip_suffix(')')) {
        return args
            .split(',')
            .map(|part| match part.split_once(':') {
                Some((a, b)) => {
                    let ((r1, c), (r2, _)) = (cell_ref(a), cell_ref(b));
                    (r1..=r2).map(|r| value(r, c)).sum()
                }
                None => {
                    let (r, c) = cell_ref(part);
                    value(r, c)
                }
            })
            .sum();
    }
    f.split('+')
        .map(|p| {
            let (r, c) = cell_ref(p);
            value(r, c)
        })
        .sum()
}

#[test]
fn totals_are_formulas_that_give_the_figures_the_file_shows() {
    use calamine::{Data, Reader, Xlsx, open_workbook};
    let dir = tempfile::tempdir().unwrap();
    for form in ["II.06a", "II.06", "II.05", "HL"] {
        let mut book: Xlsx<_> = open_workbook(workbook(dir.path(), form)).unwrap();
        let sheets: Vec<String> = book
            .sheet_names()
            .into_iter()
            .filter(|n| n != "Mục lục" && n != "Phát hiện dữ liệu")
            .collect();
        let mut checked = 0;
        for sheet in sheets {
            let values = book.worksheet_range(&sheet).unwrap();
            let formulas = book.worksheet_formula(&sheet).unwrap();
            let value = |r: u32, c: u32| match values.get_value((r, c)) {
                Some(Data::Float(v)) => *v,
                Some(Data::Int(v)) => *v as f64,
                Some(Data::Empty) | None => 0.0,
                Some(Data::String(s)) if s.is_empty() => 0.0,
                other => panic!("{form} {sheet} ({r},{c}) holds {other:?}"),
            };
            let (start_row, start_col) = formulas.start().unwrap_or((0, 0));
            for (r, c, f) in formulas.used_cells() {
                if f.is_empty() || f.contains("IF(") {
                    continue;
                }
                let (r, c) = (r as u32 + start_row, c as u32 + start_col);
                assert_eq!(
                    evaluate(f, &value),
                    value(r, c),
                    "{form} {sheet}: `{f}` at ({r},{c}) does not give the figure shown"
                );
                checked += 1;
            }
        }
        assert!(checked >= 5, "{form}: totals are formulas ({checked})");
    }
}

#[test]
fn an_absent_rate_is_empty_in_the_workbook_not_zero() {
    use calamine::{Data, Reader, Xlsx, open_workbook};
    let dir = tempfile::tempdir().unwrap();
    let xlsx = workbook(dir.path(), "HL");
    let mut book: Xlsx<_> = open_workbook(&xlsx).unwrap();
    let sheet = book
        .sheet_names()
        .into_iter()
        .find(|n| n != "Mục lục")
        .unwrap();
    let range = book.worksheet_range(&sheet).unwrap();
    let rows: Vec<&[Data]> = range.rows().collect();
    let numbered = rows
        .iter()
        .find(|r| r.iter().any(|c| *c == "(12)"))
        .expect("the numbered header row");
    let coverage = numbered.iter().position(|c| *c == "(12)").unwrap();
    // X2 (UBND xã Bình Đông) resolved no dossier (fixture README): its coverage (12) is absent.
    let x2 = rows
        .iter()
        .find(|r| r.iter().any(|c| c.to_string().contains("Bình Đông")))
        .expect("X2's row");
    assert!(
        matches!(&x2[coverage], Data::Empty) || x2[coverage] == Data::String(String::new()),
        "X2's coverage reads {:?}",
        x2[coverage]
    );
    // … while a defined rate keeps its value: S1 (Sở Tư pháp), 3 ratings over 4 resolved: 75.
    let s1 = rows
        .iter()
        .find(|r| r.iter().any(|c| *c == "Sở Tư pháp"))
        .expect("S1's row");
    assert_eq!(s1[coverage], Data::Float(75.0));
}

/// The II.01-ĐC of one unit as a PDF's pages: from the golden dossiers, or the small fixture.
fn narrative_pages(dir: &Path, golden: bool, unit: &str) -> Vec<String> {
    let docx = dir.join(format!("{unit}.docx"));
    let mut cmd = report(golden);
    cmd.args([
        "--period", "2023-Q3", "--form", "II.01-DC", "--format", "docx",
    ])
    .args(["--unit", unit, "--out"])
    .arg(&docx);
    output_with(&mut cmd, &[0]);
    pages(&to_pdf(&docx))
}

#[test]
fn addressees_follow_kinh_gui_on_its_line_and_record_codes_are_never_broken() {
    let dir = tempfile::tempdir().unwrap();
    // A department writes to two addressees (config/documents.toml): the first on the line of
    // "Kính gửi:", the second under it — never "Kính gửi:" alone on its line.
    let s1 = narrative_pages(dir.path(), false, "S1");
    let lines: Vec<&str> = s1[0].lines().map(str::trim).collect();
    let at = lines
        .iter()
        .position(|l| l.starts_with("Kính gửi:"))
        .expect("a Kính gửi line");
    assert_eq!(
        squash(lines[at]),
        squash("Kính gửi: - UBND tỉnh;"),
        "{lines:?}"
    );
    assert_eq!(squash(lines[at + 1]), squash("- Văn phòng UBND tỉnh."));
    assert!(
        squash(&s1[0]).contains("SỞTƯPHÁPTỈNHQUẢNGNGÃI"),
        "official_name"
    );
    // The golden commune 000.00.30102.H55 (xã 3) has dossiers left out; each code, 30
    // characters, is printed whole on one line of the appendix.
    let x3 = narrative_pages(dir.path(), true, "000.00.30102.H55");
    let text = x3.concat();
    let codes: Vec<&str> = text
        .split_whitespace()
        .filter(|w| w.starts_with("000.00.30102.H55-"))
        .collect();
    assert!(!codes.is_empty(), "the appendix lists the codes");
    for code in codes {
        assert_eq!(
            code.len(),
            "000.00.30102.H55-230805-000010".len(),
            "{code} is broken"
        );
    }
}

/// Whether a printed page holds a row of figures: a line with at least three whole numbers (the
/// numbered header row is in parentheses, the head and signatures carry none).
fn has_data_row(page: &str) -> bool {
    page.lines().any(|l| {
        l.split_whitespace()
            .filter(|w| w.parse::<u64>().is_ok())
            .count()
            >= 3
    })
}

fn every_table_page_holds_data(what: &str, pdf: &Path) {
    let pages = pages(pdf);
    let tables = table_pages(&pages);
    assert!(!tables.is_empty(), "{what}: no table page");
    for (i, page) in tables.iter().enumerate() {
        assert!(
            has_data_row(page),
            "{what}: table page {} holds only header rows or the signature block:\n{page}",
            i + 1
        );
    }
}

#[test]
fn no_printed_page_holds_only_header_rows_or_only_the_signature_block() {
    let dir = tempfile::tempdir().unwrap();
    // The golden data and the ratings-and-feedback fixture.
    for form in ["II.06a", "II.06", "II.05a", "II.05", "HL"] {
        let pdf = to_pdf(&workbook(dir.path(), form));
        every_table_page_holds_data(form, &pdf);
    }
    // A generated province of 20 units (three tiers), every form; the benchmark command sets
    // BAOCAO_TEST_PROVINCE_UNITS=200 for the full demo province (docs/benchmarks.md).
    let units: usize = std::env::var("BAOCAO_TEST_PROVINCE_UNITS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20);
    let data = dir.path().join("province");
    let mut generate = bin();
    generate
        .args(["generate", "--units", &units.to_string()])
        .args(["--dossiers", &(units * 300).to_string()])
        .args(["--ratings", &(units * 75).to_string()])
        .args(["--feedback", &(units * 30).to_string(), "--out"])
        .arg(&data);
    output_with(&mut generate, &[0]);
    let at = |n: &str| data.join(n).display().to_string();
    for form in ["II.06a", "II.06", "II.05a", "II.05", "HL"] {
        let out = dir.path().join(format!("province-{form}.xlsx"));
        let mut cmd = bin();
        cmd.args(["report", "--input", &at("dossiers.ndjson")])
            .args(["--ratings", &at("ratings.ndjson")])
            .args(["--feedback", &at("feedback.ndjson")])
            .args(["--units", &at("units.toml"), "--period", "2023-Q3"])
            .args(["--form", form, "--format", "xlsx", "--out"])
            .arg(&out);
        output_with(&mut cmd, &[0]);
        every_table_page_holds_data(&format!("{units}-unit province {form}"), &to_pdf(&out));
    }
}

#[test]
fn the_guidance_letter_carries_every_fact_of_the_mission_letter() {
    let dir = tempfile::tempdir().unwrap();
    let docx = dir.path().join("guidance.docx");
    let mut cmd = bin();
    cmd.args(["letter", "guidance", "--period", "2023-Q3", "--out"])
        .arg(&docx);
    output_with(&mut cmd, &[0]);
    let text = squash(&pages(&to_pdf(&docx)).concat());
    // Facts of ../shared/mission/seed-letter-2023-q3.vi.md that come from the duties and the
    // letter settings, as that letter writes them.
    for fact in [
        "Số: …/VP-TTHC",
        "CHÁNH VĂN PHÒNG",
        "V/v thực hiện chế độ thông tin báo cáo định kỳ quý III trên Hệ thống thông tin báo cáo \
         của tỉnh và Hệ thống thông tin báo cáo của Văn phòng Chính phủ",
        "Hệ thống thông tin báo cáo của Văn phòng Chính phủ (https://vpcp.baocaochinhphu.gov.vn)",
        "tài khoản VNConnect",
        "CMND/CCCD",
        "Hệ thống thông tin báo cáo của tỉnh (https://baocao.quangngai.gov.vn)",
        "tài khoản mail công vụ",
        "15/6/2023 đến ngày 14/9/2023",
        "Kính gửi: - Các sở, ban ngành;",
    ] {
        assert!(text.contains(&squash(fact)), "the letter lacks `{fact}`");
    }
    // Per kind of unit: its forms, its deadline, and ký số where the letter requires it.
    let kinds = [
        (
            "UBND cấp xã",
            "II.05a/VPCP/KSTT, II.06a/VPCP/KSTT, II.01-ĐC/VPCP/KSTT",
            "17/9/2023",
            false,
        ),
        (
            "Cơ quan chuyên môn thuộc UBND cấp huyện",
            "II.05a/VPCP/KSTT, II.06a/VPCP/KSTT",
            "17/9/2023",
            false,
        ),
        (
            "Văn phòng HĐND và UBND cấp huyện",
            "II.05/VPCP/KSTT, II.06/VPCP/KSTT, II.01-ĐC/VPCP/KSTT",
            "19/9/2023",
            true,
        ),
        (
            "Các sở, ban ngành",
            "II.05a/VPCP/KSTT, II.06a/VPCP/KSTT, II.01-ĐC/VPCP/KSTT",
            "19/9/2023",
            true,
        ),
    ];
    for (kind, forms, deadline, signed) in kinds {
        let start = text
            .find(&format!("{}:nhậpliệu", squash(kind)))
            .unwrap_or_else(|| panic!("no paragraph for {kind}"));
        let paragraph = &text[start..];
        let deadline_at = paragraph.find("Thờihạngửibáocáo").unwrap();
        let end = deadline_at + paragraph[deadline_at..].find('.').unwrap();
        let paragraph = &paragraph[..end];
        assert!(paragraph.contains(&squash(forms)), "{kind}: {paragraph}");
        assert!(paragraph.contains(deadline), "{kind}: {paragraph}");
        assert_eq!(paragraph.contains("kýsố"), signed, "{kind}: {paragraph}");
    }
    assert!(
        text.contains("tổnghợpvàgửibáocáo"),
        "the district office aggregates"
    );
}
