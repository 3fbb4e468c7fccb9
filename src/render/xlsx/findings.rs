//! The findings sheet, for the officials who fix the records: one row per finding, by unit in the
//! tree's order, errors first; the record named, what is wrong and what to do in Vietnamese; the
//! English code and detail kept for the operator. Landscape, header frozen, filters on.

use super::page::{Page, Weight};
use super::{FINDINGS_SHEET, Styles};
use crate::domain::finding::record_kind_vi;
use crate::domain::{Finding, Severity};
use crate::render::{Document, RenderError};
use rust_xlsxwriter::Worksheet;

const HEADERS: [&str; 8] = [
    "STT",
    "Đơn vị",
    "Loại bản ghi",
    "Mã bản ghi",
    "Mức độ",
    "Nội dung và cách khắc phục",
    "Mã phát hiện",
    "Chi tiết kỹ thuật (cho quản trị viên)",
];
const WIDTHS: [f64; 8] = [5.0, 26.0, 12.0, 25.0, 11.0, 54.0, 24.0, 40.0];
/// The printed columns: the technical detail stays on screen.
const PRINTED: u16 = 6;

pub(super) fn sheet(ws: &mut Worksheet, doc: &Document<'_>, s: &Styles) -> Result<(), RenderError> {
    ws.set_name(FINDINGS_SHEET)?;
    let mut page = Page::new(ws, WIDTHS.to_vec())?;
    let title = format!(
        "DANH SÁCH PHÁT HIỆN VỀ DỮ LIỆU — {} — {}",
        doc.form.number,
        doc.period.label_vi()
    );
    page.text((0, 0), (0, PRINTED), &title, &s.title, Weight::Title)?;
    let lead = "Các bản ghi dưới đây có dữ liệu thiếu hoặc chưa đúng trên Hệ thống thông tin giải quyết TTHC. \
                Mức độ \"Lỗi\": bản ghi chưa được tính vào số liệu của biểu; \"Cảnh báo\": đã tính, cần kiểm tra. \
                Sửa trên Hệ thống rồi đồng bộ lại.";
    page.text((1, 0), (1, PRINTED), lead, &s.period, Weight::Regular)?;
    let top = 3;
    for (c, h) in HEADERS.iter().enumerate() {
        page.text((top, c as u16), (top, c as u16), h, &s.header, Weight::Bold)?;
    }
    let tree = doc.units;
    let order: std::collections::HashMap<&str, usize> = tree
        .subtree(tree.root())
        .enumerate()
        .map(|(i, id)| (tree.get(id).code.as_str(), i))
        .collect();
    let mut findings: Vec<&Finding> = doc.findings.iter().collect();
    findings.sort_by_key(|f| {
        (
            f.unit
                .as_deref()
                .and_then(|u| order.get(u).copied())
                .unwrap_or(usize::MAX),
            f.severity,
            f.code.as_str(),
            f.record.as_str(),
        )
    });
    let mut row = top + 1;
    for (i, f) in findings.iter().enumerate() {
        let unit = match f.unit.as_deref() {
            Some(code) => match tree.find(code) {
                Some(id) => format!("{} ({code})", tree.get(id).name),
                None => code.to_owned(),
            },
            None => String::new(),
        };
        let severity = match f.severity {
            Severity::Error => "Lỗi (chưa tính)",
            Severity::Warning => "Cảnh báo (đã tính)",
        };
        page.ws
            .write_number_with_format(row, 0, (i + 1) as f64, &s.stt)?;
        let cells = [
            unit.as_str(),
            record_kind_vi(f.about),
            f.record.as_str(),
            severity,
            &f.describe_vi(),
            f.code.as_str(),
            f.message.as_str(),
        ];
        for (c, text) in cells.iter().enumerate() {
            let col = c as u16 + 1;
            page.text((row, col), (row, col), text, &s.text, Weight::Regular)?;
        }
        row += 1;
    }
    if findings.is_empty() {
        page.text(
            (row, 0),
            (row, PRINTED),
            "Không có phát hiện nào về dữ liệu của kỳ này.",
            &s.text,
            Weight::Regular,
        )?;
        row += 1;
    }
    page.setup(Some((top, top)), row.saturating_sub(1))?;
    page.ws
        .set_print_area(0, 0, row.saturating_sub(1), PRINTED)?;
    page.ws.set_freeze_panes(top + 1, 0)?;
    page.ws.autofilter(
        top,
        0,
        row.saturating_sub(1).max(top),
        HEADERS.len() as u16 - 1,
    )?;
    page.finish()?;
    Ok(())
}
