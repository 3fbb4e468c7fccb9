//! II.01-ĐC narratives as Markdown, and as DOCX laid out as an administrative document of Decree
//! 30/2020/NĐ-CP (Phụ lục I): national title and motto beside the issuing body and the number, the
//! place and date line, "BÁO CÁO" and its summary, "Kính gửi", the body (headings kept with what
//! follows), the signer block beside "Nơi nhận", the findings appendix when the text refers to it.
//! A4, Times New Roman 14 (13 in tables), margins top and bottom 20 mm, left 30 mm, right 15 mm,
//! page numbers at the top from the second page. The places officials must write are highlighted.
//!
//! One DOCX per unit, so that each can be signed on its own; several units go in one ZIP.

use super::RenderError;
use super::texts::{DocumentTexts, UnitTexts};
use crate::domain::UnitTree;
use crate::forms::narrative::{Block, Narrative, PLACEHOLDER, Section};
use docx_rs::{
    AlignmentType, Docx, Header, LineSpacing, PageMargin, PageNum, Paragraph, ParagraphBorder,
    ParagraphBorderPosition, ParagraphBorders, Run, RunFonts, SpecialIndentType, Table, TableCell,
    TableLayoutType, TableRow, WidthType,
};

pub fn markdown(narratives: &[Narrative], out: &mut dyn std::io::Write) -> Result<(), RenderError> {
    let mut s = String::new();
    for (i, n) in narratives.iter().enumerate() {
        if i > 0 {
            s.push_str("\n---\n\n");
        }
        s.push_str(&format!("# {}\n\n", n.title));
        s.push_str(&format!(
            "**Đơn vị:** {} ({})  \n**Kỳ báo cáo:** {}\n\n",
            n.unit_name, n.unit, n.period
        ));
        s.push_str(&format!(
            "> Bản nháp do baocao-sync lập từ số liệu của các biểu; các chỗ đánh dấu {PLACEHOLDER} do cán bộ \
             viết trước khi duyệt, ký và gửi.\n\n"
        ));
        for section in n.sections.iter().chain(&n.appendix) {
            s.push_str(&format!("## {}\n\n", section.heading));
            for block in &section.blocks {
                match block {
                    Block::Paragraph { text } => s.push_str(&format!("{text}\n\n")),
                    Block::Placeholder { prompt } => {
                        s.push_str(&format!("**{PLACEHOLDER}** _{prompt}_\n\n"))
                    }
                    Block::Table { header, rows } => {
                        s.push_str(&format!("| {} |\n", header.join(" | ")));
                        s.push_str(&format!("|{}\n", "---|".repeat(header.len())));
                        for r in rows {
                            s.push_str(&format!("| {} |\n", r.join(" | ")));
                        }
                        s.push('\n');
                    }
                }
            }
        }
    }
    out.write_all(s.as_bytes())?;
    Ok(())
}

/// Millimetres in twentieths of a point (1440 to the inch), rounded.
const fn mm(n: i32) -> i32 {
    (n * 14400 + 127) / 254
}
/// A4 in twentieths of a point.
const A4: (u32, u32) = (11906, 16838);
const MARGIN_TOP: i32 = mm(20);
const MARGIN_BOTTOM: i32 = mm(20);
const MARGIN_LEFT: i32 = mm(30);
const MARGIN_RIGHT: i32 = mm(15);
/// The text width between the margins.
const TEXT_WIDTH: usize = (A4.0 as i32 - MARGIN_LEFT - MARGIN_RIGHT) as usize;
/// Sizes in half-points.
pub(super) const BODY: usize = 28;
const TABLE: usize = 26;
const SMALL: usize = 24;
const NOTE: usize = 22;
/// The widest character of a table's text (a digit or capital at 13 pt), and a cell's inner
/// margin, in twips.
const TABLE_CHAR: usize = 135;
const CELL_MARGIN: usize = 115;

fn fonts() -> RunFonts {
    RunFonts::new()
        .ascii("Times New Roman")
        .hi_ansi("Times New Roman")
        .east_asia("Times New Roman")
        .cs("Times New Roman")
}

pub(super) fn run(text: &str, size: usize) -> Run {
    Run::new().add_text(text).fonts(fonts()).size(size)
}

fn centered(r: Run) -> Paragraph {
    Paragraph::new().align(AlignmentType::Center).add_run(r)
}

/// A short rule under a centred block, `keep` twentieths of a point of the box left on each
/// side.
fn rule(keep: i32) -> Paragraph {
    let mut p = Paragraph::new()
        .align(AlignmentType::Center)
        .indent(Some(keep), None, Some(keep), None)
        .line_spacing(LineSpacing::new().after(0).line(120));
    p.property = p.property.set_borders(
        ParagraphBorders::with_empty().set(
            ParagraphBorder::new(ParagraphBorderPosition::Bottom)
                .size(6)
                .space(1),
        ),
    );
    p
}

/// A cell of a table laid out without lines.
fn plain_cell(width: usize, paragraphs: Vec<Paragraph>) -> TableCell {
    paragraphs
        .into_iter()
        .fold(TableCell::new().width(width, WidthType::Dxa), |c, p| {
            c.add_paragraph(p)
        })
        .clear_all_border()
}

fn two_columns(left: (usize, Vec<Paragraph>), right: (usize, Vec<Paragraph>)) -> Table {
    Table::without_borders(vec![
        TableRow::new(vec![
            plain_cell(left.0, left.1),
            plain_cell(right.0, right.1),
        ])
        .cant_split(),
    ])
    .set_grid(vec![left.0, right.0])
    .layout(TableLayoutType::Fixed)
    .width(TEXT_WIDTH, WidthType::Dxa)
}

fn highlight(text: &str, size: usize) -> Run {
    run(text, size).highlight("yellow")
}

/// The head: issuing body and number on the left, national title, motto and date on the right.
fn head(t: &UnitTexts) -> Table {
    head_with(t, &format!("Số: …/BC-{}", t.abbreviation), None)
}

/// The head with its number line, and for a letter the subject ("V/v …") under it.
pub(super) fn head_with(t: &UnitTexts, number: &str, subject: Option<&str>) -> Table {
    let mut left = Vec::new();
    if !t.superior.is_empty() {
        left.push(centered(run(&t.superior.to_uppercase(), SMALL + 2)));
    }
    left.push(centered(run(&t.issuer.to_uppercase(), SMALL + 2).bold()));
    left.push(rule(1000));
    left.push(
        Paragraph::new()
            .align(AlignmentType::Center)
            .line_spacing(LineSpacing::new().before(120))
            .add_run(run(number, SMALL + 2)),
    );
    if let Some(subject) = subject {
        left.push(
            Paragraph::new()
                .align(AlignmentType::Center)
                .line_spacing(LineSpacing::new().before(60))
                .add_run(run(subject, SMALL)),
        );
    }
    let right = vec![
        centered(run("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", SMALL + 2).bold()),
        centered(run("Độc lập - Tự do - Hạnh phúc", BODY).bold()),
        rule(1300),
        Paragraph::new()
            .align(AlignmentType::Center)
            .line_spacing(LineSpacing::new().before(120))
            .add_run(run(&format!("{}, ngày … tháng … năm …", t.place), BODY).italic()),
    ];
    two_columns((3600, left), (TEXT_WIDTH - 3600, right))
}

/// Where the "Kính gửi" lines start, and the width of "Kính gửi: " at 14 pt, in twips.
const ADDRESSEES: i32 = 1800;
const KINH_GUI: i32 = 1250;

/// "BÁO CÁO", the summary, the period, "Kính gửi".
fn title(n: &Narrative, t: &UnitTexts) -> Vec<Paragraph> {
    let summary = n.title.trim_start_matches("BÁO CÁO").trim();
    let summary = sentence_case(summary);
    let mut out = vec![
        Paragraph::new()
            .align(AlignmentType::Center)
            .line_spacing(LineSpacing::new().before(360))
            .add_run(run("BÁO CÁO", BODY).bold()),
        centered(run(&summary, BODY).bold()),
        centered(run(&format!("Kỳ báo cáo: {}", n.period), BODY).italic()),
        rule(3600),
    ];
    out.extend(kinh_gui(&t.addressees));
    out
}

/// "Kính gửi:" and its addressees (Decree 30).
pub(super) fn kinh_gui(addressees: &[String]) -> Vec<Paragraph> {
    let mut out = Vec::new();
    let lead = Paragraph::new()
        .align(AlignmentType::Center)
        .line_spacing(LineSpacing::new().before(240).after(240));
    match addressees {
        [] => {}
        [one] => out.push(lead.add_run(run(&format!("Kính gửi: {one}."), BODY))),
        many => {
            // Decree 30: the first addressee on the line of "Kính gửi:", the others under it.
            for (i, a) in many.iter().enumerate() {
                let end = if i + 1 == many.len() { "." } else { ";" };
                let line = Paragraph::new().keep_next(i + 1 < many.len());
                out.push(if i == 0 {
                    line.indent(Some(ADDRESSEES), None, None, None)
                        .line_spacing(LineSpacing::new().before(240))
                        .add_run(run(&format!("Kính gửi: - {a}{end}"), BODY))
                } else {
                    let after = if i + 1 == many.len() { 240 } else { 0 };
                    line.indent(Some(ADDRESSEES + KINH_GUI), None, None, None)
                        .line_spacing(LineSpacing::new().after(after))
                        .add_run(run(&format!("- {a}{end}"), BODY))
                });
            }
        }
    }
    out
}

/// "TÌNH HÌNH, KẾT QUẢ" → "Tình hình, kết quả" (the summary line is not in capitals).
fn sentence_case(s: &str) -> String {
    let lower = s.to_lowercase();
    let mut chars = lower.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => lower,
    }
}

pub(super) fn body_paragraph() -> Paragraph {
    Paragraph::new()
        .align(AlignmentType::Both)
        .indent(None, Some(SpecialIndentType::FirstLine(567)), None, None)
        .line_spacing(LineSpacing::new().before(0).after(120).line(276))
        .widow_control(true)
}

fn heading(text: &str) -> Paragraph {
    Paragraph::new()
        .align(AlignmentType::Both)
        .indent(None, Some(SpecialIndentType::FirstLine(567)), None, None)
        .line_spacing(LineSpacing::new().before(120).after(120))
        .keep_next(true)
        .keep_lines(true)
        .add_run(run(text, BODY).bold())
}

fn table(header: &[String], rows: &[Vec<String>]) -> Table {
    // Each column as wide as its longest text asks, within bounds.
    let n = header.len().max(1);
    let weight = |i: usize| {
        std::iter::once(header.get(i).map_or(0, |h| h.chars().count().min(16)))
            .chain(
                rows.iter()
                    .map(|r| r.get(i).map_or(0, |c| c.chars().count())),
            )
            .max()
            .unwrap_or(1)
            .clamp(9, 60)
    };
    let weights: Vec<usize> = (0..n).map(weight).collect();
    let total: usize = weights.iter().sum();
    // No word is broken: each column is at least as wide as its longest word (a record code is
    // one word), and what is left is shared by the weights.
    let longest_word = |i: usize| {
        std::iter::once(header.get(i))
            .chain(rows.iter().map(|r| r.get(i)))
            .flatten()
            .flat_map(|t| t.split_whitespace())
            .map(|w| w.chars().count())
            .max()
            .unwrap_or(1)
    };
    let floor: Vec<usize> = (0..n)
        .map(|i| longest_word(i) * TABLE_CHAR + 2 * CELL_MARGIN)
        .collect();
    let spare = TEXT_WIDTH.saturating_sub(floor.iter().sum());
    let widths: Vec<usize> = if spare == 0 {
        weights.iter().map(|w| TEXT_WIDTH * w / total).collect()
    } else {
        floor
            .iter()
            .zip(&weights)
            .map(|(f, w)| f + spare * w / total)
            .collect()
    };
    let cell = |t: &str, bold: bool, w: usize| {
        let r = run(t, TABLE);
        let r = if bold { r.bold() } else { r };
        TableCell::new()
            .width(w, WidthType::Dxa)
            .add_paragraph(Paragraph::new().add_run(r))
    };
    let mut table_rows = vec![
        TableRow::new(
            header
                .iter()
                .zip(&widths)
                .map(|(h, w)| cell(h, true, *w))
                .collect(),
        )
        .cant_split(),
    ];
    table_rows.extend(rows.iter().map(|r| {
        TableRow::new(
            r.iter()
                .zip(&widths)
                .map(|(c, w)| cell(c, false, *w))
                .collect(),
        )
        .cant_split()
    }));
    Table::new(table_rows)
        .set_grid(widths)
        .layout(TableLayoutType::Fixed)
        .width(TEXT_WIDTH, WidthType::Dxa)
}

/// The body: each section's heading kept with its first block.
/// `keep_last`: the section's last paragraph stays on the page of what follows (the signature
/// block never starts a page alone).
fn section(mut doc: Docx, section: &Section, keep_last: bool) -> Docx {
    doc = doc.add_paragraph(heading(&section.heading));
    let last = section.blocks.len().saturating_sub(1);
    for (i, block) in section.blocks.iter().enumerate() {
        let keep = keep_last && i == last;
        doc = match block {
            Block::Paragraph { text } => {
                doc.add_paragraph(body_paragraph().keep_next(keep).add_run(run(text, BODY)))
            }
            Block::Placeholder { prompt } => doc.add_paragraph(
                body_paragraph()
                    .keep_next(keep)
                    .add_run(highlight(PLACEHOLDER, BODY).bold())
                    .add_run(highlight(&format!(" {prompt}"), BODY).italic()),
            ),
            Block::Table { header, rows } => doc
                .add_table(table(header, rows))
                .add_paragraph(Paragraph::new().add_run(run("", NOTE))),
        };
    }
    doc
}

/// The signer beside "Nơi nhận".
pub(super) fn signature(t: &UnitTexts) -> Table {
    let mut left = vec![
        Paragraph::new()
            .line_spacing(LineSpacing::new().before(240))
            .add_run(run("Nơi nhận:", SMALL).bold().italic()),
    ];
    let recipients: Vec<String> = t.recipients.clone();
    for (i, r) in recipients.iter().enumerate() {
        let end = if i + 1 == recipients.len() { "." } else { ";" };
        left.push(
            Paragraph::new()
                .keep_next(true)
                .add_run(run(&format!("- {r}{end}"), NOTE)),
        );
    }
    let mut right = vec![
        Paragraph::new()
            .align(AlignmentType::Center)
            .line_spacing(LineSpacing::new().before(240))
            .keep_next(true)
            .add_run(run(&t.signer_authority.to_uppercase(), BODY).bold()),
        centered(run(&t.signer_title.to_uppercase(), BODY).bold()).keep_next(true),
    ];
    for _ in 0..4 {
        right.push(Paragraph::new().keep_next(true).add_run(run("", BODY)));
    }
    right.push(if t.signer_name.is_empty() {
        centered(highlight("[Họ và tên người ký]", BODY).bold())
    } else {
        centered(run(&t.signer_name, BODY).bold())
    });
    two_columns((4200, left), (TEXT_WIDTH - 4200, right))
}

/// The list the body refers to, on a page of its own.
fn appendix(mut doc: Docx, appendix: &Section, t: &UnitTexts) -> Docx {
    doc = doc
        .add_paragraph(
            Paragraph::new()
                .align(AlignmentType::Center)
                .page_break_before(true)
                .add_run(run("Phụ lục", BODY).bold()),
        )
        .add_paragraph(centered(
            run(
                appendix
                    .heading
                    .split_once(": ")
                    .map_or(appendix.heading.as_str(), |(_, h)| h),
                BODY,
            )
            .bold(),
        ))
        .add_paragraph(
            Paragraph::new()
                .align(AlignmentType::Center)
                .line_spacing(LineSpacing::new().after(240))
                .add_run(
                    run(
                        &format!(
                            "(Kèm theo Báo cáo số …/BC-{} ngày … tháng … năm … của {})",
                            t.abbreviation, t.issuer
                        ),
                        BODY,
                    )
                    .italic(),
                ),
        );
    for block in &appendix.blocks {
        doc = match block {
            Block::Table { header, rows } => doc.add_table(table(header, rows)),
            Block::Paragraph { text } => {
                doc.add_paragraph(body_paragraph().add_run(run(text, BODY)))
            }
            Block::Placeholder { prompt } => {
                doc.add_paragraph(body_paragraph().add_run(highlight(prompt, BODY)))
            }
        };
    }
    doc
}

/// One unit's report as a DOCX.
pub fn docx(n: &Narrative, t: &UnitTexts) -> Result<Vec<u8>, RenderError> {
    let mut doc = document(format!(
        "Bản nháp lập từ số liệu các biểu của {} ({}); các chỗ đánh dấu {PLACEHOLDER} do cán bộ viết trước khi ký.",
        n.unit_name, n.unit
    ))
    .add_table(head(t));
    for p in title(n, t) {
        doc = doc.add_paragraph(p);
    }
    for (i, s) in n.sections.iter().enumerate() {
        doc = section(doc, s, i + 1 == n.sections.len());
    }
    doc = doc.add_table(signature(t));
    if let Some(a) = &n.appendix {
        doc = appendix(doc, a, t);
    }
    pack(doc)
}

/// An A4 Decree 30 document: margins, Times New Roman, page numbers from the second page, and a
/// note of where it comes from in its properties.
pub(super) fn document(origin: String) -> Docx {
    let page_number = Header::new().add_paragraph(
        Paragraph::new()
            .align(AlignmentType::Center)
            .add_page_num(PageNum::new())
            .size(BODY)
            .fonts(fonts()),
    );
    Docx::new()
        .page_size(A4.0, A4.1)
        .page_margin(
            PageMargin::new()
                .top(MARGIN_TOP)
                .bottom(MARGIN_BOTTOM)
                .left(MARGIN_LEFT)
                .right(MARGIN_RIGHT)
                .header(mm(10))
                .footer(mm(10)),
        )
        .default_fonts(fonts())
        .default_size(BODY)
        .header(page_number)
        .first_header(Header::new())
        .title_pg()
        .custom_property("baocao-sync", origin)
}

pub(super) fn pack(doc: Docx) -> Result<Vec<u8>, RenderError> {
    let mut buf = std::io::Cursor::new(Vec::new());
    doc.build()
        .pack(&mut buf)
        .map_err(|e| RenderError::Io(std::io::Error::other(e.to_string())))?;
    Ok(buf.into_inner())
}

/// The file name of a unit's report inside a ZIP: its place in the list, code and name.
pub fn file_name(index: usize, n: &Narrative) -> String {
    let name: String = n
        .unit_name
        .chars()
        .map(|c| if "/\\:*?\"<>|".contains(c) { '-' } else { c })
        .collect();
    format!("{:02} {} {}.docx", index + 1, n.unit, name)
}

/// One DOCX per unit, in a ZIP.
pub fn docx_zip(
    narratives: &[Narrative],
    units: &UnitTree,
    texts: &DocumentTexts,
) -> Result<Vec<u8>, RenderError> {
    use std::io::Write;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    for (i, n) in narratives.iter().enumerate() {
        zip.start_file(file_name(i, n), options)
            .map_err(|e| RenderError::Io(std::io::Error::other(e.to_string())))?;
        zip.write_all(&docx(n, &unit_texts(units, texts, &n.unit))?)?;
    }
    let cursor = zip
        .finish()
        .map_err(|e| RenderError::Io(std::io::Error::other(e.to_string())))?;
    Ok(cursor.into_inner())
}

/// The texts of the unit `code` (the defaults when it is not in the tree).
pub fn unit_texts(units: &UnitTree, texts: &DocumentTexts, code: &str) -> UnitTexts {
    match units.find(code) {
        Some(id) => texts.for_unit(units, id),
        None => texts.for_unit(units, units.root()),
    }
}
