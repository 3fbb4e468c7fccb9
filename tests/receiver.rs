//! The receiver, against one-stop systems pushing to it as they push to the national portal
//! (played by this test with the envelope's own shapes): the figures of what was pushed are the
//! export's; a resend stores nothing new; a bad item is named and the rest stored; a receiver
//! killed before storing or between storing and answering loses nothing and answers 0 only for
//! what it stored; twenty clients at once store every dossier once; monthly satisfaction
//! aggregates give the figures docs/sources.md says; bad input is answered clearly.

mod common;

use common::sources::{Province, assert_same_as_export};
use serde_json::{Value, json};
use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Stdio};

const PASSWORD: &str = "mat-khau-dai-du-12";

fn receiver_config(p: &Province, name: &str, extra: &str) -> std::path::PathBuf {
    receiver_config_in(p, name, extra, &p.sqlite(name))
}

fn receiver_config_in(p: &Province, name: &str, extra: &str, db: &str) -> std::path::PathBuf {
    p.config(
        name,
        &format!(
            "[[sources]]\nname = \"nhan\"\nprotocol = \"receiver\"\n[sources.receiver]\nlisten = \"127.0.0.1:0\"\n\
             dstcode = \"BAOCAO\"\n{extra}\n[sources.satisfaction]\nquestion = \"{}\"\n",
            baocao_sync::sandbox::pusher::QUESTION
        ),
        db,
    )
}

fn add_client(config: &Path, client: &str) {
    let mut command = common::bin();
    command
        .args([
            "receiver", "client", "add", "--source", "nhan", "--client", client,
        ])
        .args(["--password-stdin", "--config"])
        .arg(config);
    assert!(
        common::with_stdin(&mut command, PASSWORD),
        "receiver client add"
    );
}

/// `receiver serve` in a process of its own; killed when dropped.
struct Serving {
    child: Child,
    base: String,
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(config: &Path, drill: Option<&str>) -> Serving {
    let mut command = common::bin();
    command
        .args([
            "receiver",
            "serve",
            "--now",
            common::sources::NOW,
            "--config",
        ])
        .arg(config)
        .stdout(Stdio::piped())
        .env_remove("BAOCAO_DRILL_KILL");
    if let Some(d) = drill {
        command.env("BAOCAO_DRILL_KILL", d);
    }
    let mut child = command.spawn().unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("the receiver says where it listens: {line}"))
        .to_owned();
    Serving { child, base }
}

fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(std::time::Duration::from_secs(60))
        .build()
        .unwrap()
}

fn login(base: &str, client: &str) -> String {
    let answer: Value = http()
        .post(format!("{base}/auth"))
        .header("dstcode", "BAOCAO")
        .json(&json!({"username": client, "password": PASSWORD}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(answer["error_code"], 0, "{answer}");
    answer["session"].as_str().unwrap().to_owned()
}

/// One call: the HTTP status and the answer.
fn call(base: &str, session: &str, service: &str, fields: Value) -> (u16, Value) {
    let mut body = json!({"session": session, "service": service, "madonvi": "000.00.00.H55"});
    for (k, v) in fields.as_object().unwrap() {
        body[k] = v.clone();
    }
    let answer = http()
        .post(format!("{base}/integration"))
        .json(&body)
        .send()
        .unwrap();
    let status = answer.status().as_u16();
    (status, answer.json().unwrap_or(Value::Null))
}

fn push(base: &str, session: &str, items: &[Value]) -> Value {
    let (status, answer) = call(
        base,
        session,
        "DongBoHoSoMC",
        json!({"isUpdating": "False", "data": items}),
    );
    assert_eq!(status, 200, "{answer}");
    answer
}

fn look_up(base: &str, session: &str, key: &str) -> Vec<Value> {
    let (_, answer) = call(base, session, "TraCuuHoSo", json!({"mahoso": key}));
    assert_eq!(answer["error_code"], 0, "{answer}");
    answer["result"].as_array().unwrap().clone()
}

/// The data set's dossiers as a one-stop system sends them.
fn items(p: &Province) -> Vec<Value> {
    let names: std::collections::HashMap<String, String> =
        baocao_sync::domain::UnitTree::from_toml(&std::fs::read_to_string(p.units()).unwrap())
            .map(|t| {
                t.ids()
                    .map(|id| (t.get(id).code.clone(), t.get(id).name.clone()))
                    .collect()
            })
            .unwrap();
    baocao_sync::sandbox::pusher::dossier_items(
        &std::fs::read_to_string(p.export()).unwrap(),
        &names,
    )
}

#[test]
fn pushed_dossiers_give_the_figures_of_the_export_and_a_resend_changes_nothing() {
    let p = Province::new(600, 16, "", None);
    let config = receiver_config(&p, "push", "");
    add_client(&config, "tinh-dvc");
    let r = serve(&config, None);
    let session = login(&r.base, "tinh-dvc");
    let items = items(&p);
    for batch in items.chunks(100) {
        let answer = push(&r.base, &session, batch);
        assert_eq!(answer["error_code"], 0, "{answer}");
    }
    for form in ["II.06a", "II.06"] {
        assert_same_as_export(
            &p.report_from_export(form),
            &p.report_from_store(&config, form),
        );
    }
    // The same batch again (its answer lost, say): answered 0, nothing stored twice.
    let again = push(&r.base, &session, &items[..100]);
    assert_eq!(again["error_code"], 0, "{again}");
    assert_same_as_export(
        &p.report_from_export("II.06a"),
        &p.report_from_store(&config, "II.06a"),
    );
    // What is stored is what TraCuuHoSo answers.
    let key = items[7]["MaHoSo"].as_str().unwrap();
    let found = look_up(&r.base, &session, key);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["MaHoSo"], key);
    assert!(look_up(&r.base, &session, "KHONG-CO").is_empty());
}

#[test]
fn a_batch_with_bad_items_stores_the_rest_and_names_each_bad_one() {
    let p = Province::new(60, 8, "", None);
    let config = receiver_config(&p, "bad", "");
    add_client(&config, "tinh-dvc");
    let r = serve(&config, None);
    let session = login(&r.base, "tinh-dvc");
    let mut batch: Vec<Value> = items(&p).into_iter().take(5).collect();
    let mut bad_status = batch[0].clone();
    bad_status["MaHoSo"] = "HS-TRANG-THAI".into();
    bad_status["TrangThaiHoSo"] = "11".into();
    let mut bad_date = batch[0].clone();
    bad_date["MaHoSo"] = "HS-NGAY".into();
    bad_date["NgayTiepNhan"] = "32/13/2023".into();
    let mut no_key = batch[0].clone();
    no_key.as_object_mut().unwrap().remove("MaHoSo");
    batch.insert(1, bad_status);
    batch.insert(3, no_key);
    batch.push(bad_date);
    let answer = push(&r.base, &session, &batch);
    assert_eq!(answer["error_code"], -1, "{answer}");
    let bad = answer["result"].as_array().unwrap();
    let named: Vec<&str> = bad.iter().map(|b| b["MaHoSo"].as_str().unwrap()).collect();
    assert_eq!(named.len(), 3, "{answer}");
    assert!(
        named.contains(&"HS-TRANG-THAI") && named.contains(&"HS-NGAY"),
        "{named:?}"
    );
    assert!(
        named.contains(&"row:4"),
        "the item without a code is named by its place: {named:?}"
    );
    let why = |k: &str| {
        bad.iter().find(|b| b["MaHoSo"] == k).unwrap()["message"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert!(
        why("HS-TRANG-THAI").contains("TrangThaiHoSo"),
        "{}",
        why("HS-TRANG-THAI")
    );
    assert!(
        why("HS-NGAY").contains("NgayTiepNhan"),
        "{}",
        why("HS-NGAY")
    );
    for good in &batch {
        if let Some(k) = good["MaHoSo"].as_str().filter(|k| k.contains(".H55-")) {
            assert_eq!(look_up(&r.base, &session, k).len(), 1, "{k} is stored");
        }
    }
    // The bad ones are listed with the reports, by their codes.
    let report = p.report_from_store(&config, "II.06a");
    let listed: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "invalid_record")
        .map(|f| f["record"].as_str().unwrap())
        .collect();
    assert!(
        listed.contains(&"HS-TRANG-THAI") && listed.contains(&"HS-NGAY"),
        "{listed:?}"
    );
}

#[test]
fn a_receiver_killed_before_storing_or_before_answering_loses_nothing() {
    let p = Province::new(80, 8, "", None);
    let all = items(&p);
    for (stage, stored_before_resend) in [("receive", false), ("answer", true)] {
        let config = receiver_config(&p, stage, "");
        add_client(&config, "tinh-dvc");
        let batch = &all[..20];
        let key = batch[0]["MaHoSo"].as_str().unwrap();
        let session = {
            let r = serve(&config, Some(&format!("{stage}:1")));
            let session = login(&r.base, "tinh-dvc");
            let answer = http()
                .post(format!("{}/integration", r.base))
                .json(&json!({"session": session, "service": "DongBoHoSoMC", "isUpdating": "True", "data": batch}))
                .send();
            assert!(
                answer.is_err(),
                "{stage}: killed, nothing answered: {answer:?}"
            );
            session
        };
        // Restarted; the session lives in the store.
        let r = serve(&config, None);
        assert_eq!(
            look_up(&r.base, &session, key).len(),
            usize::from(stored_before_resend),
            "{stage}: no error_code 0 was given, and the batch is stored exactly when it was written"
        );
        let answer = push(&r.base, &session, batch);
        assert_eq!(answer["error_code"], 0, "{stage}: {answer}");
        for item in batch {
            let k = item["MaHoSo"].as_str().unwrap();
            assert_eq!(look_up(&r.base, &session, k).len(), 1, "{stage}: {k}");
        }
    }
}

#[test]
fn twenty_clients_at_once_store_every_dossier_once() {
    let p = Province::new(1000, 16, "", None);
    let all = items(&p);
    for backend in common::stores::BACKENDS {
        let db = common::stores::TestDb::new(backend);
        let config = receiver_config_in(&p, &format!("twenty-{backend}"), "", db.url());
        let clients: Vec<String> = (0..20).map(|i| format!("he-thong-{i:02}")).collect();
        for c in &clients {
            add_client(&config, c);
        }
        let r = serve(&config, None);
        // Each client sends its share and, at the same time, the first batch of the next one's.
        let shares: Vec<Vec<Value>> = (0..20)
            .map(|i| all.iter().skip(i).step_by(20).cloned().collect())
            .collect();
        std::thread::scope(|s| {
            for (i, client) in clients.iter().enumerate() {
                let (base, shares) = (&r.base, &shares);
                s.spawn(move || {
                    let session = login(base, client);
                    let mine = &shares[i];
                    let next = &shares[(i + 1) % 20];
                    for batch in mine.chunks(10).chain(next.chunks(10).take(1)) {
                        let answer = push(base, &session, batch);
                        assert_eq!(answer["error_code"], 0, "{backend} {client}: {answer}");
                    }
                });
            }
        });
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let stored = runtime.block_on(async {
            use baocao_sync::store::Store;
            db.open().await.dossiers(Some("nhan")).await.unwrap()
        });
        let keys: std::collections::HashSet<&str> = stored.iter().map(|d| &*d.key).collect();
        assert_eq!(
            keys.len(),
            stored.len(),
            "{backend}: no dossier stored twice"
        );
        assert_eq!(stored.len(), all.len(), "{backend}: every dossier stored");
        assert_same_as_export(
            &p.report_from_export("II.06a"),
            &p.report_from_store(&config, "II.06a"),
        );
    }
}

/// Hand-worked: docs/sources.md's rules on a few aggregates.
#[test]
fn monthly_satisfaction_gives_the_documented_figures() {
    let p = Province::new(10, 8, "", None);
    let config = receiver_config(&p, "hl", "");
    add_client(&config, "tinh-dvc");
    let r = serve(&config, None);
    let session = login(&r.base, "tinh-dvc");
    let q = baocao_sync::sandbox::pusher::QUESTION;
    let item = |unit: &str, month: &str, raters: u32, shares: [&str; 3], question: &str| {
        json!({"NgayTongHop": month, "TongSoNguoiDanhGia": raters.to_string(),
               "PhanTramDanhGia": {"RatHaiLong": shares[0], "HaiLong": shares[1], "ChuaHaiLong": shares[2]},
               "NoiDung": question, "Madonvi": unit, "TenDonVi": ""})
    };
    let (dept, b, c, e) = (
        "000.10.00.H55",
        "000.00.100.H55",
        "000.00.101.H55",
        "000.00.102.H55",
    );
    let items = vec![
        // June (its 15th is in 2023-Q3): 87% of 120 = 104.4, 10% = 12, 3% = 3.6: 104, 12, 3 and
        // the one left over to the largest remainder (.6): 104, 12, 4.
        item(dept, "6-2023", 120, ["87%", "10%", "3%"], q),
        // July: 30, 15, 5.
        item(dept, "7-2023", 50, ["60%", "30%", "10%"], q),
        // May and September: their 15th is outside the window (15/06–14/09).
        item(dept, "5-2023", 999, ["100%", "0%", "0%"], q),
        item(dept, "9-2023", 999, ["0%", "0%", "100%"], q),
        // Two questions: the configured one counts (20, 20, 0).
        item(b, "7-2023", 40, ["50%", "50%", "0%"], q),
        item(b, "7-2023", 40, ["100%", "0%", "0%"], "Thái độ cán bộ"),
        // Shares adding up to 99%: 7 raters, 2.33 each, the one left to the first: 3, 2, 2.
        item(c, "7-2023", 7, ["33%", "33%", "33%"], q),
        // Two questions, neither the configured one: a finding, nothing counted.
        item(e, "8-2023", 10, ["50%", "50%", "0%"], "Câu hỏi 1"),
        item(e, "8-2023", 10, ["10%", "90%", "0%"], "Câu hỏi 2"),
    ];
    let (status, answer) = call(&r.base, &session, "DongBoDanhGia", json!({"data": items}));
    assert_eq!(
        (status, &answer["error_code"]),
        (200, &json!(0)),
        "{answer}"
    );
    let hl = p.report_from_store(&config, "HL");
    let report = |list: &str, unit: &str| {
        hl[list]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["unit"] == unit)
            .unwrap_or_else(|| panic!("{unit} in {list}: {hl}"))
            .clone()
    };
    let levels = |r: &Value| {
        (1..=3)
            .map(|l| r["levels"][l.to_string()].as_u64().unwrap())
            .collect::<Vec<_>>()
    };
    let d = report("reports", dept);
    assert_eq!(levels(&d), [134, 27, 9]);
    assert_eq!(d["total"], 170);
    assert_eq!(d["satisfaction_rate"], 94.7, "161 of 170");
    assert_eq!(d["basis"], "monthly_aggregates");
    assert!(
        d["channels"].as_object().unwrap().is_empty(),
        "no channel on this path"
    );
    assert_eq!(levels(&report("reports", b)), [20, 20, 0]);
    assert_eq!(report("reports", b)["satisfaction_rate"], 100.0);
    assert_eq!(levels(&report("reports", c)), [3, 2, 2]);
    assert_eq!(report("reports", c)["satisfaction_rate"], 71.4, "5 of 7");
    let province = report("aggregates", "000.00.00.H55");
    assert_eq!(levels(&province), [157, 49, 11]);
    assert_eq!(province["satisfaction_rate"], 94.9, "206 of 217");
    assert!(
        hl["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| { f["code"] == "unmapped_value" && f["record"] == format!("{e}|2023-08") }),
        "{}",
        hl["findings"]
    );
}

#[test]
fn progress_moves_a_stored_dossier_on() {
    let p = Province::new(40, 8, "", None);
    let config = receiver_config(&p, "progress", "");
    add_client(&config, "tinh-dvc");
    let r = serve(&config, None);
    let session = login(&r.base, "tinh-dvc");
    let mut open = items(&p)
        .into_iter()
        .find(|i| i["TrangThaiHoSo"] == "4")
        .expect("a dossier being processed");
    open["NgayTiepNhan"] = "20230701080000".into();
    let key = open["MaHoSo"].as_str().unwrap().to_owned();
    assert_eq!(push(&r.base, &session, &[open])["error_code"], 0);
    let steps = json!({"data": [
        {"MaHoSo": key, "TrangThai": "5", "ThoiDiemXuLy": "20230703090000", "NoiDungXuLy": "Yêu cầu bổ sung"},
        {"MaHoSo": key, "TrangThai": 9, "ThoiDiemXuLy": "20230710160000", "NoiDungXuLy": "Đã xử lý xong"},
        {"MaHoSo": "CHUA-GUI", "TrangThai": "9", "ThoiDiemXuLy": "20230710160000"},
    ]});
    let (_, answer) = call(&r.base, &session, "CapNhatTienDoHoSoMC", steps);
    assert_eq!(answer["error_code"], -1, "{answer}");
    assert_eq!(answer["result"][0]["MaHoSo"], "CHUA-GUI", "{answer}");
    let now = look_up(&r.base, &session, &key);
    assert_eq!(now[0]["TrangThaiHoSo"], "9");
    assert_eq!(now[0]["NgayYeuCauBoSung"], "20230703090000");
    assert_eq!(now[0]["NgayKetThucXuLy"], "20230710160000");
    // A step older than what the dossier shows changes nothing.
    let stale =
        json!({"data": [{"MaHoSo": key, "TrangThai": "4", "ThoiDiemXuLy": "20230705090000"}]});
    assert_eq!(
        call(&r.base, &session, "CapNhatTienDoHoSoMC", stale).1["error_code"],
        0
    );
    assert_eq!(look_up(&r.base, &session, &key)[0]["TrangThaiHoSo"], "9");
}

#[test]
fn bad_input_is_answered_clearly() {
    let p = Province::new(10, 8, "", None);
    let config = receiver_config(
        &p,
        "limits",
        "max_body_bytes = 4096\nrate_per_minute = 2\nburst = 4\nlogins_per_minute = 3\n",
    );
    add_client(&config, "tinh-dvc");
    let r = serve(&config, None);
    let client = http();
    let login_as = |user: &str, password: &str, dstcode: Option<&str>| -> (u16, Value) {
        let mut request = client
            .post(format!("{}/auth", r.base))
            .json(&json!({"username": user, "password": password}));
        if let Some(code) = dstcode {
            request = request.header("dstcode", code);
        }
        let answer = request.send().unwrap();
        (
            answer.status().as_u16(),
            answer.json().unwrap_or(Value::Null),
        )
    };
    let (_, wrong) = login_as("tinh-dvc", "sai-mat-khau", Some("BAOCAO"));
    assert_eq!(wrong["error_code"], -1);
    assert!(
        wrong["message"]
            .as_str()
            .unwrap()
            .contains("Sai tên đăng nhập"),
        "{wrong}"
    );
    let (_, no_dst) = login_as("tinh-dvc", PASSWORD, None);
    assert!(
        no_dst["message"].as_str().unwrap().contains("dstcode"),
        "{no_dst}"
    );
    let session = login(&r.base, "tinh-dvc");
    let (_, gone) = call(
        &r.base,
        "khong-phai-phien",
        "DongBoHoSoMC",
        json!({"data": []}),
    );
    assert!(
        gone["message"].as_str().unwrap().contains("Phiên làm việc"),
        "{gone}"
    );
    let (_, unknown) = call(&r.base, &session, "XoaHoSo", json!({}));
    assert!(
        unknown["message"].as_str().unwrap().contains("XoaHoSo"),
        "{unknown}"
    );
    let (_, not_list) = call(&r.base, &session, "DongBoHoSoMC", json!({"data": "x"}));
    assert!(
        not_list["message"].as_str().unwrap().contains("data"),
        "{not_list}"
    );
    let big: Vec<Value> = (0..400)
        .map(|i| json!({"MaHoSo": format!("HS-{i:05}")}))
        .collect();
    let (status, _) = call(&r.base, &session, "DongBoHoSoMC", json!({"data": big}));
    assert_eq!(status, 413, "a body over receiver.max_body_bytes");
    // The client's calls beyond its burst are slowed down, with the wait said.
    let mut limited = None;
    for _ in 0..10 {
        let answer = client
            .post(format!("{}/integration", r.base))
            .json(&json!({"session": session, "service": "TraCuuHoSo", "mahoso": "X"}))
            .send()
            .unwrap();
        if answer.status().as_u16() == 429 {
            limited = answer.headers().get("retry-after").cloned();
            break;
        }
    }
    assert!(limited.is_some(), "429 with Retry-After past the burst");
    // Wrong passwords for one account are throttled too.
    let statuses: Vec<u16> = (0..6)
        .map(|_| login_as("tinh-dvc", "sai", Some("BAOCAO")).0)
        .collect();
    assert!(statuses.contains(&429), "{statuses:?}");
}
