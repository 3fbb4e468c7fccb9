//! II.01-ĐC: the narrative draft, in Markdown and DOCX, with every figure from the computed forms
//! and the parts only people can write marked.

mod common;

use common::*;
use std::io::Read;

fn small(name: &str) -> String {
    own_fixture("hl-pakn-small", name)
}

fn args<'a>(format: &'a str, extra: &[&'a str]) -> Vec<String> {
    let mut a: Vec<String> = [
        "report",
        "--input",
        &small("dossiers.ndjson"),
        "--ratings",
        &small("ratings.ndjson"),
        "--feedback",
        &small("feedback.ndjson"),
        "--units",
        &small("units.toml"),
        "--period",
        "2023-Q3",
        "--form",
        "II.01-DC",
        "--format",
        format,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

#[test]
fn markdown_draft_carries_the_figures_and_marks_what_people_write() {
    let out = bin().args(args("md", &[])).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let md = String::from_utf8(out.stdout).unwrap();
    // One draft per unit with something to report: P, H1 (subtrees), S1, X1, X2.
    assert_eq!(
        md.matches("\n# BÁO CÁO").count() + usize::from(md.starts_with("# BÁO CÁO")),
        5
    );
    // The province speaks for its subtree (figures worked out in the fixture README and by hand).
    let province = md.split("\n---\n").next().unwrap();
    assert!(province.contains("UBND tỉnh (P)"));
    assert!(province.contains("Tổng số hồ sơ nhận giải quyết trong kỳ: 9 hồ sơ"));
    assert!(province.contains("trực tuyến 6 hồ sơ, chiếm 66,7%"));
    assert!(province.contains("trả trước hạn 3 hồ sơ, đúng hạn 2 hồ sơ, quá hạn 1 hồ sơ"));
    assert!(province.contains("tỷ lệ hài lòng đạt 50,0%"));
    assert!(province.contains("Tổng số phản ánh, kiến nghị: 6"));
    assert!(province.contains("| Hộ tịch (Bộ Tư pháp) | 1 | 1 |"));
    assert!(
        province.matches("[CẦN BỔ SUNG]").count() >= 4,
        "difficulties, proposals, re-engineering, causes"
    );
}

#[test]
fn docx_draft_opens_as_a_word_document_with_vietnamese_text() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("II.01-DC.docx");
    let out = bin()
        .args(args("docx", &["--out", path.to_str().unwrap()]))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut zip = zip::ZipArchive::new(std::fs::File::open(&path).unwrap()).unwrap();
    let mut xml = String::new();
    zip.by_name("word/document.xml")
        .unwrap()
        .read_to_string(&mut xml)
        .unwrap();
    assert!(xml.contains("KẾT QUẢ ĐÁNH GIÁ MỨC ĐỘ HÀI LÒNG"));
    assert!(xml.contains("UBND XÃ BÌNH ĐÔNG"));
    assert!(xml.contains("[CẦN BỔ SUNG]"));
    assert!(xml.contains("w:highlight"), "placeholders are highlighted");
}

#[test]
fn a_narrative_cannot_be_a_spreadsheet() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.xlsx");
    let out = bin()
        .args(args("xlsx", &["--out", path.to_str().unwrap()]))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("II.01-ĐC cannot be written as xlsx: use md, docx or json")
    );
}
