//! A reconciliation as files: JSON (docs/reconcile.md) and a Vietnamese workbook — the summary
//! with the readings found in effect, the differing cells with the dossiers that explain them,
//! every explaining dossier, what could not be matched, and every compared cell.

use super::RenderError;
use crate::forms::reconcile::{Cell, Reconciliation};
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
    ws.set_freeze_panes(top + 1, 0)?;
    ws.autofilter(top, 0, top + rows.max(1) as u32, headers.len() as u16 - 1)?;
    ws.set_landscape()
        .set_paper_size(9)
        .set_print_fit_to_pages(1, 0);
    ws.set_repeat_rows(top, top)?;
    ws.set_footer("&C&\"Times New Roman,Regular\"&10Trang &P/&N");
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
    ws.write_number_with_format(row, 4, c.ours as f64, &s.number)?;
    ws.write_number_with_format(row, 5, c.theirs as f64, &s.number)?;
    ws.write_number_with_format(row, 6, c.difference as f64, &s.signed)?;
    let explained: i64 = c.explained.iter().map(|m| m.change).sum();
    ws.write_number_with_format(row, 7, explained as f64, &s.signed)?;
    ws.write_number_with_format(row, 8, c.unexplained as f64, &s.signed)?;
    if with_moves {
        let list: Vec<String> = c
            .explained
            .iter()
            .map(|m| format!("{} ({}, {:+})", m.dossier, m.reading.as_str(), m.change))
            .collect();
        ws.write_string_with_format(row, 9, list.join("; "), &s.text)?;
    }
    Ok(())
}

const CELL_HEADERS: [(&str, f64); 10] = [
    ("Đơn vị", 24.0),
    ("Mã đơn vị", 18.0),
    ("Lĩnh vực", 36.0),
    ("Cột", 6.0),
    ("Số liệu baocao-sync", 11.0),
    ("Số liệu đối chiếu", 11.0),
    ("Chênh lệch (đối chiếu − baocao-sync)", 13.0),
    ("Giải thích được", 11.0),
    ("Chưa giải thích", 11.0),
    ("Hồ sơ giải thích (cách hiểu, thay đổi)", 60.0),
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
    for (i, l) in lines.iter().enumerate() {
        ws.write_string(2 + i as u32, 1, l)?;
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
    for (i, x) in r.readings.iter().enumerate() {
        let row = top + 1 + i as u32;
        ws.write_number_with_format(row, 0, (i + 1) as f64, &s.number)?;
        ws.write_string_with_format(row, 1, x.reading.describe_vi(), &s.text)?;
        ws.write_string_with_format(row, 2, x.reading.as_str(), &s.text)?;
        ws.write_string_with_format(row, 3, if x.in_effect { "Có" } else { "Không" }, &s.number)?;
        ws.write_number_with_format(row, 4, x.dossiers as f64, &s.number)?;
        ws.write_number_with_format(row, 5, x.difference_without as f64, &s.number)?;
        ws.write_number_with_format(row, 6, x.difference_with as f64, &s.number)?;
        ws.set_row_height(row, 48)?;
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
        ("Mã hồ sơ", 30.0),
        ("Cách hiểu quy tắc", 34.0),
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
        ws.write_string_with_format(row, 4, &m.dossier, &s.text)?;
        ws.write_string_with_format(row, 5, m.reading.as_str(), &s.text)?;
        ws.write_number_with_format(row, 6, m.change as f64, &s.signed)?;
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
    table(ws, 0, &CELL_HEADERS[..9], r.cells.len(), &s)?;
    for (i, c) in r.cells.iter().enumerate() {
        cell_row(ws, 1 + i as u32, c, false, &s)?;
    }
    Ok(book.save_to_buffer()?)
}
