//! An explained figure (`forms::explain`) as JSON, as text an official reads, or as a workbook:
//! the dossiers counted in the cell with the rule that placed each, then those left out with their
//! findings.

use super::RenderError;
use crate::forms::explain::Explanation;
use rust_xlsxwriter::{Format, Workbook};

pub fn json(e: &Explanation, out: &mut dyn std::io::Write) -> Result<(), RenderError> {
    serde_json::to_writer_pretty(&mut *out, e)?;
    out.write_all(b"\n")?;
    Ok(())
}

pub fn text(e: &Explanation, out: &mut dyn std::io::Write) -> Result<(), RenderError> {
    writeln!(
        out,
        "{} {} ({} – {}), đơn vị {}, dòng {}, cột {} ({}): {} hồ sơ",
        e.form,
        e.period.id,
        e.period.from,
        e.period.to,
        e.unit,
        e.row,
        e.column,
        e.header,
        e.figure
    )?;
    for (i, d) in e.counted.iter().enumerate() {
        writeln!(
            out,
            "{:>4}. {} ({}, {}): {}",
            i + 1,
            d.record,
            d.unit,
            d.field,
            d.reason
        )?;
    }
    if !e.left_out.is_empty() {
        writeln!(out, "Không tính vào số liệu ({} hồ sơ):", e.left_out.len())?;
        for d in &e.left_out {
            writeln!(
                out,
                "      {} ({}, {}): {} [{}]",
                d.record, d.unit, d.field, d.reason, d.code
            )?;
        }
    }
    Ok(())
}

pub fn xlsx(e: &Explanation) -> Result<Vec<u8>, RenderError> {
    let mut wb = Workbook::new();
    let bold = Format::new().set_bold().set_text_wrap();
    let wrap = Format::new().set_text_wrap();
    let ws = wb.add_worksheet().set_name("Giải thích")?;
    ws.write_with_format(
        0,
        0,
        format!(
            "{} kỳ {} ({} – {}), đơn vị {}, dòng {}, cột {}: {} — {} hồ sơ",
            e.form,
            e.period.id,
            e.period.from,
            e.period.to,
            e.unit,
            e.row,
            e.column,
            e.header,
            e.figure
        ),
        &bold,
    )?;
    let headers = [
        ("STT", 6.0),
        ("Mã hồ sơ", 24.0),
        ("Đơn vị", 18.0),
        ("Lĩnh vực", 14.0),
        ("Lý do được tính", 60.0),
        ("Ngày tiếp nhận", 14.0),
        ("Hạn trả", 14.0),
        ("Ngày kết thúc", 14.0),
        ("Trạng thái", 10.0),
    ];
    for (c, (h, w)) in headers.iter().enumerate() {
        ws.write_with_format(2, c as u16, *h, &bold)?;
        ws.set_column_width(c as u16, *w)?;
    }
    let mut r = 3;
    for (i, d) in e.counted.iter().enumerate() {
        ws.write_number(r, 0, (i + 1) as f64)?;
        ws.write(r, 1, &d.record)?;
        ws.write(r, 2, &d.unit)?;
        ws.write(r, 3, &d.field)?;
        ws.write_with_format(r, 4, &d.reason, &wrap)?;
        for (c, v) in [(5, &d.received), (6, &d.due), (7, &d.finished)] {
            ws.write(r, c, v.as_deref().unwrap_or(""))?;
        }
        ws.write_number(r, 8, f64::from(d.status))?;
        r += 1;
    }
    if !e.left_out.is_empty() {
        r += 1;
        ws.write_with_format(
            r,
            0,
            format!("Không tính vào số liệu: {} hồ sơ", e.left_out.len()),
            &bold,
        )?;
        r += 1;
        for (c, h) in [
            "",
            "Mã hồ sơ",
            "Đơn vị",
            "Lĩnh vực",
            "Lý do",
            "Mã phát hiện",
        ]
        .iter()
        .enumerate()
        {
            ws.write_with_format(r, c as u16, *h, &bold)?;
        }
        for d in &e.left_out {
            r += 1;
            ws.write(r, 1, &d.record)?;
            ws.write(r, 2, &d.unit)?;
            ws.write(r, 3, &d.field)?;
            ws.write_with_format(r, 4, &d.reason, &wrap)?;
            ws.write(r, 5, &d.code)?;
        }
    }
    ws.set_freeze_panes(3, 0)?;
    Ok(wb.save_to_buffer()?)
}
