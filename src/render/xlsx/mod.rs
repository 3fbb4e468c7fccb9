//! XLSX laid out as the circular's templates print: per sheet the head of the form (number, basis,
//! reporting and receiving unit, title, period, measure), the header as deep as the definition's
//! groups, the numbered row, the figures (totals as formulas with their values cached, so a total
//! stays right when an official edits a cell), and the signature block with its date line; A4
//! landscape, one page wide, header rows repeated, page numbers. One sheet per unit, named and
//! ordered by the unit tree, after an index sheet; the findings on a sheet of their own, in
//! Vietnamese.
//!
//! Everything that differs between forms or regimes (columns, header groups, widths, signers) is
//! the form definition's; this module only lays it out.

mod findings;
mod page;
mod satisfaction;
mod tables;

pub use page::UNIT_CODE_LABEL;

use super::{Document, RenderError, Reports};
use crate::domain::UnitTree;
use rust_xlsxwriter::{Color, Format, FormatAlign, FormatBorder, FormatUnderline, Workbook};

pub use crate::forms::reconcile::{FINDINGS_SHEET, INDEX_SHEET};

pub(super) struct Styles {
    bold: Format,
    bold_left: Format,
    italic: Format,
    small_italic: Format,
    title: Format,
    period: Format,
    right_italic: Format,
    header: Format,
    number_row: Format,
    text: Format,
    count: Format,
    stt: Format,
    percent: Format,
    total_text: Format,
    total_count: Format,
    section_stt: Format,
    date_line: Format,
    sign_title: Format,
    sign_hint: Format,
    link: Format,
    note: Format,
}

impl Styles {
    fn new() -> Styles {
        let base = Format::new()
            .set_font_name("Times New Roman")
            .set_font_size(12)
            .set_align(FormatAlign::VerticalCenter);
        let boxed = base.clone().set_border(FormatBorder::Thin).set_text_wrap();
        let count = boxed
            .clone()
            .set_align(FormatAlign::Center)
            .set_num_format("#,##0");
        let percent = boxed
            .clone()
            .set_align(FormatAlign::Center)
            .set_num_format("0.0");
        Styles {
            bold: base.clone().set_bold().set_text_wrap(),
            bold_left: base.clone().set_bold().set_text_wrap(),
            italic: base.clone().set_italic().set_text_wrap(),
            small_italic: base.clone().set_italic().set_font_size(10),
            title: base
                .clone()
                .set_bold()
                .set_font_size(13)
                .set_align(FormatAlign::Center)
                .set_text_wrap(),
            period: base
                .clone()
                .set_italic()
                .set_align(FormatAlign::Center)
                .set_text_wrap(),
            right_italic: base.clone().set_italic().set_align(FormatAlign::Right),
            header: boxed.clone().set_bold().set_align(FormatAlign::Center),
            number_row: boxed.clone().set_italic().set_align(FormatAlign::Center),
            text: boxed.clone(),
            stt: count.clone().set_num_format("0"),
            total_text: boxed.clone().set_bold(),
            total_count: count.clone().set_bold(),
            section_stt: boxed.clone().set_bold().set_align(FormatAlign::Center),
            count,
            percent,
            date_line: base
                .clone()
                .set_italic()
                .set_align(FormatAlign::Center)
                .set_text_wrap(),
            sign_title: base
                .clone()
                .set_bold()
                .set_align(FormatAlign::Center)
                .set_text_wrap(),
            sign_hint: base
                .clone()
                .set_italic()
                .set_align(FormatAlign::Center)
                .set_text_wrap(),
            link: boxed
                .clone()
                .set_font_color(Color::RGB(0x0563C1))
                .set_underline(FormatUnderline::Single),
            note: base.set_italic().set_font_color(Color::Red).set_text_wrap(),
        }
    }
}

pub fn to_bytes(doc: &Document<'_>) -> Result<Vec<u8>, RenderError> {
    // Printed in numeric column order, whatever order the definition lists them in (II.05a
    // defines (8) (10) (9)); row keys and the JSON keep the definition's.
    let printed = doc.form.in_numeric_order();
    let doc = &Document {
        form: &printed,
        ..*doc
    };
    let mut book = Workbook::new();
    // The default font sets the width of a column unit. Times New Roman (Liberation Serif, its
    // metric twin, where it is not installed) gives the 7-pixel unit Excel's Calibri gives, on
    // every machine: a missing Calibri is replaced by a wider font that changes the printed
    // scale, and with it where pages break.
    book.set_default_format(
        &Format::new()
            .set_font_name("Times New Roman")
            .set_font_size(11),
        20,
        64,
    )?;
    let styles = Styles::new();
    match doc.reports {
        Reports::PerUnit(reports) => {
            let sheets = name_sheets(doc.units, reports.iter().map(|r| r.unit.as_str()));
            index_sheet(book.add_worksheet(), doc, &sheets, &styles)?;
            for sheet in &sheets {
                let r = reports
                    .iter()
                    .find(|r| r.unit == sheet.unit)
                    .expect("named");
                tables::per_unit_sheet(book.add_worksheet(), doc, r, &sheet.name, &styles)?;
            }
        }
        Reports::Aggregate(reports, members) => {
            let sheets = name_sheets(doc.units, reports.iter().map(|r| r.unit.as_str()));
            index_sheet(book.add_worksheet(), doc, &sheets, &styles)?;
            for sheet in &sheets {
                let r = reports
                    .iter()
                    .find(|r| r.unit == sheet.unit)
                    .expect("named");
                tables::aggregate_sheet(
                    book.add_worksheet(),
                    doc,
                    r,
                    members,
                    &sheet.name,
                    &styles,
                )?;
            }
        }
        Reports::Satisfaction(units, aggregates) => {
            satisfaction::sheet(book.add_worksheet(), doc, units, aggregates, &styles)?;
        }
        Reports::Narrative(_) => unreachable!("render::write sends narratives to md or docx"),
    }
    findings::sheet(book.add_worksheet(), doc, &styles)?;
    Ok(book.save_to_buffer()?)
}

/// A unit's sheet.
pub(super) struct Sheet<'a> {
    unit: &'a str,
    name: String,
}

/// Sheets in the order of the unit tree (the province, then each unit after its parent, in the
/// configuration's order), each named "NN Unit name": at most 31 characters, none of `[]:*?/\`,
/// unique by their number. Units outside the tree come last, by code.
pub(super) fn name_sheets<'a>(
    units: &UnitTree,
    codes: impl Iterator<Item = &'a str>,
) -> Vec<Sheet<'a>> {
    let mut codes: Vec<&str> = codes.collect();
    let order: std::collections::HashMap<&str, usize> = units
        .print_order()
        .into_iter()
        .enumerate()
        .map(|(i, id)| (units.get(id).code.as_str(), i))
        .collect();
    codes.sort_by_key(|c| (order.get(c).copied().unwrap_or(usize::MAX), *c));
    let digits = codes.len().to_string().len().max(2);
    codes
        .into_iter()
        .enumerate()
        .map(|(i, code)| {
            let name = units
                .find(code)
                .map_or(code, |id| units.get(id).name.as_str());
            let clean: String = format!("{:0digits$} {name}", i + 1)
                .chars()
                .map(|c| if "[]:*?/\\".contains(c) { '-' } else { c })
                .take(31)
                .collect();
            Sheet {
                unit: code,
                name: clean.trim_end().trim_end_matches('\'').to_owned(),
            }
        })
        .collect()
}

/// The index: one row per unit sheet, linked, then the findings sheet.
fn index_sheet(
    ws: &mut rust_xlsxwriter::Worksheet,
    doc: &Document<'_>,
    sheets: &[Sheet<'_>],
    s: &Styles,
) -> Result<(), RenderError> {
    use rust_xlsxwriter::Url;
    ws.set_name(INDEX_SHEET)?;
    let mut page = page::Page::new(ws, vec![6.0, 46.0, 22.0, 30.0])?;
    let title = format!("{} — {}", doc.form.number, doc.form.title);
    page.text((0, 0), (0, 3), &title, &s.title, page::Weight::Title)?;
    let period = format!(
        "Kỳ báo cáo: {} ({})",
        doc.period.label_vi(),
        doc.period.window_vi()
    );
    page.text((1, 0), (1, 3), &period, &s.period, page::Weight::Regular)?;
    for (c, h) in ["STT", "Đơn vị (trang tính)", "Mã đơn vị", "Loại đơn vị"]
        .iter()
        .enumerate()
    {
        page.text(
            (3, c as u16),
            (3, c as u16),
            h,
            &s.header,
            page::Weight::Bold,
        )?;
    }
    let mut row = 4;
    for (i, sheet) in sheets.iter().enumerate() {
        let kind = doc
            .units
            .find(sheet.unit)
            .map_or("", |id| super::kind_label_vi(&doc.units.get(id).kind));
        page.ws
            .write_number_with_format(row, 0, (i + 1) as f64, &s.stt)?;
        let link = Url::new(format!("internal:'{}'!A1", sheet.name)).set_text(&sheet.name);
        page.ws.write_url_with_format(row, 1, link, &s.link)?;
        page.need(row, 18.75);
        page.cell(row, 2, sheet.unit, &s.text)?;
        page.cell(row, 3, kind, &s.text)?;
        row += 1;
    }
    let findings = format!("{FINDINGS_SHEET}: {} phát hiện", doc.findings.len());
    let link = Url::new(format!("internal:'{FINDINGS_SHEET}'!A1")).set_text(&findings);
    page.ws.write_url_with_format(row + 1, 1, link, &s.link)?;
    page.need(row + 1, 18.75);
    page.setup(Some((3, 3)), row + 1)?;
    page.ws.set_portrait();
    if let Some(note) = provisional_note(doc) {
        page.text(
            (row + 3, 0),
            (row + 3, 3),
            &note,
            &s.note,
            page::Weight::Regular,
        )?;
    }
    page.ws.set_freeze_panes(4, 0)?;
    page.finish()?;
    Ok(())
}

/// The warning for a form whose layout is not confirmed from the official text: shown beside the
/// form, never printed on it.
pub(super) fn provisional_note(doc: &Document<'_>) -> Option<String> {
    (doc.form.provisional || doc.regime.provisional).then(|| {
        format!(
            "Lưu ý (không in): mẫu {} theo {} là mẫu tạm thời, chưa đối chiếu với văn bản chính thức; \
             kiểm tra lại bố cục trước khi ký.",
            doc.form.code, doc.regime.name
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sheet_names_follow_the_print_order_and_stay_unique_within_31_characters() {
        let units = UnitTree::from_toml(
            "[[units]]\ncode=\"P\"\nname=\"UBND tỉnh\"\nkind=\"province\"\nparent=\"\"\n\
             [[units]]\ncode=\"H\"\nname=\"UBND huyện\"\nkind=\"district\"\nparent=\"P\"\n\
             [[units]]\ncode=\"X\"\nname=\"UBND xã Một Hai Ba Bốn Năm Sáu Bảy Tám\"\nkind=\"commune\"\nparent=\"H\"\n\
             [[units]]\ncode=\"Y\"\nname=\"UBND xã Một Hai Ba Bốn Năm Sáu Bảy Chín\"\nkind=\"commune\"\nparent=\"H\"\n\
             [[units]]\ncode=\"S\"\nname=\"Sở Kế hoạch/Đầu tư [cũ]\"\nkind=\"department\"\nparent=\"P\"\n",
        )
        .unwrap();
        let sheets = name_sheets(&units, ["S", "Y", "X", "H", "Z"].into_iter());
        let names: Vec<&str> = sheets.iter().map(|s| s.name.as_str()).collect();
        let codes: Vec<&str> = sheets.iter().map(|s| s.unit).collect();
        // Highest level first, within a level by kind (the department before the district), then
        // tree order; unknown units last.
        assert_eq!(codes, ["S", "H", "X", "Y", "Z"]);
        assert_eq!(names[0], "01 Sở Kế hoạch-Đầu tư -cũ-");
        assert_eq!(names[1], "02 UBND huyện");
        assert_eq!(names[4], "05 Z");
        assert!(names.iter().all(|n| n.chars().count() <= 31));
        // The two long commune names are equal in their first 31 characters but for the number.
        assert_ne!(names[2], names[3]);
    }
}
