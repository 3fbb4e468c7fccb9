//! II.01-ĐC narratives as Markdown and as DOCX (Times New Roman, the places officials must write
//! highlighted in yellow), one unit after another.

use super::RenderError;
use crate::forms::narrative::{Block, Narrative, PLACEHOLDER};
use docx_rs::{
    AlignmentType, BreakType, Docx, LineSpacing, Paragraph, Run, RunFonts, Table, TableCell,
    TableRow, WidthType,
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
        for section in &n.sections {
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

fn run(text: &str) -> Run {
    Run::new()
        .add_text(text)
        .fonts(
            RunFonts::new()
                .ascii("Times New Roman")
                .hi_ansi("Times New Roman")
                .cs("Times New Roman"),
        )
        .size(26)
}

pub fn docx(narratives: &[Narrative]) -> Result<Vec<u8>, RenderError> {
    let mut doc = Docx::new();
    for (i, n) in narratives.iter().enumerate() {
        if i > 0 {
            doc =
                doc.add_paragraph(Paragraph::new().add_run(Run::new().add_break(BreakType::Page)));
        }
        doc = doc
            .add_paragraph(Paragraph::new().add_run(run(&n.unit_name.to_uppercase()).bold()))
            .add_paragraph(Paragraph::new().align(AlignmentType::Center).add_run(run(&n.title).bold().size(28)))
            .add_paragraph(Paragraph::new().align(AlignmentType::Center).add_run(run(&format!("Kỳ báo cáo: {}", n.period)).italic()))
            .add_paragraph(Paragraph::new().add_run(
                run(&format!(
                    "Bản nháp do baocao-sync lập từ số liệu của các biểu; các chỗ đánh dấu {PLACEHOLDER} do cán bộ viết \
                     trước khi duyệt, ký và gửi."
                ))
                .italic()
                .size(22),
            ));
        for section in &n.sections {
            doc = doc.add_paragraph(Paragraph::new().add_run(run(&section.heading).bold()));
            for block in &section.blocks {
                doc = match block {
                    Block::Paragraph { text } => doc.add_paragraph(
                        Paragraph::new()
                            .align(AlignmentType::Both)
                            .line_spacing(LineSpacing::new().after(120))
                            .add_run(run(text)),
                    ),
                    Block::Placeholder { prompt } => doc.add_paragraph(
                        Paragraph::new()
                            .add_run(run(PLACEHOLDER).bold().highlight("yellow"))
                            .add_run(run(&format!(" {prompt}")).italic().highlight("yellow")),
                    ),
                    Block::Table { header, rows } => {
                        let cell = |t: &str, bold: bool| {
                            let r = if bold { run(t).bold() } else { run(t) };
                            TableCell::new().add_paragraph(Paragraph::new().add_run(r))
                        };
                        let mut table_rows = vec![TableRow::new(
                            header.iter().map(|h| cell(h, true)).collect(),
                        )];
                        table_rows
                            .extend(rows.iter().map(|r| {
                                TableRow::new(r.iter().map(|c| cell(c, false)).collect())
                            }));
                        doc.add_table(Table::new(table_rows).width(9000, WidthType::Dxa))
                    }
                };
            }
        }
    }
    let mut buf = std::io::Cursor::new(Vec::new());
    doc.build()
        .pack(&mut buf)
        .map_err(|e| RenderError::Io(std::io::Error::other(e.to_string())))?;
    Ok(buf.into_inner())
}
