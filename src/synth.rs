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
