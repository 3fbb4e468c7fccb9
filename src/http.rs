//! What every upstream client shares about HTTP answers: bodies are read whole but never past a
//! configured size, so an upstream that answers without end cannot exhaust the daemon's memory.

#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("an answer of more than {0} bytes (max_body_bytes)")]
    TooLarge(usize),
    #[error("the answer did not arrive whole: {0}")]
    Broken(String),
}

/// Reads a whole answer body, refusing one longer than `max` bytes.
pub async fn read_capped(
    mut response: reqwest::Response,
    max: usize,
) -> Result<Vec<u8>, BodyError> {
    if response.content_length().is_some_and(|n| n > max as u64) {
        return Err(BodyError::TooLarge(max));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| BodyError::Broken(e.to_string()))?
    {
        if body.len() + chunk.len() > max {
            return Err(BodyError::TooLarge(max));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
