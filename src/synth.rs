//! Synthetic data sets: a unit tree, dossiers, ratings and feedback that look like a province's
//! export, for the benchmark, demos and the sandbox (a generated folder is a data set
//! `baocao-sync sandbox --data` serves). Three tiers (province → departments, districts →
//! communes, before 1/7/2025) or two (province → departments and communes). Deterministic for a
//! given seed.
//!
//! The generator uses its own SplitMix64 rather than a crate's RNG so that a seed gives the same
//! data set across dependency upgrades: benchmark figures stay comparable over time.

use crate::domain::Instant;
use chrono::{Duration, NaiveDate};
use std::io::Write;
use std::path::Path;

#[derive(Debug, Clone)]
pub struct Spec {
    pub dossiers: usize,
    pub ratings: usize,
    pub feedback: usize,
    pub units: usize,
    /// 3: province → departments, districts → communes; 2: province → departments, communes.
    pub tiers: u8,
    pub seed: u64,
    /// The data centres on this window (T..=D); about a fifth is carried over or later.
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
    /// How the dossier lines look.
    pub shape: Shape,
    /// Quarters of history the dossiers spread over, the window's the last (real shape only; 1:
    /// the window alone).
    pub quarters: usize,
}

/// How generated dossier lines look.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Shape {
    /// Short lines (~400 bytes), every record readable: the earlier benchmarks' data.
    #[default]
    Light,
    /// As real exports write them (~500 bytes): the procedure's, field's and unit's full names,
    /// the return date, and the defects real exports carry (see [`write_real_dossiers`]).
    Real,
}

impl Default for Spec {
    fn default() -> Spec {
        Spec {
            dossiers: 10_000,
            ratings: 0,
            feedback: 0,
            units: 50,
            tiers: 3,
            seed: 1,
            first_day: NaiveDate::from_ymd_opt(2023, 6, 15).expect("valid date"),
            last_day: NaiveDate::from_ymd_opt(2023, 9, 14).expect("valid date"),
            shape: Shape::Light,
            quarters: 1,
        }
    }
}

/// SplitMix64: small, fast, and stable forever.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(1000) < percent * 10
    }
}

const FIELDS: [(&str, &str); 8] = [
    ("G09-HT", "Hộ tịch (Bộ Tư pháp)"),
    ("G09-CT", "Chứng thực (Bộ Tư pháp)"),
    ("G09-CC", "Công chứng (Bộ Tư pháp)"),
    (
        "G08-DN",
        "Thành lập và hoạt động doanh nghiệp (hộ kinh doanh) (Bộ Kế hoạch và Đầu tư)",
    ),
    (
        "G08-HTX",
        "Thành lập và hoạt động của hợp tác xã (Bộ Kế hoạch và Đầu tư)",
    ),
    ("G13-DD", "Đất đai (Bộ Tài nguyên và Môi trường)"),
    ("G10-XD", "Hoạt động xây dựng (Bộ Xây dựng)"),
    (
        "G16-BTXH",
        "Bảo trợ xã hội (Bộ Lao động - Thương binh và Xã hội)",
    ),
];

/// A unit of the generated tree.
#[derive(Debug, Clone)]
pub struct SynthUnit {
    pub code: String,
    pub name: String,
    pub kind: &'static str,
    pub parent: String,
}

/// A province with departments, districts and communes (the pre-2025 shape), `n` units in all.
pub fn units(n: usize) -> Vec<SynthUnit> {
    let n = n.max(2);
    let mut out = vec![SynthUnit {
        code: "000.00.00.H55".into(),
        name: "UBND tỉnh".into(),
        kind: "province",
        parent: String::new(),
    }];
    let departments = ((n - 1) / 10).max(1);
    let districts = ((n - 1 - departments) / 10).max(1);
    for i in 0..departments.min(n - 1) {
        out.push(SynthUnit {
            code: format!("000.{:02}.00.H55", 10 + i),
            name: format!("Sở {}", i + 1),
            kind: "department",
            parent: out[0].code.clone(),
        });
    }
    for i in 0..districts {
        if out.len() >= n {
            break;
        }
        out.push(SynthUnit {
            code: format!("000.00.{}.H55", 30 + i),
            name: format!("UBND huyện {}", i + 1),
            kind: "district",
            parent: out[0].code.clone(),
        });
    }
    let mut c = 0;
    while out.len() < n {
        let district = c % districts;
        out.push(SynthUnit {
            code: format!("000.00.{}{:03}.H55", 30 + district, 100 + c),
            name: format!("UBND xã {}", c + 1),
            kind: "commune",
            parent: format!("000.00.{}.H55", 30 + district),
        });
        c += 1;
    }
    out
}

/// A province after 1/7/2025: departments and communes directly under it, `n` units in all.
pub fn units_two_tier(n: usize) -> Vec<SynthUnit> {
    let n = n.max(2);
    let mut out = vec![SynthUnit {
        code: "000.00.00.H55".into(),
        name: "UBND tỉnh".into(),
        kind: "province",
        parent: String::new(),
    }];
    let departments = ((n - 1) / 10).max(1).min(n - 1);
    for i in 0..departments {
        out.push(SynthUnit {
            code: format!("000.{:02}.00.H55", 10 + i),
            name: format!("Sở {}", i + 1),
            kind: "department",
            parent: out[0].code.clone(),
        });
    }
    let mut c = 0;
    while out.len() < n {
        out.push(SynthUnit {
            code: format!("000.00.{:03}.H55", 100 + c),
            name: format!("UBND xã {}", c + 1),
            kind: "commune",
            parent: out[0].code.clone(),
        });
        c += 1;
    }
    out
}

/// The tree a spec asks for.
pub fn tree(spec: &Spec) -> Vec<SynthUnit> {
    if spec.tiers == 2 {
        units_two_tier(spec.units)
    } else {
        units(spec.units)
    }
}

pub fn units_toml(units: &[SynthUnit]) -> String {
    let mut s = String::new();
    for u in units {
        s.push_str(&format!(
            "[[units]]\ncode = \"{}\"\nname = \"{}\"\nkind = \"{}\"\nparent = \"{}\"\n\n",
            u.code, u.name, u.kind, u.parent
        ));
    }
    s
}

/// The sandbox's `accounts.toml` for a generated tree, so `baocao-sync sandbox --data DIR` serves
/// it: the source's client (`lgsp`, secret `demo-lgsp`), the reporting systems' public client
/// `baocao-sync`, and for every unit one account per reporting system — central: a made-up
/// 12-digit citizen-ID number `0990000NNNNN`; provincial: `vanthu.N@demo.gov.vn`; both with
/// password `demo-N` (N the unit's position in the tree). Demo logins, for the sandbox only.
pub fn accounts_toml(units: &[SynthUnit]) -> String {
    let mut s = String::from(
        "# Demo logins for `baocao-sync sandbox`, written by `baocao-sync generate`.\n\
         [[clients]]\nsystem = \"source\"\nclient_id = \"lgsp\"\nclient_secret = \"demo-lgsp\"\n\n\
         [[clients]]\nsystem = \"central\"\nclient_id = \"baocao-sync\"\n\n\
         [[clients]]\nsystem = \"provincial\"\nclient_id = \"baocao-sync\"\n\n",
    );
    s.push_str(PROTOCOL_ACCOUNTS);
    for (n, u) in units.iter().enumerate() {
        for (system, username, password) in demo_logins(n) {
            s.push_str(&format!(
                "[[accounts]]\nsystem = \"{system}\"\nusername = \"{username}\"\npassword = \"{password}\"\nunits = [\"{}\"]\n\n",
                u.code
            ));
        }
    }
    s
}

/// The sandbox's logins for the one-stop-system protocols (real-sources.md): the envelope's
/// `dvc`, iGate's user `igate` with the realm's public client `digo` (and a client-credentials
/// client `baocao-svc`), the queue's `hotich`, and the LGSP gateways' applications.
const PROTOCOL_ACCOUNTS: &str = "\
[[accounts]]\nsystem = \"envelope\"\nusername = \"dvc\"\npassword = \"demo-dvc\"\n\n\
[[accounts]]\nsystem = \"igate\"\nusername = \"igate\"\npassword = \"demo-igate\"\n\n\
[[clients]]\nsystem = \"igate\"\nclient_id = \"digo\"\n\n\
[[clients]]\nsystem = \"igate\"\nclient_id = \"baocao-svc\"\nclient_secret = \"demo-svc\"\n\n\
[[accounts]]\nsystem = \"queue\"\nusername = \"hotich\"\npassword = \"demo-hotich\"\n\n\
[[clients]]\nsystem = \"lgsp\"\nclient_id = \"lgsp-gw\"\nclient_secret = \"demo-gw\"\n\n\
[[clients]]\nsystem = \"vnpt\"\nclient_id = \"vnpt-ak\"\nclient_secret = \"demo-sk\"\n\n";

/// The demo logins of the unit at position `n`: (system, user name, password).
fn demo_logins(n: usize) -> [(&'static str, String, String); 2] {
    [
        ("central", format!("0990000{n:05}"), format!("demo-{n}")),
        (
            "provincial",
            format!("vanthu.{n}@demo.gov.vn"),
            format!("demo-{n}"),
        ),
    ]
}

/// The demo logins of [`accounts_toml`] as `creds import` reads them (`system,unit,username,
/// password`), the province's source client first.
pub fn logins_csv(units: &[SynthUnit]) -> String {
    let mut s = String::from(
        "system,unit,username,password\nsource,*,lgsp,demo-lgsp\n\
         source,dvc,dvc,demo-dvc\nsource,igate,igate,demo-igate\nsource,hotich,hotich,demo-hotich\n",
    );
    for (n, u) in units.iter().enumerate() {
        for (system, username, password) in demo_logins(n) {
            s.push_str(&format!("{system},{},{username},{password}\n", u.code));
        }
    }
    s
}

/// Writes `units.toml`, `dossiers.ndjson`, `ratings.ndjson`, `feedback.ndjson`, the sandbox's
/// `accounts.toml` and the matching `logins.csv` (for `creds import`) into `dir`.
pub fn write_data_set(spec: &Spec, dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let tree = tree(spec);
    std::fs::write(dir.join("units.toml"), units_toml(&tree))?;
    std::fs::write(dir.join("accounts.toml"), accounts_toml(&tree))?;
    std::fs::write(dir.join("logins.csv"), logins_csv(&tree))?;
    type Writer = fn(&Spec, &[SynthUnit], &mut dyn Write) -> std::io::Result<()>;
    let files: [(&str, Writer); 3] = [
        ("dossiers.ndjson", write_dossiers),
        ("ratings.ndjson", write_ratings),
        ("feedback.ndjson", write_feedback),
    ];
    for (name, write) in files {
        let file = std::fs::File::create(dir.join(name))?;
        let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
        write(spec, &tree, &mut out)?;
        out.flush()?;
    }
    Ok(())
}

/// The days records spread over: a third of the window before it (carried over), the window,
/// and a little after; and the local instant of a day from the start and seconds into it.
struct Days {
    base: NaiveDate,
    total: i64,
}

impl Days {
    fn of(spec: &Spec) -> Days {
        let span = (spec.last_day - spec.first_day).num_days() + 1;
        Days {
            base: spec.first_day - Duration::days(span / 3),
            total: span + span / 3 + 10,
        }
    }

    fn local(&self, day: i64, secs: u64) -> String {
        let t = (self.base + Duration::days(day))
            .and_hms_opt(0, 0, 0)
            .expect("midnight")
            + Duration::seconds(secs as i64);
        Instant::from_local(t).to_compact_local()
    }
}

/// Writes `spec.ratings` NDJSON lines: levels mostly satisfied, the three channels, rating days
/// over the same spread as dossiers.
pub fn write_ratings(spec: &Spec, tree: &[SynthUnit], out: &mut dyn Write) -> std::io::Result<()> {
    let mut rng = Rng(spec.seed ^ 0x5241_5449);
    let days = Days::of(spec);
    for i in 0..spec.ratings {
        let unit = &tree[1 + rng.below(tree.len() as u64 - 1) as usize];
        let day = rng.below(days.total as u64) as i64;
        let at = days.local(day, 8 * 3600 + rng.below(9 * 3600));
        let level = [1, 1, 2, 2, 2, 3][rng.below(6) as usize];
        let channel = ["tablet", "phieu", "truc-tuyen"][rng.below(3) as usize];
        writeln!(
            out,
            "{{\"MaDanhGia\":\"DG-{i:07}\",\"MaHoSo\":\"{}-{:07}\",\"MaDonVi\":\"{}\",\"MucDo\":\"{level}\",\
\"KenhDanhGia\":\"{channel}\",\"ThoiGianDanhGia\":\"{at}\",\"CapNhatLuc\":\"{at}\"}}",
            unit.code,
            rng.below(spec.dossiers.max(1) as u64),
            unit.code,
        )?;
    }
    Ok(())
}

/// Writes `spec.feedback` NDJSON lines: about regulations or conduct, most processed within a
/// month, some published.
pub fn write_feedback(spec: &Spec, tree: &[SynthUnit], out: &mut dyn Write) -> std::io::Result<()> {
    let mut rng = Rng(spec.seed ^ 0x5041_4b4e);
    let days = Days::of(spec);
    for i in 0..spec.feedback {
        let unit = &tree[1 + rng.below(tree.len() as u64 - 1) as usize];
        let day = rng.below(days.total as u64) as i64;
        let received = days.local(day, 8 * 3600 + rng.below(9 * 3600));
        let kind = ["quy-dinh", "hanh-vi"][rng.below(2) as usize];
        let processed = rng.chance(70);
        let done_day = day + 1 + rng.below(30) as i64;
        let (state, done, published, updated) = if processed {
            let done = days.local(done_day, 10 * 3600);
            let published = if rng.chance(60) { "1" } else { "" };
            ("da-xu-ly", done.clone(), published, done)
        } else {
            ("dang-xu-ly", String::new(), "", received.clone())
        };
        writeln!(
            out,
            "{{\"MaPAKN\":\"PA-{i:07}\",\"MaDonVi\":\"{}\",\"NgayTiepNhan\":\"{received}\",\"LoaiNoiDung\":\"{kind}\",\
\"TrangThai\":\"{state}\",\"NgayXuLy\":\"{done}\",\"CongKhai\":\"{published}\",\"CapNhatLuc\":\"{updated}\"}}",
            unit.code,
        )?;
    }
    Ok(())
}

/// Writes `spec.dossiers` NDJSON lines. About 2 % carry the problems a real export has.
pub fn write_dossiers(spec: &Spec, tree: &[SynthUnit], out: &mut dyn Write) -> std::io::Result<()> {
    if spec.shape == Shape::Real {
        return write_real_dossiers(spec, tree, out);
    }
    let mut rng = Rng(spec.seed);
    let days = Days::of(spec);
    let total_days = days.total;
    let local = |day: i64, secs: u64| days.local(day, secs);
    let mut line = String::with_capacity(1024);
    for i in 0..spec.dossiers {
        let unit = &tree[1 + rng.below(tree.len() as u64 - 1) as usize];
        let (field_code, field_name) = FIELDS[rng.below(FIELDS.len() as u64) as usize];
        let received_day = rng.below(total_days as u64) as i64;
        let received_secs = 7 * 3600 + rng.below(10 * 3600);
        let limit = 1 + rng.below(15) as i64;
        let status = [2, 4, 5, 6, 7, 8, 9, 9, 9, 10, 10, 10, 10, 1, 3][rng.below(15) as usize];
        let finish_day = received_day + rng.below(20) as i64;
        let closed = matches!(status, 7 | 9 | 10);
        let channel = if rng.chance(1) {
            "4"
        } else {
            ["1", "2", "3", "2"][rng.below(4) as usize]
        };
        let unit_code = if rng.chance(1) {
            "000.99.99.H55"
        } else {
            unit.code.as_str()
        };
        let received = if rng.chance(1) {
            String::new()
        } else {
            local(received_day, received_secs)
        };
        let due = if rng.chance(5) {
            String::new()
        } else {
            local(received_day + limit, received_secs)
        };
        let finished = if closed && !rng.chance(1) {
            local(finish_day, received_secs + 3600)
        } else {
            String::new()
        };
        let supplement = if status == 5 {
            local(received_day + 1, received_secs)
        } else {
            String::new()
        };
        let result = if closed && rng.chance(5) {
            "Trả lại/Xin rút"
        } else if closed {
            "Kết quả"
        } else {
            ""
        };
        let updated = local(finish_day.max(received_day) + 1, received_secs);
        line.clear();
        use std::fmt::Write as _;
        let _ = write!(
            line,
            "{{\"MaHoSo\":\"{code}-{i:07}\",\"MaTTHC\":\"1.00{p}\",\"TenTTHC\":\"Thủ tục {p}\",\"MaLinhVuc\":\"{field_code}\",\
\"TenLinhVuc\":\"{field_name}\",\"MaDonViXuLy\":\"{unit_code}\",\"DonViXuLy\":\"{name}\",\"KenhThucHien\":\"{channel}\",\
\"TrangThaiHoSo\":\"{status}\",\"NgayTiepNhan\":\"{received}\",\"NgayHenTra\":\"{due}\",\"NgayYeuCauBoSung\":\"{supplement}\",\
\"NgayKetThucXuLy\":\"{finished}\",\"NgayTra\":\"\",\"LoaiKetQua\":\"{result}\",\"CapNhatLuc\":\"{updated}\",\"DaXoa\":\"{deleted}\"}}",
            code = unit.code,
            p = 1000 + rng.below(500),
            name = unit.name,
            deleted = if rng.chance(1) { "1" } else { "" },
        );
        line.push('\n');
        out.write_all(line.as_bytes())?;
    }
    Ok(())
}

/// A field: its code, its name before and after the ministries were merged in 2025 (an old
/// dossier carries the old name), and its procedures (MaTTHC, TenTTHC).
type RealField = (
    &'static str,
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

/// The fields of real-shaped dossiers.
const REAL_FIELDS: [RealField; 8] = [
    (
        "G09-HT",
        "Hộ tịch (Bộ Tư pháp)",
        "Hộ tịch (Bộ Tư pháp)",
        &[
            ("1.001193", "Thủ tục đăng ký khai sinh"),
            ("1.000894", "Thủ tục đăng ký kết hôn"),
            ("1.004873", "Thủ tục cấp Giấy xác nhận tình trạng hôn nhân"),
        ],
    ),
    (
        "G09-CT",
        "Chứng thực (Bộ Tư pháp)",
        "Chứng thực (Bộ Tư pháp)",
        &[(
            "2.000815",
            "Chứng thực bản sao từ bản chính giấy tờ, văn bản",
        )],
    ),
    (
        "G09-CC",
        "Công chứng (Bộ Tư pháp)",
        "Công chứng (Bộ Tư pháp)",
        &[(
            "2.001035",
            "Công chứng hợp đồng, giao dịch đã được soạn thảo sẵn",
        )],
    ),
    (
        "G08-DN",
        "Thành lập và hoạt động doanh nghiệp (Bộ Kế hoạch và Đầu tư)",
        "Thành lập và hoạt động doanh nghiệp (Bộ Tài chính)",
        &[
            ("2.000720", "Đăng ký thành lập hộ kinh doanh"),
            (
                "1.010027",
                "Đăng ký thay đổi nội dung đăng ký hộ kinh doanh",
            ),
        ],
    ),
    (
        "G08-HTX",
        "Thành lập và hoạt động của hợp tác xã (Bộ Kế hoạch và Đầu tư)",
        "Thành lập và hoạt động của hợp tác xã (Bộ Tài chính)",
        &[("2.002027", "Đăng ký thành lập hợp tác xã")],
    ),
    (
        "G13-DD",
        "Đất đai (Bộ Tài nguyên và Môi trường)",
        "Đất đai (Bộ Nông nghiệp và Môi trường)",
        &[
            (
                "1.012772",
                "Đăng ký đất đai, tài sản gắn liền với đất lần đầu",
            ),
            (
                "1.012794",
                "Đăng ký biến động đất đai, tài sản gắn liền với đất",
            ),
        ],
    ),
    (
        "G10-XD",
        "Hoạt động xây dựng (Bộ Xây dựng)",
        "Hoạt động xây dựng (Bộ Xây dựng)",
        &[(
            "1.009994",
            "Cấp giấy phép xây dựng mới đối với nhà ở riêng lẻ",
        )],
    ),
    (
        "G16-BTXH",
        "Bảo trợ xã hội (Bộ Lao động - Thương binh và Xã hội)",
        "Bảo trợ xã hội (Bộ Y tế)",
        &[("1.001776", "Thực hiện trợ cấp xã hội hàng tháng")],
    ),
];

/// Writes `spec.dossiers` lines as real exports write them, over `spec.quarters` quarters of
/// history ending with the window's (an equal share each, the oldest first). Every value a string,
/// the 17 DVCQG fields with the full names, ~500 bytes a line. In every quarter: about 1 % each
/// with an unknown channel, an unknown unit, no reception date, finished without a finish date,
/// deleted; 5 % without a due date; dates written `yyyy-MM-dd HH:mm:ss` or statuses padded with
/// spaces (1 % each, both readable); 0.3 % with an impossible date (unreadable: a finding); 0.5 %
/// exported twice, the second copy older. Older quarters are mostly closed, about 1 % still open;
/// their fields carry the names of before 2025 (the older half of a history); 2 % of them changed
/// during the last quarter (a correction: CapNhatLuc in it).
pub fn write_real_dossiers(
    spec: &Spec,
    tree: &[SynthUnit],
    out: &mut dyn Write,
) -> std::io::Result<()> {
    use std::fmt::Write as _;
    let mut rng = Rng(spec.seed ^ 0x5245_414c);
    let quarters = spec.quarters.max(1);
    let per_quarter = spec.dossiers.div_ceil(quarters);
    let current = Days::of(spec);
    let mut line = String::with_capacity(1024);
    let mut written = 0;
    for q in 0..quarters {
        let back = (quarters - 1 - q) as u32;
        let shift = |d: NaiveDate| {
            d.checked_sub_months(chrono::Months::new(3 * back))
                .expect("a date in range")
        };
        let days = Days::of(&Spec {
            first_day: shift(spec.first_day),
            last_day: shift(spec.last_day),
            ..Spec::default()
        });
        let old = q + 1 < quarters;
        let old_names = quarters > 1 && q < quarters / 2;
        let n = per_quarter.min(spec.dossiers - written);
        for i in written..written + n {
            let unit = &tree[1 + rng.below(tree.len() as u64 - 1) as usize];
            let (field_code, name_before, name_after, procedures) =
                REAL_FIELDS[rng.below(REAL_FIELDS.len() as u64) as usize];
            let field_name = if old_names { name_before } else { name_after };
            let (procedure, procedure_name) =
                procedures[rng.below(procedures.len() as u64) as usize];
            let received_day = rng.below(days.total as u64) as i64;
            let received_secs = 7 * 3600 + rng.below(10 * 3600);
            let limit = 1 + rng.below(15) as i64;
            let status = if !old {
                [2, 4, 5, 6, 7, 8, 9, 9, 9, 10, 10, 10, 10, 1, 3][rng.below(15) as usize]
            } else if rng.chance(1) {
                [2, 4, 5, 6, 8][rng.below(5) as usize]
            } else {
                [7, 9, 9, 9, 10, 10, 10, 10, 1, 3][rng.below(10) as usize]
            };
            let finish_day = received_day + rng.below(20) as i64;
            let closed = matches!(status, 7 | 9 | 10);
            let long_form = rng.chance(1);
            let at = |day: i64, secs: u64| {
                let compact = days.local(day, secs);
                if long_form {
                    let b = compact.as_bytes();
                    let p = |r: std::ops::Range<usize>| std::str::from_utf8(&b[r]).expect("digits");
                    format!(
                        "{}-{}-{} {}:{}:{}",
                        p(0..4),
                        p(4..6),
                        p(6..8),
                        p(8..10),
                        p(10..12),
                        p(12..14)
                    )
                } else {
                    compact
                }
            };
            let channel = if rng.chance(1) {
                "4"
            } else {
                ["1", "2", "3", "2"][rng.below(4) as usize]
            };
            let unit_code = if rng.chance(1) {
                "000.99.99.H55"
            } else {
                unit.code.as_str()
            };
            let received = if rng.chance(1) {
                String::new()
            } else if rng.below(1000) < 3 {
                // 31 February: an export's broken date, unreadable.
                "20230231080000".to_owned()
            } else {
                at(received_day, received_secs)
            };
            let due = if rng.chance(5) {
                String::new()
            } else {
                at(received_day + limit, received_secs)
            };
            let finished = if closed && !rng.chance(1) {
                at(finish_day, received_secs + 3600)
            } else {
                String::new()
            };
            let returned = if closed && !finished.is_empty() && rng.chance(80) {
                at(finish_day + rng.below(3) as i64, received_secs + 7200)
            } else {
                String::new()
            };
            let supplement = if status == 5 {
                at(received_day + 1, received_secs)
            } else {
                String::new()
            };
            let result = if closed && rng.chance(5) {
                "Trả lại/Xin rút"
            } else if closed {
                "Kết quả"
            } else {
                ""
            };
            let updated = if old && rng.chance(2) {
                // Corrected during the last quarter.
                current.local(
                    (current.total / 4) + rng.below(current.total as u64 / 2) as i64,
                    9 * 3600,
                )
            } else {
                days.local(finish_day.max(received_day) + 1, received_secs)
            };
            let padded = if rng.chance(1) { " " } else { "" };
            let deleted = if rng.chance(1) { "1" } else { "0" };
            let stamp = (days.base + Duration::days(received_day)).format("%y%m%d");
            let twice = rng.below(1000) < 5;
            line.clear();
            let _ = write!(
                line,
                "{{\"MaHoSo\":\"{code}-{stamp}-{i:07}\",\"MaTTHC\":\"{procedure}\",\"TenTTHC\":\"{procedure_name}\",\
\"MaLinhVuc\":\"{field_code}\",\"TenLinhVuc\":\"{field_name}\",\"MaDonViXuLy\":\"{unit_code}\",\
\"DonViXuLy\":\"{name}\",\"KenhThucHien\":\"{channel}\",\
\"TrangThaiHoSo\":\"{padded}{status}{padded}\",\"NgayTiepNhan\":\"{received}\",\"NgayHenTra\":\"{due}\",\
\"NgayYeuCauBoSung\":\"{supplement}\",\"NgayKetThucXuLy\":\"{finished}\",\"NgayTra\":\"{returned}\",\
\"LoaiKetQua\":\"{result}\",\"CapNhatLuc\":\"{updated}\",\"DaXoa\":\"{deleted}\"}}",
                code = unit.code,
                name = unit.name,
            );
            line.push('\n');
            if twice {
                // An older copy of the same dossier, exported again further on.
                let older = line.replace(
                    &format!("\"CapNhatLuc\":\"{updated}\""),
                    "\"CapNhatLuc\":\"20000101000000\"",
                );
                out.write_all(line.as_bytes())?;
                out.write_all(older.as_bytes())?;
            } else {
                out.write_all(line.as_bytes())?;
            }
        }
        written += n;
    }
    Ok(())
}
