//! II.01-ĐC, the narrative outline (đề cương, domain.md §9): a Vietnamese written report per unit
//! drafted from the computed forms, every figure taken from them, with clearly marked places for
//! what only people can write. Pure: it builds a [`Narrative`] that `render` turns into Markdown or
//! DOCX.

use super::satisfaction::{CHANNELS, SatisfactionReport, percent};
use super::{Row, Values};
use crate::domain::finding::record_kind_vi;
use crate::domain::{Finding, Period, RecordKind, Severity};
use serde::Serialize;
use std::collections::HashMap;

/// Text that officials must write; rendered highlighted.
pub const PLACEHOLDER: &str = "[CẦN BỔ SUNG]";

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Narrative {
    pub unit: String,
    pub unit_name: String,
    pub title: String,
    pub period: String,
    pub sections: Vec<Section>,
    /// The records left out of the figures, when the text refers to them: attached to the
    /// document after its body.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub appendix: Option<Section>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Section {
    pub heading: String,
    pub blocks: Vec<Block>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Block {
    Paragraph {
        text: String,
    },
    /// What only people can write: the prompt says what is expected.
    Placeholder {
        prompt: String,
    },
    Table {
        header: Vec<String>,
        rows: Vec<Vec<String>>,
    },
}

/// Which column of II.06a holds each figure the narrative quotes, read from the form definition
/// by metric name (a regime may number its columns differently).
#[derive(Debug, Clone, Copy)]
pub struct DossierColumns {
    pub received: u32,
    pub online: u32,
    pub in_person_or_post: u32,
    pub carried_over: u32,
    pub closed: u32,
    pub early: u32,
    pub on_time: u32,
    pub late: u32,
    pub pending: u32,
    pub pending_within_time: u32,
    pub pending_overdue: u32,
}

/// Which column of II.05a holds each figure the narrative quotes.
#[derive(Debug, Clone, Copy)]
pub struct FeedbackColumns {
    pub received: u32,
    pub carried_over: u32,
    pub received_in_period: u32,
    pub about_regulation: u32,
    pub about_conduct: u32,
    pub processed: u32,
    pub pending: u32,
    pub published: u32,
}

fn metric_column(def: &super::FormDef, metric: &str) -> Result<u32, super::FormError> {
    def.column_of(metric).ok_or_else(|| {
        super::FormError::Definition(format!(
            "{} has no column with metric `{metric}`, which the II.01-ĐC narrative quotes",
            def.code
        ))
    })
}

impl DossierColumns {
    pub fn of(def: &super::FormDef) -> Result<DossierColumns, super::FormError> {
        let c = |m| metric_column(def, m);
        Ok(DossierColumns {
            received: c("received")?,
            online: c("received_online")?,
            in_person_or_post: c("received_in_person_or_post")?,
            carried_over: c("carried_over")?,
            closed: c("closed")?,
            early: c("closed_early")?,
            on_time: c("closed_on_time")?,
            late: c("closed_late")?,
            pending: c("pending")?,
            pending_within_time: c("pending_within_time")?,
            pending_overdue: c("pending_overdue")?,
        })
    }
}

impl FeedbackColumns {
    pub fn of(def: &super::FormDef) -> Result<FeedbackColumns, super::FormError> {
        let c = |m| metric_column(def, m);
        Ok(FeedbackColumns {
            received: c("received")?,
            carried_over: c("carried_over")?,
            received_in_period: c("received_in_period")?,
            about_regulation: c("about_regulation")?,
            about_conduct: c("about_conduct")?,
            processed: c("processed")?,
            pending: c("pending")?,
            published: c("processed_published")?,
        })
    }
}

/// The figures one unit's narrative is drafted from (its own, or its subtree's when it aggregates).
#[derive(Debug, Clone)]
pub struct Facts<'a> {
    pub unit: &'a str,
    pub unit_name: &'a str,
    pub title: &'a str,
    pub period: &'a Period,
    /// II.06a (or II.06 for an aggregating unit) total, and its field rows.
    pub dossiers: Option<(&'a Values, Vec<&'a Row>)>,
    /// II.05a (or II.05) total.
    pub feedback: Option<&'a Values>,
    pub satisfaction: Option<&'a SatisfactionReport>,
    /// Error findings about this unit's records.
    pub errors: Vec<&'a Finding>,
    /// Whether dossiers, ratings and feedback were given at all (absent data is said so).
    pub had_ratings: bool,
    pub had_feedback: bool,
    /// Where each quoted figure is, by the form definitions.
    pub dossier_columns: &'a DossierColumns,
    pub feedback_columns: &'a FeedbackColumns,
}

fn p(text: String) -> Block {
    Block::Paragraph { text }
}

fn todo(prompt: &str) -> Block {
    Block::Placeholder {
        prompt: prompt.to_owned(),
    }
}

/// `part` of `whole` in percent with a decimal comma; `None` when there is no whole to share.
fn share(part: u64, whole: u64) -> Option<String> {
    percent(part, whole).map(|v| format!("{v:.1}%").replace('.', ","))
}

/// Heading of the appendix the text refers to.
pub const APPENDIX_HEADING: &str = "PHỤ LỤC: DANH SÁCH BẢN GHI CHƯA ĐƯỢC TÍNH VÀO SỐ LIỆU";

/// Drafts the narrative of one unit.
pub fn draft(f: &Facts<'_>) -> Narrative {
    let mut sections = Vec::new();

    let mut s1 = Vec::new();
    match &f.dossiers {
        Some((v, rows)) => {
            let k = f.dossier_columns;
            let c = |n| v.get(n);
            let online_share = share(c(k.online), c(k.online) + c(k.in_person_or_post))
                .map_or_else(String::new, |v| format!(", chiếm {v}"));
            s1.push(p(format!(
                "Tổng số hồ sơ nhận giải quyết trong kỳ: {} hồ sơ, trong đó: tiếp nhận mới trong kỳ {} hồ sơ \
                 (trực tuyến {} hồ sơ{online_share}; trực tiếp và qua dịch vụ bưu chính {} hồ sơ); \
                 từ kỳ trước chuyển sang {} hồ sơ.",
                c(k.received),
                c(k.online) + c(k.in_person_or_post),
                c(k.online),
                c(k.in_person_or_post),
                c(k.carried_over)
            )));
            let in_time = match share(c(k.early) + c(k.on_time), c(k.closed)) {
                Some(v) => format!("tỷ lệ giải quyết trước và đúng hạn đạt {v}"),
                None => "chưa có hồ sơ đã giải quyết để tính tỷ lệ giải quyết đúng hạn".to_owned(),
            };
            s1.push(p(format!(
                "Số hồ sơ đã giải quyết: {} hồ sơ, trong đó trả trước hạn {} hồ sơ, đúng hạn {} hồ sơ, quá hạn {} hồ sơ; \
                 {in_time}.",
                c(k.closed),
                c(k.early),
                c(k.on_time),
                c(k.late),
            )));
            s1.push(p(format!(
                "Số hồ sơ đang giải quyết: {} hồ sơ, trong đó trong hạn {} hồ sơ, quá hạn {} hồ sơ.",
                c(k.pending),
                c(k.pending_within_time),
                c(k.pending_overdue)
            )));
            let overdue: Vec<Vec<String>> = rows
                .iter()
                .filter(|r| r.values.get(k.late) + r.values.get(k.pending_overdue) > 0)
                .map(|r| {
                    vec![
                        r.label.clone(),
                        r.values.get(k.late).to_string(),
                        r.values.get(k.pending_overdue).to_string(),
                    ]
                })
                .collect();
            if overdue.is_empty() {
                s1.push(p("Trong kỳ không có hồ sơ quá hạn.".to_owned()));
            } else {
                s1.push(p("Hồ sơ quá hạn theo lĩnh vực:".to_owned()));
                s1.push(Block::Table {
                    header: vec![
                        "Lĩnh vực".into(),
                        "Đã giải quyết quá hạn".into(),
                        "Đang giải quyết quá hạn".into(),
                    ],
                    rows: overdue,
                });
                s1.push(todo("Nguyên nhân hồ sơ quá hạn và biện pháp khắc phục; việc xin lỗi tổ chức, cá nhân."));
            }
        }
        None => s1.push(p("Chưa có dữ liệu hồ sơ cho kỳ này.".to_owned())),
    }
    s1.extend(uncounted(f, &[Some(RecordKind::Dossier), None]));
    sections.push(Section {
        heading: "I. TÌNH HÌNH, KẾT QUẢ GIẢI QUYẾT THỦ TỤC HÀNH CHÍNH".into(),
        blocks: s1,
    });

    let mut s2 = Vec::new();
    match f.satisfaction {
        Some(r) if r.total > 0 => {
            let level = |l: &str| r.levels.get(l).copied().unwrap_or(0);
            let channel = |c: &str| r.channels.get(c).copied().unwrap_or(0);
            let rate = share(level("1") + level("2"), r.total)
                .map_or_else(String::new, |v| format!("; tỷ lệ hài lòng đạt {v}"));
            s2.push(p(format!(
                "Tổng số lượt đánh giá: {} lượt (rất hài lòng {} lượt, hài lòng {} lượt, không hài lòng {} lượt){rate}.",
                r.total,
                level("1"),
                level("2"),
                level("3"),
            )));
            match r.basis.describe_vi() {
                Some(basis) => s2.push(p(basis.to_owned())),
                None => {
                    let [tablet, paper, online] = CHANNELS.map(channel);
                    s2.push(p(format!(
                        "Theo hình thức đánh giá: qua máy tính bảng tại Bộ phận Một cửa {tablet} lượt, qua phiếu đánh giá \
                         {paper} lượt, trực tuyến trên Hệ thống thông tin giải quyết TTHC tỉnh {online} lượt."
                    )));
                }
            }
            if let Some(resolved) = r.resolved
                && let Some(v) = share(r.total, resolved)
            {
                let why = if r.total > resolved {
                    format!(
                        " ({})",
                        super::satisfaction::COVERAGE_OVER_100_VI.trim_end_matches('.')
                    )
                } else {
                    String::new()
                };
                s2.push(p(format!(
                    "Số lượt đánh giá so với số hồ sơ đã giải quyết trong kỳ ({resolved} hồ sơ): {v}{why}."
                )));
            }
        }
        _ if f.had_ratings && has_uncounted(f, RecordKind::Rating) => s2.push(p(
            "Trong kỳ chưa có lượt đánh giá nào được tính vào số liệu.".to_owned(),
        )),
        _ if f.had_ratings => s2.push(p("Trong kỳ chưa có lượt đánh giá nào.".to_owned())),
        _ => s2.push(p(
            "Chưa có dữ liệu đánh giá mức độ hài lòng cho kỳ này.".to_owned()
        )),
    }
    s2.extend(uncounted(f, &[Some(RecordKind::Rating)]));
    s2.push(todo(
        "Đánh giá, nhận xét về kết quả đánh giá mức độ hài lòng.",
    ));
    sections.push(Section {
        heading: "II. KẾT QUẢ ĐÁNH GIÁ MỨC ĐỘ HÀI LÒNG CỦA TỔ CHỨC, CÁ NHÂN".into(),
        blocks: s2,
    });

    let mut s3 = Vec::new();
    let fc = f.feedback_columns;
    match f.feedback {
        Some(v) => s3.push(p(format!(
            "Tổng số phản ánh, kiến nghị: {} (từ kỳ trước {}, mới tiếp nhận {}), trong đó về quy định hành chính {}, \
             về hành vi hành chính {}. Đã xử lý {} ({} đã công khai kết quả); đang xử lý {}.",
            v.get(fc.received),
            v.get(fc.carried_over),
            v.get(fc.received_in_period),
            v.get(fc.about_regulation),
            v.get(fc.about_conduct),
            v.get(fc.processed),
            v.get(fc.published),
            v.get(fc.pending)
        ))),
        None if has_uncounted(f, RecordKind::Feedback) => s3.push(p(
            "Trong kỳ không có phản ánh, kiến nghị nào được tính vào số liệu.".to_owned(),
        )),
        None if f.had_feedback => s3.push(p("Trong kỳ không có phản ánh, kiến nghị.".to_owned())),
        None => s3.push(p("Chưa có dữ liệu phản ánh, kiến nghị cho kỳ này.".to_owned())),
    }
    s3.extend(uncounted(f, &[Some(RecordKind::Feedback)]));
    sections.push(Section {
        heading: "III. TIẾP NHẬN, XỬ LÝ PHẢN ÁNH, KIẾN NGHỊ".into(),
        blocks: s3,
    });

    sections.push(Section {
        heading: "IV. KẾT QUẢ RÀ SOÁT, ĐÁNH GIÁ, TÁI CẤU TRÚC QUY TRÌNH ĐỂ CUNG CẤP DỊCH VỤ CÔNG TRỰC TUYẾN".into(),
        blocks: vec![todo(
            "Kết quả rà soát, đánh giá, tái cấu trúc quy trình TTHC để cung cấp dịch vụ công trực tuyến \
             (số TTHC đã rà soát, đã tái cấu trúc, đề xuất cung cấp trực tuyến toàn trình/một phần).",
        )],
    });
    sections.push(Section {
        heading: "V. KHÓ KHĂN, VƯỚNG MẮC".into(),
        blocks: vec![todo("Khó khăn, vướng mắc trong kiểm soát TTHC và thực hiện cơ chế một cửa, một cửa liên thông.")],
    });
    sections.push(Section {
        heading: "VI. ĐỀ XUẤT, KIẾN NGHỊ".into(),
        blocks: vec![todo("Đề xuất, kiến nghị với cấp có thẩm quyền.")],
    });

    Narrative {
        unit: f.unit.to_owned(),
        unit_name: f.unit_name.to_owned(),
        title: f.title.to_owned(),
        period: format!("{} ({})", f.period.label_vi(), f.period.window_vi()),
        sections,
        appendix: appendix(&f.errors),
    }
}

/// Whether records of `kind` were left out of this unit's figures.
fn has_uncounted(f: &Facts<'_>, kind: RecordKind) -> bool {
    f.errors.iter().any(|e| e.about == Some(kind))
}

/// The sentence, in the section about those records, that says how many records of `kinds` were
/// left out and where they are listed; none when none was.
fn uncounted(f: &Facts<'_>, kinds: &[Option<RecordKind>]) -> Option<Block> {
    let errors: Vec<&Finding> = f
        .errors
        .iter()
        .copied()
        .filter(|e| kinds.contains(&e.about))
        .collect();
    (!errors.is_empty()).then(|| {
        p(format!(
            "Có {} chưa được tính vào số liệu do dữ liệu trên Hệ thống thông tin giải quyết TTHC chưa đầy đủ \
             hoặc chưa đúng (danh sách tại Phụ lục kèm theo báo cáo này); đề nghị rà soát, cập nhật trước khi \
             duyệt báo cáo.",
            left_out(&errors)
        ))
    })
}

/// "3 hồ sơ, 1 lượt đánh giá và 2 phản ánh, kiến nghị": each kind of record by its own name.
fn left_out(errors: &[&Finding]) -> String {
    let count = |kind: Option<RecordKind>| errors.iter().filter(|e| e.about == kind).count();
    let parts: Vec<String> = [
        (Some(RecordKind::Dossier), "hồ sơ"),
        (Some(RecordKind::Rating), "lượt đánh giá"),
        (Some(RecordKind::Feedback), "phản ánh, kiến nghị"),
        (None, "bản ghi khác"),
    ]
    .into_iter()
    .filter_map(|(kind, name)| {
        let n = count(kind);
        (n > 0).then(|| format!("{n} {name}"))
    })
    .collect();
    match parts.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} và {last}", rest.join(", ")),
        None => String::new(),
    }
}

/// The list the text refers to: each record left out, what is wrong and what to fix.
fn appendix(errors: &[&Finding]) -> Option<Section> {
    if errors.is_empty() {
        return None;
    }
    let rows = errors
        .iter()
        .enumerate()
        .map(|(i, e)| {
            vec![
                (i + 1).to_string(),
                record_kind_vi(e.about).to_owned(),
                e.record.clone(),
                e.describe_vi().into_owned(),
            ]
        })
        .collect();
    Some(Section {
        heading: APPENDIX_HEADING.to_owned(),
        blocks: vec![Block::Table {
            header: vec![
                "STT".into(),
                "Loại bản ghi".into(),
                "Mã bản ghi".into(),
                "Nội dung và cách khắc phục".into(),
            ],
            rows,
        }],
    })
}

/// The error findings about each unit, in the findings' order: found in one pass (a store
/// holding years lists some 200,000 findings, and a province hundreds of units).
pub fn errors_by_unit(findings: &[Finding]) -> HashMap<&str, Vec<&Finding>> {
    let mut by_unit: HashMap<&str, Vec<&Finding>> = HashMap::new();
    for f in findings.iter().filter(|f| f.severity == Severity::Error) {
        if let Some(unit) = f.unit.as_deref() {
            by_unit.entry(unit).or_default().push(f);
        }
    }
    by_unit
}
