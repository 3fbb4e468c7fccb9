//! `[[sources]]`: the systems records come from, each one configuration rather than code
//! (../shared/spec/real-sources.md). A source has a name (the first half of every record key), a
//! protocol, its authentication (`auth::source`), its endpoints and their quirks, how its fields,
//! instants, codes and units map to domain.md's records (`sources::mapping`), how its pulls
//! retry, and where it stands among other sources that send the same dossier (`precedence`).
//!
//! Whatever real-sources.md marks unknown is a setting here with a default, never a constant.
//! Today's `[upstreams.source]` and `[pull]` sections load unchanged as a `baocao` source
//! ([`legacy`]).

use crate::auth::source::{AuthKind, AuthSettings, TokenUse};
use crate::domain::RecordKind;
use crate::sources::mapping::MappingSettings;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// How a source is spoken to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// Our own contract (upstreams.md §1): OAuth2 and a keyset cursor on CapNhatLuc.
    Baocao,
    /// The national portal's "session + service" envelope, pulled by receipt-date window at a
    /// ministry-style adapter (`DanhSachHoSo`), open dossiers looked up by key (`TraCuuHoSo`).
    EnvelopeWindow,
    /// VNPT iGate's REST search (`/pa/dossier/search`), OpenID Connect.
    Igate,
    /// A queue of dossiers with acknowledgements (`LayDanhSachHoSo`, `CapNhatDaNhanHoSo`).
    AckQueue,
    /// One-stop systems push to us as they push to the national portal.
    Receiver,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Baocao => "baocao",
            Protocol::EnvelopeWindow => "envelope_window",
            Protocol::Igate => "igate",
            Protocol::AckQueue => "ack_queue",
            Protocol::Receiver => "receiver",
        }
    }

    /// What it sends unless `kinds` says otherwise.
    fn default_kinds(self) -> Vec<Provides> {
        match self {
            Protocol::Baocao => vec![Provides::Dossiers, Provides::Ratings, Provides::Feedback],
            Protocol::Receiver => vec![Provides::Dossiers, Provides::RatingMonths],
            _ => vec![Provides::Dossiers],
        }
    }

    /// Whether dossiers still open in the store are read again by key (`lookups`).
    pub fn looks_up_open_dossiers(self) -> bool {
        matches!(self, Protocol::EnvelopeWindow | Protocol::Igate)
    }

    /// Whether pulls read windows of a business date (and the store tracks open dossiers).
    pub fn tracks_open_dossiers(self) -> bool {
        !matches!(self, Protocol::Baocao)
    }
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A kind of record a source sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Provides {
    Dossiers,
    /// Ratings one per dossier (domain.md §1).
    Ratings,
    Feedback,
    /// Satisfaction as monthly aggregates per unit and question (`DongBoDanhGia`).
    RatingMonths,
}

impl Provides {
    /// The record kind the forms read that this feeds.
    pub fn record_kind(self) -> RecordKind {
        match self {
            Provides::Dossiers => RecordKind::Dossier,
            Provides::Ratings | Provides::RatingMonths => RecordKind::Rating,
            Provides::Feedback => RecordKind::Feedback,
        }
    }
}

/// Pull retries by time, not by count: exponential back-off with full jitter from `base_ms` to
/// `cap_seconds`, a server's `Retry-After` as the floor of a wait, until `budget_seconds` of the
/// pull have passed.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PullRetry {
    pub base_ms: u64,
    pub cap_seconds: u64,
    pub budget_seconds: u64,
}

impl Default for PullRetry {
    fn default() -> PullRetry {
        PullRetry {
            base_ms: 1_000,
            cap_seconds: 60,
            budget_seconds: 900,
        }
    }
}

impl PullRetry {
    /// The policy of one pull, its budget starting now.
    pub fn policy(&self) -> crate::retry::RetryPolicy {
        crate::retry::RetryPolicy::within(
            Duration::from_millis(self.base_ms.max(1)),
            Duration::from_secs(self.cap_seconds.max(1)),
            Duration::from_secs(self.budget_seconds),
        )
    }
}

/// The windows a pull walks. Unset values take the protocol's defaults ([`SourceSpec`]).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Windows {
    /// Each window spans this many days.
    pub days: Option<i64>,
    /// Each pull starts this far before where the last one stopped: a record entered late for a
    /// day already read comes again. For receipt-date windows, days (`envelope_window`: 3 days,
    /// as one real client polls).
    pub overlap_seconds: Option<i64>,
    /// Each pull stops this far in the past.
    pub lag_seconds: Option<i64>,
    /// Windows fetched at once.
    pub parallel: Option<usize>,
    /// Records per page where the protocol pages.
    pub page_size: Option<u32>,
}

/// Dossiers still open in the store, read again by key: at this cadence, at most this many calls a
/// second, and always before a pre-fill (for every one not read since the period's settle
/// instant).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Lookups {
    pub every_minutes: u32,
    pub per_second: f64,
    pub parallel: usize,
    /// At most this many a pull (default: ten minutes' worth at `per_second`); the rest go on at
    /// the next pull.
    pub per_pull: Option<usize>,
}

impl Default for Lookups {
    fn default() -> Lookups {
        Lookups {
            every_minutes: 360,
            per_second: 20.0,
            parallel: 4,
            per_pull: None,
        }
    }
}

/// The national portal's envelope, as a ministry-style adapter serves it.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Envelope {
    /// Where services are called (`{base_url}{integration_path}`).
    pub integration_path: String,
    /// The sender's unit code (`madonvi`), sent with every call when set.
    pub madonvi: Option<String>,
    /// The service listing dossiers by receipt-date window, and its two parameters.
    pub list_service: String,
    pub from_param: String,
    pub to_param: String,
    /// How the window's days are written (chrono's strftime), and whether the second day is
    /// inclusive.
    pub date_format: String,
    pub to_inclusive: bool,
    /// The answer's field holding the records.
    pub result_field: String,
    /// The look-up by key, and its parameter.
    pub lookup_service: String,
    pub lookup_param: String,
    /// `error_code`s meaning success.
    pub ok_codes: Vec<String>,
    /// Codes that mean success when the message says so (one client reads "3"/"-3" this way).
    pub soft_codes: Vec<String>,
    pub soft_ok_messages: Vec<String>,
    /// An answer whose code is one of these, or whose message contains one of these texts
    /// (compared folded), says the session is gone: log in again.
    pub session_gone_codes: Vec<String>,
    pub session_gone_messages: Vec<String>,
}

impl Default for Envelope {
    fn default() -> Envelope {
        Envelope {
            integration_path: "/integration".to_owned(),
            madonvi: None,
            list_service: "DanhSachHoSo".to_owned(),
            from_param: "ngayNhan1".to_owned(),
            to_param: "ngayNhan2".to_owned(),
            date_format: "%Y-%m-%d".to_owned(),
            to_inclusive: true,
            result_field: "result".to_owned(),
            lookup_service: "TraCuuHoSo".to_owned(),
            lookup_param: "mahoso".to_owned(),
            ok_codes: vec!["0".to_owned()],
            soft_codes: vec!["3".to_owned(), "-3".to_owned()],
            soft_ok_messages: vec!["thành công".to_owned()],
            session_gone_codes: Vec::new(),
            session_gone_messages: vec![
                "phiên làm việc".to_owned(),
                "session".to_owned(),
                "token".to_owned(),
            ],
        }
    }
}

/// VNPT iGate's REST API.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Igate {
    pub search_path: String,
    /// One dossier in full (`{id}` replaced), for look-ups.
    pub detail_path: String,
    /// The query parameters of each window kind: (from, to).
    pub received: [String; 2],
    pub due: [String; 2],
    pub returned: [String; 2],
    /// Which windows incremental pulls re-scan besides the received ones.
    pub rescan: Vec<crate::domain::Axis>,
    /// How window bounds are written (chrono's strftime, in ICT).
    pub param_format: String,
    /// Whether iGate reads the `…-to` bound as inclusive (then it is sent one second before the
    /// window's end) [guess: inclusive].
    pub to_inclusive: bool,
    /// Added to every search (`spec = "slice"`, `ancestor-agency-id`, …).
    pub query: BTreeMap<String, String>,
    /// The first page's number.
    pub first_page: u32,
    /// The item's id (a 24-hex ObjectId), for look-ups.
    pub id_field: String,
    /// Catalogue look-ups by id (`{id}` replaced): name → path. A mapping field reads one with
    /// `lookup = "agency"`.
    pub lookups: BTreeMap<String, String>,
}

impl Default for Igate {
    fn default() -> Igate {
        let pair = |a: &str, b: &str| [a.to_owned(), b.to_owned()];
        Igate {
            search_path: "/pa/dossier/search".to_owned(),
            detail_path: "/pa/dossier/{id}/--online".to_owned(),
            received: pair("accepted-from", "accepted-to"),
            due: pair("appointment-from", "appointment-to"),
            returned: pair("result-returned-from", "result-returned-to"),
            rescan: vec![crate::domain::Axis::Due, crate::domain::Axis::Returned],
            param_format: "%Y-%m-%dT%H:%M:%S%.3f%:z".to_owned(),
            to_inclusive: true,
            query: BTreeMap::from([("spec".to_owned(), "slice".to_owned())]),
            first_page: 0,
            id_field: "id".to_owned(),
            lookups: BTreeMap::from([
                ("agency".to_owned(), "/ba/agency/{id}".to_owned()),
                ("sector".to_owned(), "/ba/sector/{id}".to_owned()),
                ("procedure".to_owned(), "/ba/procedure/{id}".to_owned()),
            ]),
        }
    }
}

/// A queue with acknowledgements.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Queue {
    pub list_path: String,
    /// The answer's field holding the items.
    pub list_field: String,
    pub ack_path: String,
    /// The acknowledgement's key field, and the field saying "received".
    pub ack_key_field: String,
    pub ack_flag_field: String,
    /// An acknowledgement succeeded when its answer's text contains one of these (folded).
    pub ack_ok_texts: Vec<String>,
    /// A drain stops after this many batches even if the queue is not empty (the next pull goes
    /// on).
    pub max_batches: u32,
}

impl Default for Queue {
    fn default() -> Queue {
        Queue {
            list_path: "/LayDanhSachHoSo".to_owned(),
            list_field: "data".to_owned(),
            ack_path: "/CapNhatDaNhanHoSo".to_owned(),
            ack_key_field: "maHoSo".to_owned(),
            ack_flag_field: "daNhan".to_owned(),
            ack_ok_texts: vec![
                "thành công".to_owned(),
                "success".to_owned(),
                "true".to_owned(),
            ],
            max_batches: 10_000,
        }
    }
}

/// Where one-stop systems push (off unless `listen` is set).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Receiver {
    pub listen: Option<String>,
    pub login_path: String,
    pub integration_path: String,
    /// A session lasts this long.
    pub session_minutes: u64,
    /// Requests larger than this are refused (413).
    pub max_body_bytes: usize,
    /// Calls per client per minute, and the burst allowed above the rate.
    pub rate_per_minute: u32,
    pub burst: u32,
    /// When set, a login must carry this `dstcode` header.
    pub dstcode: Option<String>,
    /// Logins tried per address per minute (wrong passwords are slowed down too).
    pub logins_per_minute: u32,
}

impl Default for Receiver {
    fn default() -> Receiver {
        Receiver {
            listen: None,
            login_path: "/auth".to_owned(),
            integration_path: "/integration".to_owned(),
            session_minutes: 30,
            max_body_bytes: 16 << 20,
            rate_per_minute: 1200,
            burst: 120,
            dstcode: None,
            logins_per_minute: 30,
        }
    }
}

/// Monthly satisfaction aggregates (`DongBoDanhGia`): which question counts.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Satisfaction {
    /// The question (NoiDung) whose answers are the satisfaction summary, compared folded. When
    /// unset, a unit-month with exactly one question uses it; one with several is a finding.
    pub question: Option<String>,
}

/// One `[[sources]]` entry as written.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSettings {
    pub name: String,
    pub protocol: Protocol,
    /// The API's address; paths below are appended to it.
    #[serde(default)]
    pub base_url: Option<String>,
    /// What it sends (default: by protocol).
    #[serde(default)]
    pub kinds: Vec<Provides>,
    /// When two sources send the same MaHoSo, the lower number counts; the other copy is a
    /// `duplicate_record` finding.
    #[serde(default = "default_precedence")]
    pub precedence: i64,
    #[serde(default)]
    pub auth: Option<AuthSettings>,
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    #[serde(default)]
    pub allow_http: bool,
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: usize,
    #[serde(default)]
    pub retry: PullRetry,
    #[serde(default)]
    pub windows: Windows,
    #[serde(default)]
    pub lookups: Lookups,
    #[serde(default)]
    pub envelope: Envelope,
    #[serde(default)]
    pub igate: Igate,
    #[serde(default)]
    pub queue: Queue,
    #[serde(default)]
    pub receiver: Receiver,
    #[serde(default)]
    pub mapping: MappingSettings,
    #[serde(default)]
    pub satisfaction: Satisfaction,
    /// The CA certificate read from `ca_file` (by `configuration`, which reads files).
    #[serde(skip)]
    pub ca_pem: Option<Vec<u8>>,
}

fn default_precedence() -> i64 {
    100
}

fn default_timeout_ms() -> u64 {
    30_000
}

fn default_max_body_bytes() -> usize {
    64 << 20
}

/// A window geometry resolved with the protocol's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowPlan {
    pub days: i64,
    pub overlap_seconds: i64,
    pub lag_seconds: i64,
    pub parallel: usize,
    pub page_size: u32,
}

impl SourceSettings {
    /// The kinds it sends.
    pub fn provides(&self) -> Vec<Provides> {
        if self.kinds.is_empty() {
            self.protocol.default_kinds()
        } else {
            self.kinds.clone()
        }
    }

    /// Whether it feeds the record kind the forms read.
    pub fn feeds(&self, kind: RecordKind) -> bool {
        self.provides().iter().any(|p| p.record_kind() == kind)
    }

    /// Its mapping: what `[sources.mapping]` says, over the field paths of the protocol's shape as
    /// real-sources.md gives it (the envelope's `DongBoHoSoMC`, iGate's dossier, the queue's
    /// lowerCamel items), and the envelope's units found by name (it carries no unit code).
    pub fn effective_mapping(&self) -> MappingSettings {
        use crate::sources::mapping::{FieldRule, Pick, UnitBy};
        let mut m = self.mapping.clone();
        let path = |p: &str| FieldRule::Path(p.to_owned());
        let latest = |p: &str| FieldRule::Rule {
            path: p.to_owned(),
            pick: Pick::Latest,
            lookup: None,
            take: None,
            default: None,
        };
        let lookup = |p: &str, catalogue: &str, take: &str| FieldRule::Rule {
            path: p.to_owned(),
            pick: Pick::First,
            lookup: Some(catalogue.to_owned()),
            take: Some(take.to_owned()),
            default: None,
        };
        let defaults: Vec<(&str, FieldRule)> = match self.protocol {
            Protocol::EnvelopeWindow | Protocol::Receiver => vec![(
                "NgayYeuCauBoSung",
                latest("DanhSachHoSoBoSung[].NgayBoSung"),
            )],
            Protocol::Igate => vec![
                ("MaHoSo", path("code")),
                ("MaTTHC", lookup("procedure.id", "procedure", "code")),
                ("TenTTHC", lookup("procedure.id", "procedure", "name")),
                ("MaLinhVuc", lookup("sector.id", "sector", "code")),
                ("TenLinhVuc", lookup("sector.id", "sector", "name")),
                ("MaDonViXuLy", lookup("agency.id", "agency", "code")),
                ("DonViXuLy", path("agency.name")),
                ("KenhThucHien", path("applyMethod.id")),
                ("TrangThaiHoSo", path("dossierStatus.id")),
                ("NgayTiepNhan", path("acceptedDate")),
                ("NgayHenTra", path("appointmentDate")),
                (
                    "NgayYeuCauBoSung",
                    latest("additionalRequests[].requestDate"),
                ),
                ("NgayKetThucXuLy", path("completedDate")),
                ("NgayTra", path("returnedDate")),
                ("LoaiKetQua", path("result.name")),
            ],
            Protocol::AckQueue => vec![
                ("MaHoSo", path("maHoSo")),
                ("MaTTHC", path("maTTHC")),
                ("TenTTHC", path("tenTTHC")),
                ("MaLinhVuc", path("maLinhVuc")),
                ("TenLinhVuc", path("tenLinhVuc")),
                ("MaDonViXuLy", path("maDonVi")),
                ("DonViXuLy", path("tenDonVi")),
                ("KenhThucHien", path("kenhThucHien")),
                ("TrangThaiHoSo", path("trangThaiHoSo")),
                ("NgayTiepNhan", path("ngayTiepNhan")),
                ("NgayHenTra", path("ngayHenTra")),
                ("NgayYeuCauBoSung", path("ngayYeuCauBoSung")),
                ("NgayKetThucXuLy", path("ngayKetThucXuLy")),
                ("NgayTra", path("ngayTra")),
                ("LoaiKetQua", path("loaiKetQua")),
            ],
            Protocol::Baocao => Vec::new(),
        };
        for (field, rule) in defaults {
            m.fields.entry(field.to_owned()).or_insert(rule);
        }
        if matches!(self.protocol, Protocol::EnvelopeWindow | Protocol::Receiver)
            && m.units.by.is_empty()
        {
            m.units.by = vec![UnitBy::Name];
        }
        m
    }

    /// Its authentication, the protocol's default when none is written.
    pub fn auth(&self) -> AuthSettings {
        if let Some(a) = &self.auth {
            return a.clone();
        }
        let mut a = AuthSettings::default();
        match self.protocol {
            Protocol::Baocao => a.kind = AuthKind::Oauth2ClientCredentials,
            Protocol::EnvelopeWindow => {
                a.kind = AuthKind::Login;
            }
            Protocol::Igate => a.kind = AuthKind::Oauth2Password,
            Protocol::AckQueue => {
                a.kind = AuthKind::Login;
                a.login_path = "/GetToken".to_owned();
                a.login_body = BTreeMap::from([
                    ("userName".to_owned(), "{username}".to_owned()),
                    ("password".to_owned(), "{password}".to_owned()),
                ]);
                a.token_field = "token".to_owned();
                a.token_use = TokenUse::Bearer;
            }
            Protocol::Receiver => a.kind = AuthKind::None,
        }
        a
    }

    pub fn window_plan(&self) -> WindowPlan {
        let w = &self.windows;
        let (days, overlap, page) = match self.protocol {
            Protocol::Baocao => (7, 900, 1000),
            Protocol::EnvelopeWindow => (1, 3 * 86_400, 1000),
            Protocol::Igate => (7, 2 * 86_400, 100),
            Protocol::AckQueue | Protocol::Receiver => (1, 0, 100),
        };
        WindowPlan {
            days: w.days.unwrap_or(days).max(1),
            overlap_seconds: w.overlap_seconds.unwrap_or(overlap).max(0),
            lag_seconds: w.lag_seconds.unwrap_or(300).max(0),
            parallel: w.parallel.unwrap_or(2).max(1),
            page_size: w.page_size.unwrap_or(page).clamp(1, 1000),
        }
    }

    /// An HTTP client for this source: its timeout, its private CA if it has one, certificate
    /// verification always on, no redirects.
    pub fn http_client(&self) -> reqwest::Client {
        crate::auth::token::http_client_with(
            Duration::from_millis(self.timeout_ms),
            self.ca_pem.as_deref(),
        )
    }

    /// A path under the base URL, or an absolute URL as it is.
    pub fn url(&self, path_or_url: &str) -> Result<reqwest::Url, String> {
        if path_or_url.starts_with("http://") || path_or_url.starts_with("https://") {
            return reqwest::Url::parse(path_or_url)
                .map_err(|e| format!("source `{}`: `{path_or_url}`: {e}", self.name));
        }
        let base = self
            .base_url
            .as_deref()
            .ok_or_else(|| format!("source `{}` has no base_url", self.name))?;
        let joined = format!(
            "{}/{}",
            base.trim_end_matches('/'),
            path_or_url.trim_start_matches('/')
        );
        reqwest::Url::parse(&joined).map_err(|e| format!("source `{}`: `{joined}`: {e}", self.name))
    }

    /// Checks what can be checked without the network: a name, URLs (plain http to loopback
    /// only, unless `allow_http`), the mapping's tables and paths.
    pub fn check(&self) -> Result<(), String> {
        let section = format!("sources `{}`", self.name);
        if self.name.trim().is_empty() || self.name.contains(['/', ':', '*']) {
            return Err(format!(
                "a source's name must not be empty nor hold `/`, `:` or `*`: `{}`",
                self.name
            ));
        }
        if self.protocol != Protocol::Receiver && self.base_url.is_none() {
            return Err(format!("{section}: base_url is required"));
        }
        let auth = self.auth();
        let mut urls: Vec<(&str, String)> = Vec::new();
        if let Some(b) = &self.base_url {
            urls.push(("base_url", b.clone()));
        }
        for (what, u) in auth.urls() {
            urls.push((what, self.url(&u)?.to_string()));
        }
        for (what, url) in urls {
            crate::auth::token::check_url(&section, what, &url, self.allow_http)?;
        }
        if let (Some(path), Some(pem)) = (&self.ca_file, &self.ca_pem) {
            match reqwest::Certificate::from_pem_bundle(pem) {
                Ok(certs) if !certs.is_empty() => {}
                _ => {
                    return Err(format!(
                        "{section}: ca_file {} holds no PEM certificate",
                        path.display()
                    ));
                }
            }
        }
        auth.check(&section)?;
        crate::sources::mapping::Mapping::compile(&self.name, &self.effective_mapping())?;
        if self.protocol == Protocol::Receiver
            && let Some(listen) = &self.receiver.listen
        {
            listen.parse::<std::net::SocketAddr>().map_err(|e| {
                format!("{section}: receiver.listen `{listen}` is not an address: {e}")
            })?;
        }
        if self.lookups.per_second <= 0.0 || self.lookups.parallel == 0 {
            return Err(format!(
                "{section}: lookups.per_second and lookups.parallel must be above 0"
            ));
        }
        Ok(())
    }
}

/// The satisfaction question that counts in monthly aggregates: the first source that names one.
pub fn satisfaction_question(sources: &[SourceSettings]) -> Option<&str> {
    sources
        .iter()
        .find_map(|s| s.satisfaction.question.as_deref())
}

/// Today's `[upstreams.source]` (a [`crate::auth::token::TokenEndpoint`]) and `[pull]` as a
/// `baocao` source: the same name, address, token endpoint, windows and vault entry.
pub fn legacy(
    endpoint: &crate::auth::token::TokenEndpoint,
    pull: &crate::settings::PullSettings,
) -> SourceSettings {
    let auth = AuthSettings {
        kind: AuthKind::Oauth2ClientCredentials,
        token_url: Some(endpoint.token_url.clone()),
        legacy_vault_entry: true,
        ..AuthSettings::default()
    };
    SourceSettings {
        name: pull.source.clone(),
        protocol: Protocol::Baocao,
        base_url: endpoint.base_url.clone(),
        kinds: Vec::new(),
        precedence: default_precedence(),
        auth: Some(auth),
        timeout_ms: endpoint.timeout_ms,
        allow_http: endpoint.allow_http,
        ca_file: endpoint.ca_file.clone(),
        max_body_bytes: endpoint.max_body_bytes,
        retry: PullRetry {
            base_ms: endpoint.retry.backoff_ms,
            cap_seconds: endpoint.retry.cap_seconds,
            budget_seconds: endpoint
                .retry
                .budget_seconds
                .unwrap_or(PullRetry::default().budget_seconds),
        },
        windows: Windows {
            days: Some(pull.window_days),
            overlap_seconds: Some(pull.overlap_seconds),
            lag_seconds: Some(pull.lag_seconds),
            parallel: Some(pull.parallel),
            page_size: Some(pull.page_size),
        },
        lookups: Lookups::default(),
        envelope: Envelope::default(),
        igate: Igate::default(),
        queue: Queue::default(),
        receiver: Receiver::default(),
        mapping: MappingSettings::default(),
        satisfaction: Satisfaction::default(),
        ca_pem: endpoint.ca_pem.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> SourceSettings {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn protocols_give_their_defaults() {
        let s = parse(
            "name = \"dvc\"\nprotocol = \"envelope_window\"\nbase_url = \"https://x.gov.vn/adapter\"\n",
        );
        assert_eq!(s.provides(), vec![Provides::Dossiers]);
        assert_eq!(s.auth().kind, AuthKind::Login);
        let plan = s.window_plan();
        assert_eq!((plan.days, plan.overlap_seconds), (1, 3 * 86_400));
        s.check().unwrap();
        let q = parse(
            "name = \"hotich\"\nprotocol = \"ack_queue\"\nbase_url = \"https://x.gov.vn/api\"\n",
        );
        assert_eq!(q.auth().token_use, TokenUse::Bearer);
        assert_eq!(q.auth().token_field, "token");
        let r = parse("name = \"nhan\"\nprotocol = \"receiver\"\n");
        assert!(
            r.feeds(RecordKind::Rating),
            "monthly aggregates feed the summary"
        );
        assert!(!r.feeds(RecordKind::Feedback));
    }

    #[test]
    fn mistakes_name_the_source() {
        let s = parse(
            "name = \"igate\"\nprotocol = \"igate\"\nbase_url = \"http://igate.example.gov.vn\"\n",
        );
        let e = s.check().unwrap_err();
        assert!(e.contains("igate") && e.contains("plain http"), "{e}");
        let s = parse("name = \"a/b\"\nprotocol = \"igate\"\nbase_url = \"https://x\"\n");
        assert!(s.check().unwrap_err().contains("name"));
        let s = parse("name = \"x\"\nprotocol = \"igate\"\n");
        assert!(s.check().unwrap_err().contains("base_url"));
    }

    #[test]
    fn paths_join_the_base_and_urls_stand() {
        let s = parse(
            "name = \"x\"\nprotocol = \"igate\"\nbase_url = \"https://igate.example.gov.vn/api/\"\n",
        );
        assert_eq!(
            s.url("/pa/dossier/search").unwrap().as_str(),
            "https://igate.example.gov.vn/api/pa/dossier/search"
        );
        assert_eq!(
            s.url("https://sso.example.gov.vn/t").unwrap().as_str(),
            "https://sso.example.gov.vn/t"
        );
    }
}
