//! XLSX in the official layout of Circular 01/2020/TT-VPCP: one sheet per report (header block
//! with the form number, reporting and receiving unit, title, period window, the two header rows,
//! numbered columns 1–13, a total row, field rows; for II.06 one section per level with its
//! subtotal), the signature block, and the findings on a sheet of their own.

use super::{Document, RenderError, Reports, kind_label_vi};
use crate::forms::ii06::AggregateReport;
use crate::forms::ii06a::UnitReport;
use crate::forms::{COLUMNS, FormCode, Values};
use rust_xlsxwriter::{Format, FormatAlign, FormatBorder, Workbook, Worksheet, XlsxError};

const LAST_COL: u16 = 12;
/// Width of the field-name column, in characters.
const LABEL_WIDTH: f64 = 50.0;
/// Column 2 headers (cols 3–13) of the second header row.
const SUB_HEADERS: [&str; 11] = [
    "Tổng số",
    "Trong kỳ: Trực tuyến",
    "Trong kỳ: Trực tiếp, dịch vụ bưu chính",
    "Từ kỳ trước",
    "Tổng số",
    "Trước hạn",
    "Đúng hạn",
    "Quá hạn",
    "Tổng số",
    "Trong hạn",
    "Quá hạn",
];

struct Styles {
    bold: Format,
    italic: Format,
    title: Format,
    center: Format,
    right_italic: Format,
    header: Format,
    number_row: Format,
    cell: Format,
    cell_num: Format,
    total: Format,
    total_num: Format,
    section: Format,
    section_num: Format,
}

impl Styles {
    fn new() -> Styles {
        let base = Format::new()
            .set_font_name("Times New Roman")
            .set_font_size(12);
        let boxed = base
            .clone()
            .set_border(FormatBorder::Thin)
            .set_text_wrap()
            .set_align(FormatAlign::VerticalCenter);
        Styles {
            bold: base.clone().set_bold(),
            italic: base.clone().set_italic(),
            title: base
                .clone()
                .set_bold()
                .set_font_size(13)
                .set_align(FormatAlign::Center)
                .set_text_wrap(),
            center: base.clone().set_align(FormatAlign::Center).set_italic(),
            right_italic: base.clone().set_italic().set_align(FormatAlign::Right),
            header: boxed
                .clone()
                .set_bold()
                .set_align(FormatAlign::Center)
                .set_align(FormatAlign::VerticalCenter),
            number_row: boxed.clone().set_italic().set_align(FormatAlign::Center),
            cell: boxed.clone(),
            cell_num: boxed.clone().set_align(FormatAlign::Center),
            total: boxed.clone().set_bold(),
            total_num: boxed.clone().set_bold().set_align(FormatAlign::Center),
            section: boxed.clone().set_bold().set_italic(),
            section_num: boxed.set_bold().set_italic().set_align(FormatAlign::Center),
        }
    }
}

pub fn to_bytes(doc: &Document<'_>) -> Result<Vec<u8>, RenderError> {
    let mut book = Workbook::new();
    let styles = Styles::new();
    match doc.reports {
        Reports::PerUnit(reports) => {
            for r in reports {
                per_unit_sheet(book.add_worksheet(), doc, r, &styles)?;
            }
        }
        Reports::Aggregate(reports) => {
            for r in reports {
                aggregate_sheet(book.add_worksheet(), doc, r, &styles)?;
            }
        }
    }
    findings_sheet(book.add_worksheet(), doc, &styles)?;
    Ok(book.save_to_buffer()?)
}

/// Sheet names: at most 31 characters, none of `[]:*?/\`.
fn sheet_name(code: &str) -> String {
    code.chars()
        .map(|c| if "[]:*?/\\".contains(c) { '_' } else { c })
        .take(31)
        .collect()
}

/// The header block and the two header rows; returns the first free row.
fn header(
    ws: &mut Worksheet,
    doc: &Document<'_>,
    unit_code: &str,
    s: &Styles,
) -> Result<u32, XlsxError> {
    let units = doc.units;
    let (unit_name, receiver) = match units.find(unit_code) {
        Some(id) => (
            units.get(id).name.clone(),
            units
                .parent(id)
                .map(|p| p.name.clone())
                .unwrap_or_else(|| "Văn phòng Chính phủ".to_owned()),
        ),
        None => (unit_code.to_owned(), String::new()),
    };
    let form = doc.form.as_str();
    ws.set_name(sheet_name(unit_code))?;
    ws.set_landscape()
        .set_paper_size(9)
        .set_print_fit_to_pages(1, 0);
    ws.set_column_width(0, 6)?;
    ws.set_column_width(1, LABEL_WIDTH)?;
    for c in 2..=LAST_COL {
        ws.set_column_width(c, 11)?;
    }
    ws.merge_range(0, 0, 0, 3, &format!("Biểu số {form}/VPCP/KSTT"), &s.bold)?;
    ws.merge_range(
        1,
        0,
        1,
        3,
        "Ban hành theo Thông tư số 01/2020/TT-VPCP ngày 21/10/2020",
        &s.italic,
    )?;
    ws.merge_range(
        0,
        9,
        0,
        LAST_COL,
        &format!("Đơn vị báo cáo: {unit_name}"),
        &s.bold,
    )?;
    ws.merge_range(
        1,
        9,
        1,
        LAST_COL,
        &format!("Đơn vị nhận báo cáo: {receiver}"),
        &s.bold,
    )?;
    let scope = match doc.form {
        FormCode::Ii06a => "TẠI CƠ QUAN, ĐƠN VỊ TRỰC TIẾP GIẢI QUYẾT THỦ TỤC HÀNH CHÍNH",
        FormCode::Ii06 => "THUỘC PHẠM VI QUẢN LÝ",
    };
    let title = format!(
        "TÌNH HÌNH, KẾT QUẢ GIẢI QUYẾT THỦ TỤC HÀNH CHÍNH {scope}\n{}",
        unit_name.to_uppercase()
    );
    ws.merge_range(3, 0, 3, LAST_COL, &title, &s.title)?;
    ws.set_row_height(3, 36)?;
    let period = format!(
        "Kỳ báo cáo: {} ({})",
        doc.period.label_vi(),
        doc.period.window_vi()
    );
    ws.merge_range(4, 0, 4, LAST_COL, &period, &s.center)?;
    ws.merge_range(
        5,
        9,
        5,
        LAST_COL,
        "Đơn vị tính: Số hồ sơ TTHC",
        &s.right_italic,
    )?;

    let (h1, h2, nums) = (6, 7, 8);
    ws.merge_range(h1, 0, h2, 0, "STT", &s.header)?;
    ws.merge_range(
        h1,
        1,
        h2,
        1,
        "Lĩnh vực, công việc giải quyết theo cấp",
        &s.header,
    )?;
    ws.merge_range(h1, 2, h1, 5, "Số hồ sơ nhận giải quyết", &s.header)?;
    ws.merge_range(
        h1,
        6,
        h1,
        9,
        "Kết quả giải quyết: Số hồ sơ đã giải quyết",
        &s.header,
    )?;
    ws.merge_range(h1, 10, h1, LAST_COL, "Số hồ sơ đang giải quyết", &s.header)?;
    for (i, text) in SUB_HEADERS.iter().enumerate() {
        ws.write_string_with_format(h2, 2 + i as u16, *text, &s.header)?;
    }
    ws.set_row_height(h2, 48)?;
    for c in 0..=LAST_COL {
        ws.write_string_with_format(nums, c, format!("({})", c + 1), &s.number_row)?;
    }
    ws.set_freeze_panes(nums + 1, 2)?;
    Ok(nums + 1)
}

fn values_row(
    ws: &mut Worksheet,
    row: u32,
    number: &str,
    label: &str,
    values: &Values,
    text: &Format,
    num: &Format,
) -> Result<(), XlsxError> {
    ws.write_string_with_format(row, 0, number, num)?;
    ws.write_string_with_format(row, 1, label, text)?;
    // Spreadsheet programs do not grow a row for wrapped text written by a library: size it here.
    // Times New Roman fits about 1.2 characters per unit of column width.
    let lines = (label.chars().count() as f64 / (LABEL_WIDTH * 1.2))
        .ceil()
        .max(1.0);
    if lines > 1.0 {
        ws.set_row_height(row, 16.0 * lines)?;
    }
    for (i, col) in COLUMNS.iter().enumerate() {
        ws.write_number_with_format(row, 2 + i as u16, values.get(*col) as f64, num)?;
    }
    Ok(())
}

fn signatures(ws: &mut Worksheet, row: u32, s: &Styles) -> Result<(), XlsxError> {
    let r = row + 1;
    ws.merge_range(r, 0, r, 3, "NGƯỜI LẬP BIỂU", &s.title)?;
    ws.merge_range(r + 1, 0, r + 1, 3, "(Ký, ghi rõ họ tên)", &s.center)?;
    ws.merge_range(r, 8, r, LAST_COL, "THỦ TRƯỞNG CƠ QUAN, ĐƠN VỊ", &s.title)?;
    ws.merge_range(
        r + 1,
        8,
        r + 1,
        LAST_COL,
        "(Ký, ghi rõ họ tên, đóng dấu)",
        &s.center,
    )?;
    Ok(())
}

fn per_unit_sheet(
    ws: &mut Worksheet,
    doc: &Document<'_>,
    r: &UnitReport,
    s: &Styles,
) -> Result<(), XlsxError> {
    let mut row = header(ws, doc, &r.unit, s)?;
    values_row(ws, row, "", "Tổng số", &r.total, &s.total, &s.total_num)?;
    row += 1;
    for (i, field) in r.rows.iter().enumerate() {
        values_row(
            ws,
            row,
            &(i + 1).to_string(),
            &field.label,
            &field.values,
            &s.cell,
            &s.cell_num,
        )?;
        row += 1;
    }
    signatures(ws, row, s)
}

fn aggregate_sheet(
    ws: &mut Worksheet,
    doc: &Document<'_>,
    r: &AggregateReport,
    s: &Styles,
) -> Result<(), XlsxError> {
    const ROMAN: [&str; 10] = ["I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X"];
    let mut row = header(ws, doc, &r.unit, s)?;
    values_row(ws, row, "", "Tổng số", &r.total, &s.total, &s.total_num)?;
    row += 1;
    for (i, section) in r.sections_printed(doc.units).into_iter().enumerate() {
        let number = ROMAN
            .get(i)
            .map_or_else(|| (i + 1).to_string(), |n| (*n).to_owned());
        values_row(
            ws,
            row,
            &number,
            kind_label_vi(&section.kind),
            &section.subtotal,
            &s.section,
            &s.section_num,
        )?;
        row += 1;
        for (j, field) in section.rows.iter().enumerate() {
            values_row(
                ws,
                row,
                &(j + 1).to_string(),
                &field.label,
                &field.values,
                &s.cell,
                &s.cell_num,
            )?;
            row += 1;
        }
    }
    signatures(ws, row, s)
}

fn findings_sheet(ws: &mut Worksheet, doc: &Document<'_>, s: &Styles) -> Result<(), XlsxError> {
    ws.set_name("Phát hiện dữ liệu")?;
    let headers = [
        "Mã phát hiện",
        "Mức độ",
        "Hồ sơ (MaHoSo) / vị trí",
        "Đơn vị xử lý",
        "Nội dung",
    ];
    let widths = [30.0, 10.0, 34.0, 20.0, 90.0];
    for (c, (h, w)) in headers.iter().zip(widths).enumerate() {
        ws.set_column_width(c as u16, w)?;
        ws.write_string_with_format(0, c as u16, *h, &s.header)?;
    }
    for (i, f) in doc.findings.iter().enumerate() {
        let row = i as u32 + 1;
        let severity = match f.severity {
            crate::domain::Severity::Error => "lỗi",
            crate::domain::Severity::Warning => "cảnh báo",
        };
        ws.write_string_with_format(row, 0, f.code.as_str(), &s.cell)?;
        ws.write_string_with_format(row, 1, severity, &s.cell)?;
        ws.write_string_with_format(row, 2, f.record.as_str(), &s.cell)?;
        ws.write_string_with_format(row, 3, f.unit.as_deref().unwrap_or(""), &s.cell)?;
        ws.write_string_with_format(row, 4, f.message.as_str(), &s.cell)?;
    }
    ws.set_freeze_panes(1, 0)?;
    Ok(())
}
