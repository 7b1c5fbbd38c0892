//! File content: download, extracted text, upload and new versions.

use bytes::Bytes;
use reqwest::{Method, StatusCode, header::LOCATION};
use serde_json::{Value, json};

use super::{
    BoxClient, BoxError, CredentialSource,
    client::{Body, Request},
    models::Files,
};

/// Extensions whose raw bytes are text, for when Box has no text representation.
const TEXT_EXTENSIONS: &[&str] = &[
    "txt", "md", "csv", "json", "xml", "yaml", "yml", "log", "html", "tsv",
];

/// Text read from a file, cut at a limit.
#[derive(Debug, Clone)]
pub struct FileText {
    pub text: String,
    pub truncated: bool,
}

impl BoxClient {
    /// `GET /files/{id}/content`: the bytes, following Box's redirect to the
    /// download URL without credentials. At most `max_bytes`.
    pub async fn download(
        &self,
        creds: &impl CredentialSource,
        id: &str,
        max_bytes: u64,
    ) -> Result<Bytes, BoxError> {
        let request = Request::new(Method::GET, self.api(&["files", id, "content"]));
        let answer = self.execute(creds, request, max_bytes).await?;
        if answer.status == StatusCode::FOUND {
            let location = answer
                .headers
                .get(LOCATION)
                .and_then(|l| l.to_str().ok())
                .ok_or_else(|| BoxError::InvalidResponse("a redirect without a Location".into()))?;
            return Ok(self
                .fetch_unauthenticated(location, max_bytes, false)
                .await?
                .body);
        }
        Ok(answer.body)
    }

    /// The file's text: Box's `extracted_text` representation, or the raw bytes of
    /// a text file. Longer text is cut at `max_bytes` (on a character boundary).
    pub async fn file_text(
        &self,
        creds: &impl CredentialSource,
        id: &str,
        max_bytes: u64,
    ) -> Result<FileText, BoxError> {
        let request = Request::new(Method::GET, self.api(&["files", id]))
            .query("fields", "name,extension,size,representations")
            .header("x-rep-hints", "[extracted_text]");
        let file: Value = self.call(creds, request).await?;
        // Read one byte more than allowed, to know whether the text was cut.
        let limit = max_bytes.saturating_add(1);
        let bytes = match extracted_text_url(&file) {
            Some(url) => {
                let url =
                    url::Url::parse(&url).map_err(|e| BoxError::InvalidResponse(e.to_string()))?;
                let request = Request::new(Method::GET, url).prefix_only();
                match self.execute(creds, request, limit).await {
                    Ok(answer) => answer.body,
                    Err(BoxError::TooLarge { .. }) => {
                        return Err(BoxError::TooLarge { limit: max_bytes });
                    }
                    Err(e) => return Err(e),
                }
            }
            None => {
                let extension = file
                    .get("extension")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if !TEXT_EXTENSIONS.contains(&extension.to_ascii_lowercase().as_str()) {
                    return Err(BoxError::BadRequest {
                        code: "no_text".into(),
                        message: format!("Box has no extracted text for this .{extension} file"),
                    });
                }
                self.download_prefix(creds, id, limit).await?
            }
        };
        Ok(cut(&bytes, max_bytes))
    }

    /// Downloads at most `limit` bytes, keeping what fits instead of failing.
    async fn download_prefix(
        &self,
        creds: &impl CredentialSource,
        id: &str,
        limit: u64,
    ) -> Result<Bytes, BoxError> {
        let request = Request::new(Method::GET, self.api(&["files", id, "content"]))
            .header("range", format!("bytes=0-{}", limit - 1))
            .prefix_only();
        let answer = self.execute(creds, request, limit).await?;
        if answer.status == StatusCode::FOUND {
            let location = answer
                .headers
                .get(LOCATION)
                .and_then(|l| l.to_str().ok())
                .ok_or_else(|| BoxError::InvalidResponse("a redirect without a Location".into()))?;
            return Ok(self
                .fetch_unauthenticated(location, limit, true)
                .await?
                .body);
        }
        Ok(answer.body)
    }

    /// `POST {upload}/files/content`: a new file in `parent_id`.
    pub async fn upload_file(
        &self,
        creds: &impl CredentialSource,
        parent_id: &str,
        name: &str,
        content: Bytes,
    ) -> Result<Files, BoxError> {
        let mut request = Request::new(Method::POST, self.upload(&["files", "content"]));
        request.body = Body::Upload {
            attributes: json!({ "name": name, "parent": { "id": parent_id } }),
            file_name: name.to_string(),
            content,
        };
        self.call(creds, request).await
    }

    /// `POST {upload}/files/{id}/content`: a new version; `if_match` guards
    /// against overwriting a version the caller has not seen.
    pub async fn upload_version(
        &self,
        creds: &impl CredentialSource,
        id: &str,
        name: &str,
        content: Bytes,
        if_match: Option<&str>,
    ) -> Result<Files, BoxError> {
        let mut request = Request::new(Method::POST, self.upload(&["files", id, "content"]));
        if let Some(etag) = if_match {
            request = request.header("if-match", etag);
        }
        request.body = Body::Upload {
            attributes: json!({ "name": name }),
            file_name: name.to_string(),
            content,
        };
        self.call(creds, request).await
    }
}

/// The content URL of a ready `extracted_text` representation.
fn extracted_text_url(file: &Value) -> Option<String> {
    let entries = file.get("representations")?.get("entries")?.as_array()?;
    let rep = entries
        .iter()
        .find(|r| r.get("representation").and_then(Value::as_str) == Some("extracted_text"))?;
    let template = rep.get("content")?.get("url_template")?.as_str()?;
    Some(template.replace("{+asset_path}", ""))
}

fn cut(bytes: &[u8], max_bytes: u64) -> FileText {
    let max = usize::try_from(max_bytes).unwrap_or(usize::MAX);
    if bytes.len() <= max {
        return FileText {
            text: String::from_utf8_lossy(bytes).into_owned(),
            truncated: false,
        };
    }
    let mut end = max;
    while end > 0 && !is_char_boundary(bytes, end) {
        end -= 1;
    }
    FileText {
        text: String::from_utf8_lossy(&bytes[..end]).into_owned(),
        truncated: true,
    }
}

/// A UTF-8 boundary: not a continuation byte.
fn is_char_boundary(bytes: &[u8], i: usize) -> bool {
    i >= bytes.len() || (bytes[i] as i8) >= -0x40
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_cut_on_a_character_boundary() {
        let t = cut("héllo".as_bytes(), 2);
        assert_eq!(t.text, "h");
        assert!(t.truncated);
        let t = cut(b"abc", 3);
        assert_eq!(t.text, "abc");
        assert!(!t.truncated);
    }

    #[test]
    fn the_extracted_text_url_fills_the_asset_path() {
        let file = json!({"representations": {"entries": [
            {"representation": "pdf", "content": {"url_template": "https://x/pdf/{+asset_path}"}},
            {"representation": "extracted_text", "content": {"url_template": "https://x/text/{+asset_path}"}}
        ]}});
        assert_eq!(
            extracted_text_url(&file).as_deref(),
            Some("https://x/text/")
        );
    }
}
