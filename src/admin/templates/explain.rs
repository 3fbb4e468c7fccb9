//! The dossiers behind one figure: each counted with the rule in an official's words and the
//! dates it was judged on, then the dossiers of that unit and field left out, with their findings.

use maud::html;

pub struct Explain<'a> {
    pub back: String,
    pub form: &'a str,
    pub unit: &'a str,
    pub unit_name: String,
    pub row: String,
    pub column: u32,
    pub header: &'a str,
    pub figure: usize,
    /// Counted: record, unit's name, field's name, why.
    pub counted: Vec<[String; 4]>,
    /// Left out: record, field's name, the finding.
    pub left_out: Vec<[String; 3]>,
}

pub fn render(e: &Explain) -> String {
    super::page(
        "Giải thích số liệu",
        html! {
            h1 { "Giải thích số liệu" }
            p {
                "Biểu " (e.form) " · " (e.unit_name) " (" (e.unit) ") · dòng: " (e.row)
                " · cột (" (e.column) ") " (e.header)
            }
            p #figure { "Số liệu: " b { (e.figure) } " hồ sơ" }
            table #dossiers {
                tr { th { "STT" } th { "Mã hồ sơ" } th { "Đơn vị" } th { "Lĩnh vực" } th { "Lý do được tính" } }
                @for (i, [record, unit, field, reason]) in e.counted.iter().enumerate() {
                    tr.dossier {
                        td.n { (i + 1) } td { (record) } td { (unit) } td { (field) } td { (reason) }
                    }
                }
            }
            @if !e.left_out.is_empty() {
                h2 { "Không tính vào số liệu (" (e.left_out.len()) " hồ sơ)" }
                table #left-out {
                    tr { th { "Mã hồ sơ" } th { "Lĩnh vực" } th { "Vấn đề" } }
                    @for [record, field, reason] in &e.left_out {
                        tr { td { (record) } td { (field) } td { (reason) } }
                    }
                }
            }
            p { a href=(e.back) { "← Về trang đơn vị" } }
        },
    )
}
