//! How `GET /files/{id}/content` answers: the bytes directly (default), or, like
//! api.box.com, a `302` to a short-lived pre-authorised URL under `/_dl/`.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::ids;

/// How long a download link works.
const LINK_TTL: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DownloadMode {
    /// 200 with the bytes.
    #[default]
    Direct,
    /// 302 with `Location` of a pre-authorised link.
    Redirect,
}

#[derive(Default)]
pub struct Downloads {
    pub mode: DownloadMode,
    links: HashMap<String, (Bytes, Instant)>,
}

impl Downloads {
    /// A new link key for these bytes.
    pub fn link(&mut self, content: Bytes) -> String {
        let now = Instant::now();
        self.links.retain(|_, (_, until)| *until > now);
        let key = ids::random_alnum(40);
        self.links.insert(key.clone(), (content, now + LINK_TTL));
        key
    }

    pub fn get(&self, key: &str) -> Option<Bytes> {
        self.links
            .get(key)
            .filter(|(_, until)| *until > Instant::now())
            .map(|(b, _)| b.clone())
    }
}
