//! A reconciliation as files: JSON (docs/reconcile.md) and a Vietnamese workbook — the summary
//! with the readings found in effect, the differing cells with the dossiers that explain them,
//! every explaining dossier, what could not be matched, and every compared cell.

use super::RenderError;
use crate::forms::reconcile::{Cell, ReadingName, Reconciliation};
use rust_xlsxwriter::{Format, FormatAlign, FormatBorder, Workbook, Worksheet, XlsxError};

pub fn json(r: &Reconciliation, out: &mut dyn std::io::Write) -> Result<(), RenderError> {
    serde_json::to_writer_pretty(&mut *out, r)?;
    out.write_all(b"\n")?;
    Ok(())
}

struct Styles {
    title: Format,
    header: Format,
    text: Format,
    number: Format,
    signed: Format,
}

fn styles() -> Styles {
    let base = Format::new()
        .set_font_name("Times New Roman")
        .set_font_size(12)
        .set_align(FormatAlign::VerticalCenter);
    let boxed = base.clone().set_border(FormatBorder::Thin).set_text_wrap();
    Styles {
        title: base.clone().set_bold().set_font_size(13),
        header: boxed.clone().set_bold().set_align(FormatAlign::Center),
        text: boxed.clone(),
        number: boxed
            .clone()
            .set_align(FormatAlign::Center)
            .set_num_format("#,##0"),
        signed: boxed
            .set_align(FormatAlign::Center)
            .set_num_format("+#,##0;-#,##0;0"),
    }
}

/// A table with its header at `top`; columns sized; frozen and filtered.
fn table(
    ws: &mut Worksheet,
    top: u32,
    headers: &[(&str, f64)],
    rows: usize,
    s: &Styles,
) -> Result<(), XlsxError> {
    for (c, (h, w)) in headers.iter().enumerate() {
        ws.set_column_width(c as u16, *w)?;
        ws.write_string_with_format(top, c as u16, *h, &s.header)?;
    }
    fit_row(ws, top, headers)?;
    ws.set_freeze_panes(top + 1, 0)?;
    ws.autofilter(top, 0, top + rows.max(1) as u32, headers.len() as u16 - 1)?;
    ws.set_landscape()
        .set_paper_size(9)
        .set_print_fit_to_pages(1, 0);
    ws.set_repeat_rows(top, top)?;
    ws.set_footer("&C&\"Times New Roman,Regular\"&10Trang &P/&N");
    Ok(())
}

/// A reading (or several together, "a+b") in Vietnamese.
fn reading_vi(code: &str) -> String {
    let names: Vec<&str> = code
        .split('+')
        .map(|c| ReadingName::from_code(c).map_or(c, |n| n.describe_vi()))
        .collect();
    match names.as_slice() {
        [one] => (*one).to_owned(),
        many => format!("Kết hợp các cách hiểu: {}", many.join("; ")),
    }
}

/// Sets a row's height to hold its wrapped texts: `texts` are (text, column width).
fn fit_row(ws: &mut Worksheet, row: u32, texts: &[(&str, f64)]) -> Result<(), XlsxError> {
    let lines = texts
        .iter()
        .map(|(t, width)| {
            // Times New Roman 12 pt: about one character per unit of width, less for capitals and
            // wide letters; counted short so that nothing overprints.
            let per_line = ((width - 1.0) * 0.95).max(1.0);
            t.split('\n')
                .map(|l| (l.chars().count() as f64 / per_line).ceil().max(1.0))
                .sum::<f64>()
        })
        .fold(1.0, f64::max);
    ws.set_row_height(row, 16.0 * lines + 4.0)?;
    Ok(())
}

fn cell_row(
    ws: &mut Worksheet,
    row: u32,
    c: &Cell,
    with_moves: bool,
    s: &Styles,
) -> Result<(), XlsxError> {
    ws.write_string_with_format(row, 0, &c.unit_name, &s.text)?;
    ws.write_string_with_format(row, 1, &c.unit, &s.text)?;
    ws.write_string_with_format(row, 2, &c.label, &s.text)?;
    ws.write_number_with_format(row, 3, c.column as f64, &s.number)?;
    ws.write_string_with_format(row, 4, &c.column_label, &s.text)?;
    ws.write_number_with_format(row, 5, c.ours as f64, &s.number)?;
    ws.write_number_with_format(row, 6, c.theirs as f64, &s.number)?;
    ws.write_number_with_format(row, 7, c.difference as f64, &s.signed)?;
    let explained: i64 = c.explained.iter().map(|m| m.change).sum();
    ws.write_number_with_format(row, 8, explained as f64, &s.signed)?;
    ws.write_number_with_format(row, 9, c.unexplained as f64, &s.signed)?;
    let mut texts = vec![
        (c.unit_name.clone(), CELL_HEADERS[0].1),
        (c.label.clone(), CELL_HEADERS[2].1),
        (c.column_label.clone(), CELL_HEADERS[4].1),
    ];
    if with_moves {
        let list: Vec<String> = c
            .explained
            .iter()
            .map(|m| format!("{} ({}, {:+})", m.dossier, m.reading, m.change))
            .collect();
        let candidates: Vec<String> = c
            .candidates
            .iter()
            .map(|x| format!("{} ({})", x.dossier, x.finding))
            .collect();
        let (list, candidates) = (list.join(";\n"), candidates.join(";\n"));
        ws.write_string_with_format(row, 10, &list, &s.text)?;
        ws.write_string_with_format(row, 11, &candidates, &s.text)?;
        texts.push((list, CELL_HEADERS[10].1));
        texts.push((candidates, CELL_HEADERS[11].1));
    }
    let texts: Vec<(&str, f64)> = texts.iter().map(|(t, w)| (t.as_str(), *w)).collect();
    fit_row(ws, row, &texts)
}

const CELL_HEADERS: [(&str, f64); 12] = [
    ("Đơn vị", 24.0),
    ("Mã đơn vị", 18.0),
    ("Lĩnh vực", 36.0),
    ("Cột", 6.0),
    ("Tên cột", 36.0),
    ("Số liệu baocao-sync", 11.0),
    ("Số liệu đối chiếu", 11.0),
    ("Chênh lệch (đối chiếu − baocao-sync)", 13.0),
    ("Giải thích được", 11.0),
    ("Chưa giải thích", 11.0),
    ("Hồ sơ giải thích (mã cách hiểu, thay đổi)", 60.0),
    (
        "Ô chưa giải thích: hồ sơ có phát hiện dữ liệu, cần xem trước",
        44.0,
    ),
];

pub fn xlsx(r: &Reconciliation) -> Result<Vec<u8>, RenderError> {
    let s = styles();
    let mut book = Workbook::new();

    let ws = book.add_worksheet().set_name("Tổng hợp")?;
    ws.set_column_width(0, 6)?;
    ws.set_column_width(1, 70)?;
    ws.set_column_width(2, 34)?;
    for c in 3..7 {
        ws.set_column_width(c, 13)?;
    }
    ws.write_string_with_format(
        0,
        0,
        format!(
            "ĐỐI CHIẾU SỐ LIỆU BIỂU {} KỲ {} VỚI SỐ LIỆU CỦA HỆ THỐNG KHÁC",
            r.form, r.period
        ),
        &s.title,
    )?;
    let lines = [
        format!("Số ô đối chiếu: {}", r.summary.cells),
        format!("Số ô chênh lệch: {}", r.summary.differing),
        format!(
            "Tổng chênh lệch (giá trị tuyệt đối): {}",
            r.summary.difference
        ),
        format!(
            "Phần chưa giải thích được (giá trị tuyệt đối): {}",
            r.summary.unexplained
        ),
        format!(
            "Dòng không khớp hoặc không đọc được: {}; đơn vị có số liệu nhưng không có trong số liệu đối chiếu: {}",
            r.unmatched.len(),
            r.units_only_ours.len()
        ),
    ];
    let wrapped = Format::new()
        .set_font_name("Times New Roman")
        .set_font_size(12)
        .set_text_wrap();
    for (i, l) in lines.iter().enumerate() {
        ws.merge_range(2 + i as u32, 1, 2 + i as u32, 6, l, &wrapped)?;
    }
    let top = 9;
    ws.write_string_with_format(
        top - 1,
        0,
        "Các cách hiểu quy tắc khác đã biết (áp dụng khi làm các bảng gần nhau hơn)",
        &s.title,
    )?;
    let headers = [
        "STT",
        "Cách hiểu quy tắc",
        "Mã",
        "Hệ thống kia áp dụng",
        "Số hồ sơ bị ảnh hưởng",
        "Chênh lệch trước",
        "Chênh lệch sau",
    ];
    for (c, h) in headers.iter().enumerate() {
        ws.write_string_with_format(top, c as u16, *h, &s.header)?;
    }
    fit_row(
        ws,
        top,
        &headers
            .iter()
            .zip([6.0, 70.0, 34.0, 13.0, 13.0, 13.0, 13.0])
            .map(|(h, w)| (*h, w))
            .collect::<Vec<_>>(),
    )?;
    for (i, x) in r.readings.iter().enumerate() {
        let row = top + 1 + i as u32;
        ws.write_number_with_format(row, 0, (i + 1) as f64, &s.number)?;
        ws.write_string_with_format(row, 1, x.reading.describe_vi(), &s.text)?;
        ws.write_string_with_format(row, 2, x.reading.as_str(), &s.text)?;
        ws.write_string_with_format(row, 3, if x.in_effect { "Có" } else { "Không" }, &s.number)?;
        ws.write_number_with_format(row, 4, x.dossiers as f64, &s.number)?;
        ws.write_number_with_format(row, 5, x.difference_without as f64, &s.number)?;
        ws.write_number_with_format(row, 6, x.difference_with as f64, &s.number)?;
        fit_row(
            ws,
            row,
            &[(x.reading.describe_vi(), 70.0), (x.reading.as_str(), 34.0)],
        )?;
    }
    ws.set_landscape()
        .set_paper_size(9)
        .set_print_fit_to_pages(1, 0);

    let differing: Vec<&Cell> = r
        .cells
        .iter()
        .filter(|c| c.difference != 0 || c.unexplained != 0)
        .collect();
    let ws = book.add_worksheet().set_name("Chênh lệch")?;
    table(ws, 0, &CELL_HEADERS, differing.len(), &s)?;
    for (i, c) in differing.iter().enumerate() {
        cell_row(ws, 1 + i as u32, c, true, &s)?;
    }

    let ws = book.add_worksheet().set_name("Hồ sơ giải thích")?;
    let headers = [
        ("Đơn vị", 24.0),
        ("Mã đơn vị", 18.0),
        ("Lĩnh vực", 36.0),
        ("Cột", 6.0),
        ("Tên cột", 36.0),
        ("Mã hồ sơ", 31.0),
        ("Cách hiểu quy tắc của hệ thống kia", 60.0),
        ("Mã cách hiểu", 34.0),
        ("Thay đổi", 9.0),
    ];
    let moves: Vec<(&Cell, &crate::forms::reconcile::Move)> = r
        .cells
        .iter()
        .flat_map(|c| c.explained.iter().map(move |m| (c, m)))
        .collect();
    table(ws, 0, &headers, moves.len(), &s)?;
    for (i, (c, m)) in moves.iter().enumerate() {
        let row = 1 + i as u32;
        ws.write_string_with_format(row, 0, &c.unit_name, &s.text)?;
        ws.write_string_with_format(row, 1, &c.unit, &s.text)?;
        ws.write_string_with_format(row, 2, &c.label, &s.text)?;
        ws.write_number_with_format(row, 3, c.column as f64, &s.number)?;
        ws.write_string_with_format(row, 4, &c.column_label, &s.text)?;
        ws.write_string_with_format(row, 5, &m.dossier, &s.text)?;
        let said = reading_vi(&m.reading);
        ws.write_string_with_format(row, 6, &said, &s.text)?;
        ws.write_string_with_format(row, 7, &m.reading, &s.text)?;
        ws.write_number_with_format(row, 8, m.change as f64, &s.signed)?;
        fit_row(
            ws,
            row,
            &[
                (&c.unit_name, 24.0),
                (&c.label, 36.0),
                (&c.column_label, 36.0),
                (&said, 60.0),
                (&m.reading, 34.0),
            ],
        )?;
    }

    let ws = book.add_worksheet().set_name("Không khớp")?;
    let headers = [
        ("Vị trí", 30.0),
        ("Đơn vị", 24.0),
        ("Lĩnh vực", 30.0),
        ("Vấn đề", 16.0),
        ("Lý do và cách xử lý", 70.0),
    ];
    table(
        ws,
        0,
        &headers,
        r.unmatched.len() + r.units_only_ours.len(),
        &s,
    )?;
    let mut row = 1;
    for u in &r.unmatched {
        for (c, t) in [
            &u.place,
            &u.unit,
            &u.field,
            &u.problem.to_owned(),
            &u.reason,
        ]
        .into_iter()
        .enumerate()
        {
            ws.write_string_with_format(row, c as u16, t, &s.text)?;
        }
        fit_row(ws, row, &[(&u.place, 30.0), (&u.reason, 70.0)])?;
        row += 1;
    }
    for unit in &r.units_only_ours {
        ws.write_string_with_format(row, 0, "baocao-sync", &s.text)?;
        ws.write_string_with_format(row, 1, unit, &s.text)?;
        ws.write_string_with_format(row, 2, "", &s.text)?;
        ws.write_string_with_format(row, 3, "only_ours", &s.text)?;
        ws.write_string_with_format(
            row,
            4,
            "Đơn vị có số liệu nhưng không có trong số liệu đối chiếu: không đối chiếu",
            &s.text,
        )?;
        row += 1;
    }

    let ws = book.add_worksheet().set_name("Toàn bộ ô")?;
    table(ws, 0, &CELL_HEADERS[..10], r.cells.len(), &s)?;
    for (i, c) in r.cells.iter().enumerate() {
        cell_row(ws, 1 + i as u32, c, false, &s)?;
    }
    Ok(book.save_to_buffer()?)
}
