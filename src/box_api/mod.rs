//! A typed client for the Box API subset the tools use. Base URLs, timeouts and
//! retries are configurable, so the same code talks to api.box.com and to the
//! local `box-sandbox`.

mod ai;
mod client;
mod content;
mod error;
mod id;
mod items;
mod metadata;
pub mod models;
mod search;
pub mod sharing;
mod users;

pub use client::{Bearer, BoxClient, BoxEndpoints, CredentialSource};
pub use error::BoxError;
pub use id::{BoxId, InvalidBoxId};
pub use items::{ItemKind, ItemUpdate, ListItems};
pub use search::SearchQuery;

/// Fields requested for full item answers (Box returns a smaller set by default).
pub(crate) const ITEM_FIELDS: &str = "type,id,name,etag,sequence_id,size,description,sha1,extension,\
created_at,modified_at,parent,path_collection,owned_by,shared_link";
