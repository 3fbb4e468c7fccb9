//! VNPT iGate's REST API (real-sources.md §3): `GET /pa/dossier/search` by a window on one of its
//! dates (accepted, appointment, result returned), in 0-based pages that are slices — no total,
//! the last page is the one shorter than asked (or said `last`); `GET /pa/dossier/{id}/--online`
//! for one dossier; catalogue entries (agency, procedure, sector) looked up by their ObjectIds.
//! Errors are HTTP statuses; 429 and 5xx are retried.

use super::call::{SourceError, get_json};
use super::config::{Igate, SourceSettings};
use super::mapping::Lookups;
use crate::auth::source::Authorizer;
use crate::domain::{Axis, Instant};
use crate::retry::RetryPolicy;
use serde_json::Value;

/// No window is walked past this many pages: a source that never says "last" is a broken one.
const MAX_PAGES: u32 = 100_000;

pub struct IgateClient<'a> {
    settings: &'a SourceSettings,
    http: reqwest::Client,
}

impl<'a> IgateClient<'a> {
    pub fn new(settings: &'a SourceSettings, http: reqwest::Client) -> IgateClient<'a> {
        IgateClient { settings, http }
    }

    fn igate(&self) -> &Igate {
        &self.settings.igate
    }

    /// The query parameters of a window on `axis`.
    fn bounds(&self, axis: Axis) -> Result<&[String; 2], SourceError> {
        let i = self.igate();
        match axis {
            Axis::Received => Ok(&i.received),
            Axis::Due => Ok(&i.due),
            Axis::Returned => Ok(&i.returned),
            other => Err(SourceError::Refused(format!(
                "iGate has no window on `{}`",
                other.as_str()
            ))),
        }
    }

    fn instant(&self, at: Instant) -> String {
        let local = at.to_local();
        let ict = chrono::FixedOffset::east_opt(crate::domain::instant::VN_OFFSET_SECONDS as i32)
            .expect("ICT");
        local
            .and_local_timezone(ict)
            .single()
            .expect("a fixed offset has one reading")
            .format(&self.igate().param_format)
            .to_string()
    }

    /// Every dossier whose `axis` date falls in [from, to), page by page.
    #[tracing::instrument(name = "source.igate.window", skip_all, fields(source = %self.settings.name, axis = axis.as_str(), from = %from, to = %to))]
    pub async fn window<A: Authorizer>(
        &self,
        auth: &A,
        retry: &RetryPolicy,
        axis: Axis,
        from: Instant,
        to: Instant,
        size: u32,
    ) -> Result<Vec<Value>, SourceError> {
        let [from_param, to_param] = self.bounds(axis)?;
        let url = self
            .settings
            .url(&self.igate().search_path)
            .map_err(SourceError::Refused)?;
        let mut out = Vec::new();
        let mut page = self.igate().first_page;
        loop {
            let mut query: Vec<(String, String)> = self
                .igate()
                .query
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            query.push((from_param.clone(), self.instant(from)));
            let last = if self.igate().to_inclusive {
                Instant(to.0 - 1)
            } else {
                to
            };
            query.push((to_param.clone(), self.instant(last)));
            query.push(("page".to_owned(), page.to_string()));
            query.push(("size".to_owned(), size.to_string()));
            let answer = get_json(
                auth,
                retry,
                &self.http,
                &url,
                &query,
                self.settings.max_body_bytes,
                "a search page",
            )
            .await?;
            let items = match answer.get("content") {
                Some(Value::Array(items)) => items.clone(),
                _ => {
                    return Err(SourceError::Contract(
                        "a search page without a `content` list".to_owned(),
                    ));
                }
            };
            if items.len() > size as usize {
                return Err(SourceError::Contract(format!(
                    "a page of {} dossiers where at most {size} were asked",
                    items.len()
                )));
            }
            let last = answer.get("last").and_then(Value::as_bool).unwrap_or(false)
                || items.len() < size as usize;
            tracing::debug!(page, items = items.len(), last, "page");
            out.extend(items);
            if last {
                return Ok(out);
            }
            page += 1;
            if page - self.igate().first_page >= MAX_PAGES {
                return Err(SourceError::Contract(format!(
                    "a window of more than {MAX_PAGES} pages that never ends"
                )));
            }
        }
    }

    /// One dossier in full, `None` when the source no longer has it.
    pub async fn detail<A: Authorizer>(
        &self,
        auth: &A,
        retry: &RetryPolicy,
        id: &str,
    ) -> Result<Option<Value>, SourceError> {
        self.get_by_id(auth, retry, &self.igate().detail_path, id)
            .await
    }

    async fn get_by_id<A: Authorizer>(
        &self,
        auth: &A,
        retry: &RetryPolicy,
        path: &str,
        id: &str,
    ) -> Result<Option<Value>, SourceError> {
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(SourceError::Contract(format!("`{id}` is not an id")));
        }
        let url = self
            .settings
            .url(&path.replace("{id}", id))
            .map_err(SourceError::Refused)?;
        let answer = get_json(
            auth,
            retry,
            &self.http,
            &url,
            &[],
            self.settings.max_body_bytes,
            "a record",
        )
        .await;
        match answer {
            Ok(v) => Ok(Some(v)),
            Err(SourceError::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Looks up, into `known`, every catalogue id of `wanted` not known yet. An id the source
    /// does not know stays unknown (the mapping then finds nothing there).
    pub async fn look_up<A: Authorizer>(
        &self,
        auth: &A,
        retry: &RetryPolicy,
        wanted: Vec<(String, String)>,
        known: &mut Lookups,
        missing: &mut std::collections::HashSet<(String, String)>,
    ) -> Result<(), SourceError> {
        for (catalogue, id) in wanted {
            let pair = (catalogue.clone(), id.clone());
            if known.contains_key(&pair) || missing.contains(&pair) {
                continue;
            }
            let Some(path) = self.igate().lookups.get(&catalogue) else {
                return Err(SourceError::Refused(format!(
                    "the mapping looks up `{catalogue}`, which sources.{}.igate.lookups does not name",
                    self.settings.name
                )));
            };
            match self.get_by_id(auth, retry, path, &id).await? {
                Some(entry) => {
                    known.insert(pair, entry);
                }
                None => {
                    missing.insert(pair);
                }
            }
        }
        Ok(())
    }
}
