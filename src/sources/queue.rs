//! A queue of dossiers with acknowledgements (real-sources.md §2, the civil-status services):
//! `GET LayDanhSachHoSo` answers the items not yet acknowledged (`{data: [...]}`), `PUT
//! CapNhatDaNhanHoSo {maHoSo, daNhan: true}` acknowledges one, and success is read from the
//! answer's text. An item is acknowledged only once it is stored; one that was not comes again.

use super::call::{SourceError, authorized, get_json, send};
use super::config::SourceSettings;
use crate::auth::source::Authorizer;
use crate::catalog::fold;
use crate::retry::RetryPolicy;
use serde_json::Value;

pub struct QueueClient<'a> {
    settings: &'a SourceSettings,
    http: reqwest::Client,
}

impl<'a> QueueClient<'a> {
    pub fn new(settings: &'a SourceSettings, http: reqwest::Client) -> QueueClient<'a> {
        QueueClient { settings, http }
    }

    /// The items waiting (possibly none).
    #[tracing::instrument(name = "source.queue.batch", skip_all, fields(source = %self.settings.name))]
    pub async fn batch<A: Authorizer>(
        &self,
        auth: &A,
        retry: &RetryPolicy,
    ) -> Result<Vec<Value>, SourceError> {
        let q = &self.settings.queue;
        let url = self
            .settings
            .url(&q.list_path)
            .map_err(SourceError::Refused)?;
        let answer = get_json(
            auth,
            retry,
            &self.http,
            &url,
            &[],
            self.settings.max_body_bytes,
            "a list of queued dossiers",
        )
        .await?;
        match answer.get(&q.list_field) {
            Some(Value::Array(items)) => Ok(items.clone()),
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(_) => Err(SourceError::Contract(format!(
                "`{}` of the queue's answer is not a list",
                q.list_field
            ))),
        }
    }

    /// Acknowledges one item by its key.
    pub async fn ack<A: Authorizer>(
        &self,
        auth: &A,
        retry: &RetryPolicy,
        key: &str,
    ) -> Result<(), SourceError> {
        let q = &self.settings.queue;
        let url = self
            .settings
            .url(&q.ack_path)
            .map_err(SourceError::Refused)?;
        let mut body = serde_json::Map::new();
        body.insert(q.ack_key_field.clone(), Value::String(key.to_owned()));
        body.insert(q.ack_flag_field.clone(), Value::Bool(true));
        let (url, body) = (&url, &body);
        let text = authorized(auth, retry, move |m| async move {
            send(
                m.apply(self.http.put(url.clone()).json(body)),
                self.settings.max_body_bytes,
                "source",
            )
            .await
        })
        .await?;
        let folded = fold(&String::from_utf8_lossy(&text));
        if q.ack_ok_texts.iter().any(|t| folded.contains(&fold(t))) {
            Ok(())
        } else {
            Err(SourceError::Refused(format!(
                "the acknowledgement of {key} was not confirmed: {}",
                String::from_utf8_lossy(&text)
                    .chars()
                    .take(200)
                    .collect::<String>()
            )))
        }
    }
}
