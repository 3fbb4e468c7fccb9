//! One printed sheet: its columns, the head of the form, the header of any depth, the signature
//! block, the page setup, and row heights fitted to their text.
//!
//! Spreadsheet programs do not grow a row for wrapped text a library wrote, and a row set too high
//! wastes the page: every cell written here records the lines its text needs in its box, and
//! [`Page::finish`] sets each row to the tallest.

use super::Styles;
use crate::forms::FormDef;
use rust_xlsxwriter::{Format, Worksheet, XlsxError};
use std::collections::BTreeMap;

/// Points per line of 12-point Times New Roman, and the room above and below.
const LINE: f64 = 15.75;
const PAD: f64 = 3.0;

/// A4 landscape inside `setup`'s margins (0.5 + 0.4 inch across, 0.55 + 0.55 inch down), points.
const PRINTABLE: (f64, f64) = (841.89 - 0.9 * 72.0, 595.28 - 1.1 * 72.0);
/// A row no text set the height of (the workbook's default font).
const DEFAULT_ROW: f64 = 15.0;
/// The share of a page the breaks fill, for the spreadsheet program's own rounding.
const SAFE: f64 = 0.96;
/// A sheet up to this much taller than a page is shrunk onto one page rather than broken (12-point
/// text prints at 8.4 points at least, as 70 %): a unit's form on one page, as officials sign it.
const NEARLY: f64 = 1.43;
/// Data rows kept on the page of the signature block.
const KEEP_WITH_SIGNATURES: u32 = 2;

/// Rows before which a page breaks, for rows of `heights` (points, unscaled) on pages of `room`
/// points: each page full, the rows `repeat` printed again at the top of every page after the
/// first, and two rules: the signature block (from `sign` on) never starts a page — the last
/// data rows go with it — and no page holds only header rows (every page has a data row).
fn breaks(
    heights: &[f64],
    repeat: Option<(u32, u32)>,
    first_data: u32,
    sign: u32,
    room: f64,
) -> Vec<u32> {
    let repeated: f64 = repeat.map_or(0.0, |(a, b)| {
        (a..=b)
            .map(|r| heights.get(r as usize).copied().unwrap_or(0.0))
            .sum()
    });
    let height = |a: u32, b: u32| -> f64 { (a..b).map(|r| heights[r as usize]).sum() };
    let mut out = Vec::new();
    let mut start = 0u32;
    let mut used = 0.0;
    for (r, h) in heights.iter().enumerate() {
        let r = r as u32;
        if used + h > room && r > start && r > first_data {
            let mut at = r;
            if at >= sign {
                // Never the signatures alone: the last data rows come along, two if the page
                // holds them with the block, else one.
                let tail = |a: u32| repeated + height(a, heights.len() as u32);
                at = (1..=KEEP_WITH_SIGNATURES)
                    .rev()
                    .map(|k| sign.saturating_sub(k))
                    .find(|&a| a > start && tail(a) <= room)
                    .unwrap_or(at);
            }
            // Every page keeps at least one data row.
            at = at.max(start.max(first_data) + 1).min(r);
            out.push(at);
            start = at;
            used = repeated + height(at, r);
        }
        used += h;
    }
    out
}

/// How wide a kind of text sets: pixels per character of Vietnamese text in Times New Roman, at
/// the 96-dpi scale in which a column of width `w` is `7w + 5` pixels (measured on pages rendered
/// by LibreOffice, rounded up so that text is never cut: a line too many is the lesser harm).
/// Titles are capitals.
#[derive(Debug, Clone, Copy)]
pub(super) enum Weight {
    Regular,
    Bold,
    /// 13-point bold (titles).
    Title,
}

impl Weight {
    fn px_per_char(self) -> f64 {
        match self {
            Weight::Regular => 5.9,
            Weight::Bold => 6.6,
            Weight::Title => 8.4,
        }
    }

    fn line(self) -> f64 {
        match self {
            Weight::Title => 17.25,
            _ => LINE,
        }
    }
}

/// Lines `text` takes in a box `width` column units wide, wrapped at spaces (a word longer than
/// the box breaks where it must).
pub(super) fn lines(text: &str, width: f64, weight: Weight) -> usize {
    let px = width * 7.0 + 5.0 - 6.0;
    let cap = ((px / weight.px_per_char()).floor() as usize).max(1);
    text.split('\n')
        .map(|paragraph| {
            let mut lines = 1;
            let mut used = 0;
            for word in paragraph.split_whitespace() {
                let w = word.chars().count();
                if used > 0 && used + 1 + w <= cap {
                    used += 1 + w;
                    continue;
                }
                if used > 0 {
                    lines += 1;
                }
                used = w;
                while used > cap {
                    lines += 1;
                    used -= cap;
                }
            }
            lines
        })
        .sum()
}

pub(super) struct Page<'a> {
    pub ws: &'a mut Worksheet,
    widths: Vec<f64>,
    /// The least height of each row, in points.
    rows: BTreeMap<u32, f64>,
    /// Cells over several rows: first row, last row, the height they need together.
    spans: Vec<(u32, u32, f64)>,
    /// The rows repeated on every page and the last printed row (`setup`).
    print: Option<(Option<(u32, u32)>, u32)>,
    /// The first row after the data: the signature block follows (`signatures`).
    signature_from: Option<u32>,
}

impl<'a> Page<'a> {
    pub fn new(ws: &'a mut Worksheet, widths: Vec<f64>) -> Result<Page<'a>, XlsxError> {
        for (i, w) in widths.iter().enumerate() {
            ws.set_column_width(i as u16, *w)?;
        }
        Ok(Page {
            ws,
            widths,
            rows: BTreeMap::new(),
            spans: Vec::new(),
            print: None,
            signature_from: None,
        })
    }

    pub fn last_col(&self) -> u16 {
        self.widths.len().saturating_sub(1) as u16
    }

    /// Width of columns `first..=last`, in column units.
    pub fn width(&self, first: u16, last: u16) -> f64 {
        let cols = self
            .widths
            .get(first as usize..=last as usize)
            .unwrap_or_default();
        // Each column boundary inside a merged cell gives back the cell padding.
        cols.iter().sum::<f64>() + cols.len().saturating_sub(1) as f64 * 5.0 / 7.0
    }

    /// The left block of the page (form number, signer on the left) and the right block (unit,
    /// head of unit): each about `want` column units wide, never overlapping.
    pub fn blocks(&self, want: f64) -> ((u16, u16), (u16, u16)) {
        let last = self.last_col();
        let mut left = 0;
        while left < last && self.width(0, left) < want {
            left += 1;
        }
        let mut right = last;
        while right > 0 && self.width(right, last) < want {
            right -= 1;
        }
        if right <= left {
            left = last / 2;
            right = (left + 1).min(last);
        }
        ((0, left), (right, last))
    }

    /// Writes `text` in the box `(r1, c1)..=(r2, c2)`, merged when it is more than one cell.
    #[allow(clippy::too_many_arguments)]
    pub fn text(
        &mut self,
        (r1, c1): (u32, u16),
        (r2, c2): (u32, u16),
        text: &str,
        format: &Format,
        weight: Weight,
    ) -> Result<(), XlsxError> {
        if (r1, c1) == (r2, c2) {
            self.ws.write_string_with_format(r1, c1, text, format)?;
        } else {
            self.ws.merge_range(r1, c1, r2, c2, text, format)?;
        }
        let need = lines(text, self.width(c1, c2), weight) as f64 * weight.line() + PAD;
        if r1 == r2 {
            self.need(r1, need);
        } else {
            self.spans.push((r1, r2, need));
        }
        Ok(())
    }

    /// One line of text in one cell.
    pub fn cell(
        &mut self,
        row: u32,
        col: u16,
        text: &str,
        format: &Format,
    ) -> Result<(), XlsxError> {
        self.text((row, col), (row, col), text, format, Weight::Regular)
    }

    /// Row `row` is at least `points` high.
    pub fn need(&mut self, row: u32, points: f64) {
        let h = self.rows.entry(row).or_insert(0.0);
        *h = h.max(points);
    }

    /// Sets every written row's height (the tallest of its cells, and for a cell over several
    /// rows the missing height added to its last row), then, for a form sheet, its page breaks.
    pub fn finish(mut self) -> Result<(), XlsxError> {
        self.settle_spans();
        for (row, h) in &self.rows {
            self.ws.set_row_height(*row, h.ceil())?;
        }
        self.paginate()
    }

    fn settle_spans(&mut self) {
        for (r1, r2, need) in std::mem::take(&mut self.spans) {
            let have: f64 = (r1..=r2)
                .map(|r| self.rows.get(&r).copied().unwrap_or(LINE + PAD))
                .sum();
            if have < need {
                let last = self.rows.entry(r2).or_insert(LINE + PAD);
                *last += need - have;
            }
            for r in r1..=r2 {
                self.rows.entry(r).or_insert(LINE + PAD);
            }
        }
        for h in self.rows.values_mut() {
            *h = h.ceil();
        }
    }

    /// A4 landscape, one page wide, `repeat` rows printed on every page, page numbers in the
    /// footer, only `0..=last_row` printed.
    pub fn setup(&mut self, repeat: Option<(u32, u32)>, last_row: u32) -> Result<(), XlsxError> {
        let last = self.last_col();
        self.ws
            .set_landscape()
            .set_paper_size(9)
            .set_print_fit_to_pages(1, 0)
            .set_print_center_horizontally(true)
            .set_margins(0.5, 0.4, 0.55, 0.55, 0.25, 0.3)
            .set_footer("&C&\"Times New Roman,Regular\"&10Trang &P/&N");
        if let Some((first, end)) = repeat {
            self.ws.set_repeat_rows(first, end)?;
        }
        self.ws.set_print_area(0, 0, last_row, last)?;
        self.print = Some((repeat, last_row));
        Ok(())
    }

    /// The printed scale LibreOffice and Excel choose to fit the columns on one page wide.
    fn scale(&self) -> f64 {
        let points: f64 = self.widths.iter().map(|w| (7.0 * w + 5.0) * 0.75).sum();
        let fit = (PRINTABLE.0 / points).min(1.0);
        (fit * 100.0).floor() / 100.0
    }

    /// Page breaks for a form sheet (see [`breaks`]); a sheet that overflows one page by a little
    /// is shrunk onto it instead.
    fn paginate(&mut self) -> Result<(), XlsxError> {
        let (Some((repeat, last)), Some(sign)) = (self.print, self.signature_from) else {
            return Ok(());
        };
        let heights: Vec<f64> = (0..=last)
            .map(|r| self.rows.get(&r).copied().unwrap_or(DEFAULT_ROW))
            .collect();
        let room = PRINTABLE.1 * SAFE / self.scale();
        let total: f64 = heights.iter().sum();
        if total <= room {
            return Ok(());
        }
        if total <= room * NEARLY {
            self.ws.set_print_fit_to_pages(1, 1);
            return Ok(());
        }
        let first_data = repeat.map_or(0, |(_, end)| end + 1);
        let at = breaks(&heights, repeat, first_data, sign, room);
        if !at.is_empty() {
            self.ws.set_page_breaks(&at)?;
        }
        Ok(())
    }
}

/// The head of a form: who reports to whom, the title, the period, the measure.
pub(super) struct Head<'a> {
    pub number: &'a str,
    pub basis: &'a str,
    pub reporter: &'a str,
    pub receiver: &'a str,
    /// The reporting unit's code, printed small so a workbook read back knows its unit.
    pub unit_code: Option<&'a str>,
    pub title: String,
    pub period: String,
    pub measure: &'a str,
}

/// Writes the head from row 0; returns the first free row.
pub(super) fn head(page: &mut Page<'_>, h: &Head<'_>, s: &Styles) -> Result<u32, XlsxError> {
    let ((l1, l2), (r1, r2)) = page.blocks(40.0);
    let last = page.last_col();
    page.text((0, l1), (0, l2), h.number, &s.bold, Weight::Bold)?;
    page.text((1, l1), (1, l2), h.basis, &s.italic, Weight::Regular)?;
    let reporter = format!("Đơn vị báo cáo: {}", h.reporter);
    page.text((0, r1), (0, r2), &reporter, &s.bold_left, Weight::Bold)?;
    let receiver = format!("Đơn vị nhận báo cáo: {}", h.receiver);
    page.text((1, r1), (1, r2), &receiver, &s.bold_left, Weight::Bold)?;
    if let Some(code) = h.unit_code {
        page.text(
            (2, r1),
            (2, r2),
            &format!("{UNIT_CODE_LABEL} {code}"),
            &s.small_italic,
            Weight::Regular,
        )?;
    }
    page.text((3, 0), (3, last), &h.title, &s.title, Weight::Title)?;
    page.text((4, 0), (4, last), &h.period, &s.period, Weight::Regular)?;
    let measure = format!("Đơn vị tính: {}", h.measure);
    page.text((5, r1), (5, r2), &measure, &s.right_italic, Weight::Regular)?;
    Ok(6)
}

pub use crate::forms::reconcile::UNIT_CODE_LABEL;

/// The table header of `form` from row `top`, as deep as its groups, then the numbered row;
/// returns that numbered row.
pub(super) fn header(
    page: &mut Page<'_>,
    form: &FormDef,
    top: u32,
    s: &Styles,
) -> Result<u32, XlsxError> {
    let depth = form.header_rows() as u32;
    let numbers = top + depth;
    let at = |number: u32| form.columns.iter().position(|c| c.number == number);
    for (i, c) in form.columns.iter().enumerate() {
        let col = i as u16;
        let under = form.ancestors(c.number).len() as u32;
        page.text(
            (top + under, col),
            (numbers - 1, col),
            &c.header,
            &s.header,
            Weight::Bold,
        )?;
        page.text(
            (numbers, col),
            (numbers, col),
            &format!("({})", c.number),
            &s.number_row,
            Weight::Regular,
        )?;
    }
    for g in &form.groups {
        let cols: Vec<u16> = g
            .columns
            .iter()
            .filter_map(|&n| at(n))
            .map(|p| p as u16)
            .collect();
        let (Some(&first), Some(&end)) = (cols.iter().min(), cols.iter().max()) else {
            continue;
        };
        let row = top + form.depth(g) as u32;
        let text = match &g.note {
            Some(note) => format!("{}\n{note}", g.header),
            None => g.header.clone(),
        };
        page.text((row, first), (row, end), &text, &s.header, Weight::Bold)?;
    }
    Ok(numbers)
}

/// The signature block below row `after`: the date line over the last signer, then each signer's
/// title and hint, spread over the page. Returns the last row it used.
pub(super) fn signatures(
    page: &mut Page<'_>,
    form: &FormDef,
    after: u32,
    s: &Styles,
) -> Result<u32, XlsxError> {
    let signers = &form.print.signers;
    let ((l1, l2), (r1, r2)) = page.blocks(34.0);
    page.signature_from = Some(after + 1);
    let date = after + 2;
    page.text(
        (date, r1),
        (date, r2),
        "…, ngày … tháng … năm …",
        &s.date_line,
        Weight::Regular,
    )?;
    let boxes: Vec<(u16, u16)> = match signers.len() {
        0 => Vec::new(),
        1 => vec![(r1, r2)],
        2 => vec![(l1, l2), (r1, r2)],
        n => {
            // Left, right, and the others between them, one column each at least.
            let mut b = vec![(l1, l2)];
            let inner: Vec<u16> = (l2 + 1..r1).collect();
            for k in 0..n - 2 {
                let c = inner
                    .get(k * inner.len().max(1) / (n - 2))
                    .copied()
                    .unwrap_or(l2);
                b.push((c, c));
            }
            b.push((r1, r2));
            b
        }
    };
    for ((title, hint), (c1, c2)) in signers.iter().zip(boxes) {
        page.text(
            (date + 1, c1),
            (date + 1, c2),
            title,
            &s.sign_title,
            Weight::Bold,
        )?;
        page.text(
            (date + 2, c1),
            (date + 2, c2),
            hint,
            &s.sign_hint,
            Weight::Regular,
        )?;
    }
    // Room to sign.
    for r in date + 3..date + 7 {
        page.need(r, LINE + PAD);
    }
    Ok(date + 6)
}

#[cfg(test)]
mod pagination {
    use super::breaks;

    /// Head rows 0-2, header 3-4 (repeated), data 5-24, spacer 25, signatures 26-31; every row 20
    /// points, pages of 200 points: ten rows a page.
    fn sheet() -> Vec<f64> {
        vec![20.0; 32]
    }

    #[test]
    fn the_signature_block_never_starts_a_page() {
        let heights = sheet();
        let at = breaks(&heights, Some((3, 4)), 5, 25, 200.0);
        // Page 1: rows 0-9; page 2: header + rows 10-17; page 3 would start inside the
        // signatures: the last data row comes along (two would not fit with the block).
        assert_eq!(at, [10, 18, 24]);
        // With a page a row taller, the last two come along.
        assert_eq!(breaks(&heights, Some((3, 4)), 5, 25, 220.0), [11, 20, 23]);
    }

    #[test]
    fn every_page_holds_a_data_row_and_fits() {
        for room in [200.0, 230.0, 260.0, 330.0, 400.0] {
            let heights = sheet();
            let at = breaks(&heights, Some((3, 4)), 5, 25, room);
            let mut starts = vec![0u32];
            starts.extend(&at);
            for (i, s) in starts.iter().enumerate() {
                let end = starts.get(i + 1).copied().unwrap_or(32);
                assert!(
                    (*s..end).any(|r| (5..25).contains(&r)),
                    "page {i} at {room}: rows {s}..{end} hold no data row ({at:?})"
                );
                let repeated = if i == 0 { 0.0 } else { 40.0 };
                let used: f64 = repeated + (*s..end).map(|r| heights[r as usize]).sum::<f64>();
                assert!(used <= room, "page {i} overflows at {room}: {used}");
            }
        }
    }
}
