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

/// The text of `word/document.xml` of a DOCX.
#[test]
fn docx_is_one_decree_30_document_per_unit_in_a_zip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("II.01-DC.zip");
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
    let names: Vec<String> = zip.file_names().map(str::to_owned).collect();
    assert_eq!(names.len(), 5, "P, H1, S1, X1, X2: {names:?}");
    let mut x2 = Vec::new();
    let name = names
        .iter()
        .find(|n| n.contains(" X2 "))
        .expect("X2's file");
    zip.by_name(name).unwrap().read_to_end(&mut x2).unwrap();
    let xml = document_xml(&x2);
    // Decree 30/2020/NĐ-CP, Phụ lục I: every part of an administrative report is there.
    for part in [
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "Độc lập - Tự do - Hạnh phúc",
        "UBND XÃ BÌNH ĐÔNG",
        "Số: …/BC-UBND",
        "ngày … tháng … năm …",
        ">BÁO CÁO<",
        "Kính gửi: UBND huyện Bình Sơn.",
        "KẾT QUẢ ĐÁNH GIÁ MỨC ĐỘ HÀI LÒNG",
        "Nơi nhận:",
        "TM. ỦY BAN NHÂN DÂN",
        "CHỦ TỊCH",
        "[CẦN BỔ SUNG]",
    ] {
        assert!(xml.contains(part), "X2's document lacks `{part}`");
    }
    assert!(xml.contains("w:highlight"), "placeholders are highlighted");
    assert!(
        xml.contains("<w:keepNext"),
        "headings stay with what follows"
    );
    assert!(
        xml.contains("w:left=\"1701\"") && xml.contains("w:right=\"850\""),
        "Decree 30 margins: left 30 mm, right 15 mm"
    );
    assert!(xml.contains("Times New Roman"));
    // The text refers to an appendix only when there is one, and then it is attached.
    assert_eq!(
        xml.contains("Phụ lục kèm theo"),
        xml.contains("DANH SÁCH BẢN GHI CHƯA ĐƯỢC TÍNH VÀO SỐ LIỆU")
    );
}

#[test]
fn a_docx_file_holds_one_unit_and_the_texts_are_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("one.docx");
    let out = bin()
        .args(args("docx", &["--out", path.to_str().unwrap()]))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(".zip") && stderr.contains("--unit"),
        "{stderr}"
    );

    let texts = dir.path().join("documents.toml");
    std::fs::write(
        &texts,
        "[defaults]\nplace = \"Quảng Ngãi\"\n[kinds.department]\nsigner_title = \"GIÁM ĐỐC\"\n\
         [units.S1]\nabbreviation = \"STP\"\nsigner_authority = \"KT. GIÁM ĐỐC\"\n\
         signer_title = \"PHÓ GIÁM ĐỐC\"\nrecipients = [\"Như trên\", \"Lưu: VT, VP\"]\n",
    )
    .unwrap();
    let out = bin()
        .args(args(
            "docx",
            &[
                "--out",
                path.to_str().unwrap(),
                "--unit",
                "S1",
                "--documents",
                texts.to_str().unwrap(),
            ],
        ))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let xml = document_xml(&std::fs::read(&path).unwrap());
    for part in [
        "Số: …/BC-STP",
        "Quảng Ngãi, ngày … tháng … năm …",
        "KT. GIÁM ĐỐC",
        "PHÓ GIÁM ĐỐC",
        "- Lưu: VT, VP.",
        "SỞ TƯ PHÁP",
    ] {
        assert!(xml.contains(part), "S1's document lacks `{part}`");
    }
    assert!(!xml.contains("UBND XÃ"), "only S1's document");
}

#[test]
fn each_kind_of_record_left_out_is_named_as_what_it_is() {
    let out = bin().args(args("md", &[])).output().unwrap();
    let md = String::from_utf8(out.stdout).unwrap();
    // X1's only error is feedback P07 (an unknown content kind): it is a "phản ánh, kiến nghị",
    // not a "hồ sơ", and it is listed in the appendix the text points to.
    let x1 = md.split("\n---\n").find(|d| d.contains("(X1)")).unwrap();
    assert!(
        x1.contains("Có 1 phản ánh, kiến nghị chưa được tính vào số liệu"),
        "{x1}"
    );
    assert!(x1.contains("| 1 | Phản ánh, kiến nghị | P07 |"), "{x1}");
    assert!(!x1.contains("hồ sơ chưa được tính"));
    // No rate is ever a bare dash.
    assert!(!md.contains("–"), "an undefined rate is said in words");
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

/// One unit's Markdown draft, split by section heading ("## I.", "## II.", …, "## PHỤ LỤC").
fn sections_of<'a>(md: &'a str, unit: &str) -> Vec<(&'a str, &'a str)> {
    let draft = md
        .split("\n---\n")
        .find(|d| d.contains(&format!("({unit})")))
        .unwrap_or_else(|| panic!("no draft for {unit}"));
    draft
        .split("\n## ")
        .skip(1)
        .map(|s| s.split_once('\n').unwrap_or((s, "")))
        .collect()
}

fn section<'a>(sections: &[(&'a str, &'a str)], heading: &str) -> &'a str {
    sections
        .iter()
        .find(|(h, _)| h.starts_with(heading))
        .map(|(_, body)| *body)
        .unwrap_or_else(|| panic!("no section {heading}"))
}

#[test]
fn records_left_out_are_said_in_their_own_section_by_their_own_kind() {
    let out = bin().args(args("md", &[])).output().unwrap();
    let md = String::from_utf8(out.stdout).unwrap();
    // X2 (fixture README): feedback P08, P09, P11, P14 and ratings R09, R11 are left out; P11 is a
    // feedback record without NgayTiepNhan.
    let x2 = sections_of(&md, "X2");
    assert!(!section(&x2, "I.").contains("chưa được tính"), "{x2:?}");
    assert!(section(&x2, "II.").contains("Có 2 lượt đánh giá chưa được tính"));
    assert!(section(&x2, "III.").contains("Có 4 phản ánh, kiến nghị chưa được tính"));
    let appendix = section(&x2, "PHỤ LỤC");
    assert!(
        appendix.contains(
            "| Phản ánh, kiến nghị | P11 | Phản ánh, kiến nghị thiếu ngày tiếp nhận nên không xếp được vào kỳ nào"
        ),
        "{appendix}"
    );
    assert!(!appendix.contains("| Hồ sơ |"), "{appendix}");
    // H1: 3 ratings over 2 resolved dossiers (fixture README) — the text says why it passes 100 %.
    let h1 = section(&sections_of(&md, "H1"), "II.");
    assert!(h1.contains("(2 hồ sơ): 150,0% (Trên 100%: lượt đánh giá tính theo ngày đánh giá"));
}

#[test]
fn a_department_whose_only_feedback_was_left_out_does_not_say_it_had_none() {
    let dir = tempfile::tempdir().unwrap();
    let feedback = dir.path().join("feedback.ndjson");
    std::fs::write(
        &feedback,
        r#"{"MaPAKN":"P99","MaDonVi":"S1","NgayTiepNhan":"","LoaiNoiDung":"quy-dinh","TrangThai":"dang-xu-ly","NgayXuLy":"","CongKhai":"","CapNhatLuc":"20230701080000"}
"#,
    )
    .unwrap();
    let mut a = args("md", &[]);
    let at = a.iter().position(|x| x == "--feedback").unwrap();
    a[at + 1] = feedback.display().to_string();
    let out = bin().args(a).output().unwrap();
    let md = String::from_utf8(out.stdout).unwrap();
    let s1 = sections_of(&md, "S1");
    let third = section(&s1, "III.");
    assert!(
        !third.contains("Trong kỳ không có phản ánh, kiến nghị."),
        "{third}"
    );
    assert!(
        third.contains("Có 1 phản ánh, kiến nghị chưa được tính"),
        "{third}"
    );
    assert!(!section(&s1, "I.").contains("chưa được tính"));
}
