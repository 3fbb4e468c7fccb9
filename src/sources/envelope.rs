//! The national portal's "session + service" envelope (real-sources.md §1–2), as a ministry-style
//! adapter serves it to a puller: `{session, madonvi, service, …fields}` posted to the
//! integration endpoint, answered `{error_code, message, result}` with HTTP 200. The list service
//! takes a window of reception days (`DanhSachHoSo`, `ngayNhan1`..`ngayNhan2`, no paging, no
//! since-time); the look-up takes a dossier code (`TraCuuHoSo`, `mahoso`).
//!
//! `error_code` arrives as a number or a string; the configured codes mean success, some codes
//! mean success when the message says so, and a code or message saying the session is gone is a
//! refusal the authentication layer answers by logging in again.

use super::call::{SourceError, authorized, json, send};
use super::config::{Envelope, SourceSettings};
use crate::auth::source::{Authorizer, Material, code_text};
use crate::catalog::fold;
use crate::retry::RetryPolicy;
use chrono::NaiveDate;
use serde_json::{Map, Value};

pub struct EnvelopeClient<'a> {
    settings: &'a SourceSettings,
    http: reqwest::Client,
    url: reqwest::Url,
}

impl<'a> EnvelopeClient<'a> {
    pub fn new(settings: &'a SourceSettings, http: reqwest::Client) -> Result<Self, String> {
        let url = settings.url(&settings.envelope.integration_path)?;
        Ok(EnvelopeClient {
            settings,
            http,
            url,
        })
    }

    fn envelope(&self) -> &Envelope {
        &self.settings.envelope
    }

    /// One service call with `fields`; the answer's `result`.
    async fn service(
        &self,
        material: Material,
        service: &str,
        fields: &[(&str, String)],
    ) -> Result<Value, SourceError> {
        let mut body = Map::new();
        if let Some(code) = &self.envelope().madonvi {
            body.insert("madonvi".to_owned(), Value::String(code.clone()));
        }
        body.insert("service".to_owned(), Value::String(service.to_owned()));
        for (k, v) in fields {
            body.insert((*k).to_owned(), Value::String(v.clone()));
        }
        material.fill_body(&mut body);
        let request = material.apply(self.http.post(self.url.clone()).json(&body));
        let answer = send(request, self.settings.max_body_bytes, "source").await?;
        let answer = json(&answer, &format!("an answer to {service}"))?;
        classify(&answer, self.envelope())?;
        Ok(answer
            .get(&self.envelope().result_field)
            .cloned()
            .unwrap_or(Value::Null))
    }

    /// Every dossier received on the days `from..=to` (local days).
    #[tracing::instrument(name = "source.envelope.window", skip_all, fields(source = %self.settings.name, from = %from, to = %to))]
    pub async fn window<A: Authorizer>(
        &self,
        auth: &A,
        retry: &RetryPolicy,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<Value>, SourceError> {
        let e = self.envelope();
        // An exclusive second bound is the day after.
        let last = if e.to_inclusive {
            to
        } else {
            to + chrono::Duration::days(1)
        };
        let fields = [
            (
                e.from_param.as_str(),
                from.format(&e.date_format).to_string(),
            ),
            (e.to_param.as_str(), last.format(&e.date_format).to_string()),
        ];
        let result = authorized(auth, retry, |m| self.service(m, &e.list_service, &fields)).await?;
        records(result, &e.list_service)
    }

    /// The dossier a code names, `None` when the source does not know it.
    #[tracing::instrument(name = "source.envelope.lookup", skip_all, fields(source = %self.settings.name, key))]
    pub async fn lookup<A: Authorizer>(
        &self,
        auth: &A,
        retry: &RetryPolicy,
        key: &str,
    ) -> Result<Option<Value>, SourceError> {
        let e = self.envelope();
        let fields = [(e.lookup_param.as_str(), key.to_owned())];
        let result =
            authorized(auth, retry, |m| self.service(m, &e.lookup_service, &fields)).await?;
        Ok(records(result, &e.lookup_service)?.into_iter().next())
    }
}

/// An answer's records: an array (or one object, or nothing).
fn records(result: Value, service: &str) -> Result<Vec<Value>, SourceError> {
    match result {
        Value::Array(items) => Ok(items),
        Value::Null => Ok(Vec::new()),
        object @ Value::Object(_) => Ok(vec![object]),
        other => Err(SourceError::Contract(format!(
            "{service} answered a result that is not a list: {}",
            other.to_string().chars().take(100).collect::<String>()
        ))),
    }
}

/// What an envelope answer says: success, a gone session (refused), or an error.
pub fn classify(answer: &Value, e: &Envelope) -> Result<(), SourceError> {
    let code = answer.get("error_code").map(code_text).unwrap_or_default();
    let message = answer
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let folded = fold(message);
    let says = |texts: &[String]| {
        texts
            .iter()
            .any(|t| !t.is_empty() && folded.contains(&fold(t)))
    };
    if e.ok_codes.contains(&code) || (code.is_empty() && answer.get("error_code").is_none()) {
        return Ok(());
    }
    if e.soft_codes.contains(&code) && says(&e.soft_ok_messages) {
        return Ok(());
    }
    if e.session_gone_codes.contains(&code) || says(&e.session_gone_messages) {
        return Err(SourceError::Unauthorized);
    }
    Err(SourceError::Refused(format!(
        "error_code {code}: {message}"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn answers_read_as_the_clients_read_them() {
        let e = Envelope::default();
        assert!(classify(&json!({"error_code": 0, "message": "ok"}), &e).is_ok());
        assert!(classify(&json!({"error_code": "0"}), &e).is_ok());
        assert!(
            classify(&json!({"error_code": "-3", "message": "Thành công"}), &e).is_ok(),
            "a soft code whose message says success"
        );
        assert!(matches!(
            classify(
                &json!({"error_code": "3", "message": "Hồ sơ đã tồn tại"}),
                &e
            ),
            Err(SourceError::Refused(_))
        ));
        assert!(matches!(
            classify(
                &json!({"error_code": -1, "message": "Phiên làm việc đã hết hạn"}),
                &e
            ),
            Err(SourceError::Unauthorized)
        ));
        assert!(matches!(
            classify(&json!({"error_code": "-1", "message": "Sai tham số"}), &e),
            Err(SourceError::Refused(m)) if m.contains("Sai tham số")
        ));
    }
}
