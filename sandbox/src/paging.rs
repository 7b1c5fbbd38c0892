//! Query strings and Box's two pagination styles: offset (`offset`, `limit`,
//! `total_count`) and marker (`usemarker`, `marker`, `next_marker`).

use std::collections::HashMap;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde_json::{Map, Value, json};

use crate::error::ApiError;

/// A decoded query string (last value wins).
#[derive(Debug, Default, Clone)]
pub struct Query(HashMap<String, String>);

impl Query {
    pub fn parse(raw: Option<&str>) -> Query {
        Query(
            raw.map(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect()
            })
            .unwrap_or_default(),
        )
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// A non-negative integer parameter.
    pub fn number(&self, key: &str) -> Result<Option<usize>, ApiError> {
        match self.get(key) {
            None | Some("") => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| {
                ApiError::bad_request(format!("Invalid value '{v}' for query parameter '{key}'"))
            }),
        }
    }

    pub fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some("true" | "1"))
    }

    /// A comma-separated list parameter.
    pub fn list(&self, key: &str) -> Vec<String> {
        self.get(key)
            .map(|v| {
                v.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    Offset { offset: usize, limit: usize },
    Marker { start: usize, limit: usize },
}

/// Limits of one endpoint.
pub struct Limits {
    pub default: usize,
    pub max: usize,
    /// Answer 400 above `max` (otherwise clamp).
    pub strict: bool,
    pub markers: bool,
}

fn encode_marker(position: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("sandbox:{position}"))
}

fn decode_marker(marker: &str) -> Option<usize> {
    let bytes = URL_SAFE_NO_PAD.decode(marker).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    text.strip_prefix("sandbox:")?.parse().ok()
}

impl Page {
    pub fn parse(q: &Query, limits: &Limits) -> Result<Page, ApiError> {
        let mut limit = q.number("limit")?.unwrap_or(limits.default);
        if limit > limits.max {
            if limits.strict {
                return Err(ApiError::bad_request(format!(
                    "limit must be at most {}",
                    limits.max
                )));
            }
            limit = limits.max;
        }
        let limit = limit.max(1);
        let marker = q.get("marker").filter(|m| !m.is_empty());
        if limits.markers && (q.flag("usemarker") || marker.is_some()) {
            let start = match marker {
                None => 0,
                Some(m) => decode_marker(m)
                    .ok_or_else(|| ApiError::bad_request("Invalid value for 'marker'"))?,
            };
            return Ok(Page::Marker { start, limit });
        }
        let offset = q.number("offset")?.unwrap_or(0);
        Ok(Page::Offset { offset, limit })
    }

    /// Like [`Page::parse`], for endpoints that only paginate by marker.
    pub fn parse_markers(q: &Query, limits: &Limits) -> Result<Page, ApiError> {
        match Page::parse(q, limits)? {
            Page::Offset { limit, .. } => Ok(Page::Marker { start: 0, limit }),
            marker => Ok(marker),
        }
    }

    /// One page of `items`, and the paging fields of the answer.
    pub fn apply<T>(&self, items: Vec<T>) -> (Vec<T>, Map<String, Value>) {
        let total = items.len();
        let mut fields = Map::new();
        match *self {
            Page::Offset { offset, limit } => {
                fields.insert("total_count".into(), json!(total));
                fields.insert("offset".into(), json!(offset));
                fields.insert("limit".into(), json!(limit));
                (items.into_iter().skip(offset).take(limit).collect(), fields)
            }
            Page::Marker { start, limit } => {
                let end = start.saturating_add(limit);
                let next = (end < total).then(|| encode_marker(end));
                fields.insert("limit".into(), json!(limit));
                fields.insert("next_marker".into(), json!(next));
                fields.insert(
                    "prev_marker".into(),
                    json!((start > 0).then(|| encode_marker(start.saturating_sub(limit)))),
                );
                (items.into_iter().skip(start).take(limit).collect(), fields)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        default: 2,
        max: 3,
        strict: false,
        markers: true,
    };

    #[test]
    fn offset_and_marker_pages() {
        let q = Query::parse(Some("offset=1&limit=10"));
        let page = Page::parse(&q, &LIMITS).unwrap();
        assert_eq!(
            page,
            Page::Offset {
                offset: 1,
                limit: 3
            }
        );
        let (items, fields) = page.apply(vec![1, 2, 3, 4, 5]);
        assert_eq!(items, [2, 3, 4]);
        assert_eq!(fields["total_count"], 5);

        let first = Page::parse(&Query::parse(Some("usemarker=true")), &LIMITS).unwrap();
        let (items, fields) = first.apply(vec![1, 2, 3]);
        assert_eq!(items, [1, 2]);
        let next = fields["next_marker"].as_str().unwrap().to_string();
        let second = Page::parse(&Query::parse(Some(&format!("marker={next}"))), &LIMITS).unwrap();
        let (items, fields) = second.apply(vec![1, 2, 3]);
        assert_eq!(items, [3]);
        assert!(fields["next_marker"].is_null());
    }

    #[test]
    fn bad_values_are_400() {
        assert!(Page::parse(&Query::parse(Some("limit=x")), &LIMITS).is_err());
        assert!(Page::parse(&Query::parse(Some("marker=zzz")), &LIMITS).is_err());
        let strict = Limits {
            strict: true,
            ..LIMITS
        };
        assert!(Page::parse(&Query::parse(Some("limit=4")), &strict).is_err());
    }
}
