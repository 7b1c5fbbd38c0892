use reqwest::Method;

use super::{BoxClient, BoxError, CredentialSource, client::Request, models::SearchResults};

/// `GET /search` parameters; lists are sent comma-separated.
#[derive(Debug, Clone, Default)]
pub struct SearchQuery {
    pub query: String,
    pub item_type: Option<String>,
    pub file_extensions: Vec<String>,
    pub ancestor_folder_ids: Vec<String>,
    pub content_types: Vec<String>,
    pub limit: u32,
    pub offset: u64,
}

impl BoxClient {
    pub async fn search(
        &self,
        creds: &impl CredentialSource,
        q: &SearchQuery,
    ) -> Result<SearchResults, BoxError> {
        let list = |v: &Vec<String>| (!v.is_empty()).then(|| v.join(","));
        let request = Request::new(Method::GET, self.api(&["search"]))
            .query("query", &q.query)
            .query_opt("type", q.item_type.as_deref())
            .query_opt("file_extensions", list(&q.file_extensions))
            .query_opt("ancestor_folder_ids", list(&q.ancestor_folder_ids))
            .query_opt("content_types", list(&q.content_types))
            .query("limit", q.limit)
            .query("offset", q.offset)
            .query(
                "fields",
                "type,id,name,size,modified_at,parent,extension,description",
            );
        self.call(creds, request).await
    }
}
