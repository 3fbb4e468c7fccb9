//! XLSX in the official layout of Circular 01/2020/TT-VPCP: one sheet per report (header block
//! with the form number, reporting and receiving unit, title, period window, the two header rows,
//! numbered columns 1–13, a total row, field rows; for II.06 one section per level with its
//! subtotal), the signature block, and the findings on a sheet of their own.

use super::{Document, RenderError, Reports, kind_label_vi};
use crate::forms::Values;
use crate::forms::aggregate::AggregateReport;
use crate::forms::definition::Fill;
use crate::forms::satisfaction::{CHANNELS, SatisfactionReport};
use crate::forms::table::UnitReport;
use rust_xlsxwriter::{Format, FormatAlign, FormatBorder, Workbook, Worksheet, XlsxError};

/// Width of the field-name column, in characters.
const LABEL_WIDTH: f64 = 50.0;

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
        Reports::Satisfaction(units, aggregates) => {
            satisfaction_sheet(book.add_worksheet(), doc, units, aggregates, &styles)?;
        }
        Reports::Narrative(_) => unreachable!("render::write sends narratives to md or docx"),
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

/// The last column index of the sheet.
fn last_col(doc: &Document<'_>) -> u16 {
    doc.form.columns.len().saturating_sub(1) as u16
}

/// The header block and the two header rows, from the form definition; returns the first free row.
fn header(
    ws: &mut Worksheet,
    doc: &Document<'_>,
    unit_code: &str,
    s: &Styles,
) -> Result<u32, XlsxError> {
    let units = doc.units;
    let form = doc.form;
    let last = last_col(doc);
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
    ws.set_name(sheet_name(unit_code))?;
    ws.set_landscape()
        .set_paper_size(9)
        .set_print_fit_to_pages(1, 0);
    for (i, c) in form.columns.iter().enumerate() {
        let width = match c.fill {
            Fill::RowNumber => 6.0,
            Fill::Label => LABEL_WIDTH,
            _ => 11.0,
        };
        ws.set_column_width(i as u16, width)?;
    }
    let right = last.saturating_sub(3).max(4);
    ws.merge_range(0, 0, 0, 3, &form.number, &s.bold)?;
    ws.merge_range(1, 0, 1, 3, &doc.regime.basis, &s.italic)?;
    ws.merge_range(
        0,
        right,
        0,
        last,
        &format!("Đơn vị báo cáo: {unit_name}"),
        &s.bold,
    )?;
    ws.merge_range(
        1,
        right,
        1,
        last,
        &format!("Đơn vị nhận báo cáo: {receiver}"),
        &s.bold,
    )?;
    let title = format!("{}\n{}", form.title, unit_name.to_uppercase());
    ws.merge_range(3, 0, 3, last, &title, &s.title)?;
    ws.set_row_height(3, 36)?;
    let period = format!(
        "Kỳ báo cáo: {} ({})",
        doc.period.label_vi(),
        doc.period.window_vi()
    );
    ws.merge_range(4, 0, 4, last, &period, &s.center)?;
    if form.provisional || doc.regime.provisional {
        ws.merge_range(
            5,
            0,
            5,
            3,
            "Mẫu tạm thời: chưa đối chiếu văn bản chính thức",
            &s.italic,
        )?;
    }
    ws.merge_range(
        5,
        right,
        5,
        last,
        &format!("Đơn vị tính: {}", form.measure),
        &s.right_italic,
    )?;

    let (h1, h2, nums) = (6, 7, 8);
    let position = |number: u32| {
        form.columns
            .iter()
            .position(|c| c.number == number)
            .map(|p| p as u16)
    };
    for (i, c) in form.columns.iter().enumerate() {
        let col = i as u16;
        if form.group_of(c.number).is_some() {
            ws.write_string_with_format(h2, col, &c.header, &s.header)?;
        } else {
            ws.merge_range(h1, col, h2, col, &c.header, &s.header)?;
        }
        ws.write_string_with_format(nums, col, format!("({})", c.number), &s.number_row)?;
    }
    for g in &form.groups {
        let cols: Vec<u16> = g.columns.iter().filter_map(|&n| position(n)).collect();
        let (Some(&first), Some(&end)) = (cols.iter().min(), cols.iter().max()) else {
            continue;
        };
        if first == end {
            ws.write_string_with_format(h1, first, &g.header, &s.header)?;
        } else {
            ws.merge_range(h1, first, h1, end, &g.header, &s.header)?;
        }
    }
    ws.set_row_height(h2, 48)?;
    ws.set_freeze_panes(nums + 1, 2)?;
    Ok(nums + 1)
}

#[allow(clippy::too_many_arguments)]
fn values_row(
    ws: &mut Worksheet,
    doc: &Document<'_>,
    row: u32,
    number: &str,
    label: &str,
    values: &Values,
    text: &Format,
    num: &Format,
) -> Result<(), XlsxError> {
    for (i, c) in doc.form.columns.iter().enumerate() {
        let col = i as u16;
        match c.fill {
            Fill::RowNumber => ws.write_string_with_format(row, col, number, num)?,
            Fill::Label => ws.write_string_with_format(row, col, label, text)?,
            Fill::Metric(_) | Fill::Sum(_) => {
                ws.write_number_with_format(row, col, values.get(c.number) as f64, num)?
            }
        };
    }
    // Spreadsheet programs do not grow a row for wrapped text written by a library: size it here.
    // Times New Roman fits about 1.2 characters per unit of column width.
    let lines = (label.chars().count() as f64 / (LABEL_WIDTH * 1.2))
        .ceil()
        .max(1.0);
    if lines > 1.0 {
        ws.set_row_height(row, 16.0 * lines)?;
    }
    Ok(())
}

fn signatures(
    ws: &mut Worksheet,
    doc: &Document<'_>,
    row: u32,
    s: &Styles,
) -> Result<(), XlsxError> {
    let (r, last) = (row + 1, last_col(doc));
    let right = last.saturating_sub(4).max(4);
    ws.merge_range(r, 0, r, 3, "NGƯỜI LẬP BIỂU", &s.title)?;
    ws.merge_range(r + 1, 0, r + 1, 3, "(Ký, ghi rõ họ tên)", &s.center)?;
    ws.merge_range(r, right, r, last, "THỦ TRƯỞNG CƠ QUAN, ĐƠN VỊ", &s.title)?;
    ws.merge_range(
        r + 1,
        right,
        r + 1,
        last,
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
    values_row(
        ws,
        doc,
        row,
        "",
        "Tổng số",
        &r.total,
        &s.total,
        &s.total_num,
    )?;
    row += 1;
    for (i, field) in r.rows.iter().enumerate() {
        values_row(
            ws,
            doc,
            row,
            &(i + 1).to_string(),
            &field.label,
            &field.values,
            &s.cell,
            &s.cell_num,
        )?;
        row += 1;
    }
    signatures(ws, doc, row, s)
}

fn aggregate_sheet(
    ws: &mut Worksheet,
    doc: &Document<'_>,
    r: &AggregateReport,
    s: &Styles,
) -> Result<(), XlsxError> {
    const ROMAN: [&str; 10] = ["I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X"];
    let mut row = header(ws, doc, &r.unit, s)?;
    values_row(
        ws,
        doc,
        row,
        "",
        "Tổng số",
        &r.total,
        &s.total,
        &s.total_num,
    )?;
    row += 1;
    for (i, section) in r.sections_printed(doc.units).into_iter().enumerate() {
        let number = ROMAN
            .get(i)
            .map_or_else(|| (i + 1).to_string(), |n| (*n).to_owned());
        let label = kind_label_vi(&section.kind);
        values_row(
            ws,
            doc,
            row,
            &number,
            label,
            &section.subtotal,
            &s.section,
            &s.section_num,
        )?;
        row += 1;
        for (j, field) in section.rows.iter().enumerate() {
            values_row(
                ws,
                doc,
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
    signatures(ws, doc, row, s)
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

/// The satisfaction summary: one table, units first, then each aggregating unit's subtree.
fn satisfaction_sheet(
    ws: &mut Worksheet,
    doc: &Document<'_>,
    units: &[SatisfactionReport],
    aggregates: &[SatisfactionReport],
    s: &Styles,
) -> Result<(), XlsxError> {
    const HEADERS: [&str; 12] = [
        "STT",
        "Cơ quan, đơn vị",
        "Rất hài lòng",
        "Hài lòng",
        "Không hài lòng",
        "Qua Tablet",
        "Qua Phiếu",
        "Trực tuyến",
        "Tổng số lượt đánh giá",
        "Tỷ lệ hài lòng (%)",
        "Số hồ sơ đã giải quyết",
        "Tỷ lệ hồ sơ được đánh giá (%)",
    ];
    ws.set_name("Hài lòng")?;
    ws.set_column_width(1, LABEL_WIDTH)?;
    ws.merge_range(0, 0, 0, 3, &doc.form.number, &s.bold)?;
    ws.merge_range(2, 0, 2, 11, &doc.form.title, &s.title)?;
    ws.set_row_height(2, 36)?;
    let period = format!(
        "Kỳ báo cáo: {} ({})",
        doc.period.label_vi(),
        doc.period.window_vi()
    );
    ws.merge_range(3, 0, 3, 11, &period, &s.center)?;
    for (c, h) in HEADERS.iter().enumerate() {
        ws.write_string_with_format(5, c as u16, *h, &s.header)?;
        ws.write_string_with_format(6, c as u16, format!("({})", c + 1), &s.number_row)?;
        if c >= 2 {
            ws.set_column_width(c as u16, 12)?;
        }
    }
    ws.set_row_height(5, 48)?;
    let name = |code: &str| {
        doc.units
            .find(code)
            .map_or_else(|| code.to_owned(), |id| doc.units.get(id).name.clone())
    };
    let mut row = 7;
    let lists = [(units, false), (aggregates, true)];
    for (list, subtree) in lists {
        for (i, r) in list.iter().enumerate() {
            let (text, num) = if subtree {
                (&s.section, &s.section_num)
            } else {
                (&s.cell, &s.cell_num)
            };
            let label = if subtree {
                format!("{} (toàn địa bàn)", name(&r.unit))
            } else {
                name(&r.unit)
            };
            ws.write_string_with_format(row, 0, (i + 1).to_string(), num)?;
            ws.write_string_with_format(row, 1, label, text)?;
            let mut counts: Vec<u64> = ["1", "2", "3"]
                .iter()
                .map(|l| r.levels.get(*l).copied().unwrap_or(0))
                .collect();
            counts.extend(
                CHANNELS
                    .iter()
                    .map(|c| r.channels.get(*c).copied().unwrap_or(0)),
            );
            counts.push(r.total);
            for (j, v) in counts.iter().enumerate() {
                ws.write_number_with_format(row, 2 + j as u16, *v as f64, num)?;
            }
            let optional = [
                r.satisfaction_rate,
                r.resolved.map(|v| v as f64),
                r.coverage,
            ];
            for (j, v) in optional.iter().enumerate() {
                match v {
                    Some(v) => ws.write_number_with_format(row, 9 + j as u16, *v, num)?,
                    None => ws.write_string_with_format(row, 9 + j as u16, "", num)?,
                };
            }
            row += 1;
        }
    }
    Ok(())
}
