//! The credential broker: trust boundary 2 (box-mcp → Box).
//!
//! For each tool call the broker finds the Box identity the caller works as,
//! obtains a parent token for it, and exchanges that at Box's token endpoint for
//! one that holds only the Box scopes the tool declares (and, for a tool that
//! targets one file or folder, only that item). The caller's IdP token is never
//! involved: it does not reach this module.
//!
//! What is configured in `[box]`:
//!
//! | `mode` | parent token | `As-User` |
//! | --- | --- | --- |
//! | `service` | the app's service account (`box_subject_type=enterprise`) | — |
//! | `per_user`, `per_user_token = "user_token"` | the mapped user (`box_subject_type=user`, or a JWT user assertion) | — |
//! | `per_user`, `per_user_token = "as_user"` | the service account | the mapped user |
//!
//! with `auth = "ccg"` (Client Credentials Grant) or `"jwt"` (a JWT app's signed
//! assertion); both implement one trait, `ParentGrant` (`grant.rs`). Per-user mode
//! maps the caller by a token claim (`Principal::box_user_id`), by a lookup of
//! their email among the enterprise's users, or by a mapping file.
//!
//! Tokens (parent and downscoped) are cached until `box.expiry_margin` before
//! they expire, keyed by a SHA-256 of (strategy, Box subject, scopes, resource),
//! bounded by `box.cache_capacity`; concurrent misses for one key make one
//! request (moka's `try_get_with`). Tokens are held as [`SecretString`] and
//! never logged.

mod cache;
mod config;
mod error;
mod grant;
mod jwt;
mod mapping;
mod plan;
mod token_endpoint;

use std::sync::atomic::{AtomicBool, Ordering};

use crate::metrics;
use std::{fmt, future::Future, sync::Arc, time::Instant};

use moka::future::Cache;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

pub use config::{BoxAuth, BoxConfig, BoxMode, BoxPerUserToken, BoxUserMapping};
pub use error::BrokerError;
pub use jwt::{ASSERTION_LIFETIME_SECS, AssertionClaims};
pub use plan::Plan;

use self::{
    cache::{IssuedToken, Key},
    grant::{ClientCredentials, JwtBearer, ParentGrant},
    plan::{GrantPlan, MappingPlan, ModePlan},
    token_endpoint::{Call, Outbound, TokenEndpointClient},
};
use crate::{
    auth::Principal,
    box_api::BoxId,
    linked::{LinkError, LinkedAccounts},
    setting::is_scope_token,
};

/// What a tool needs from Box: its scopes and, when it targets one item, that item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolAccess {
    pub scopes: &'static [&'static str],
    pub resource: Option<BoxItem>,
}

impl ToolAccess {
    pub const fn new(scopes: &'static [&'static str]) -> Self {
        Self {
            scopes,
            resource: None,
        }
    }

    /// Restricts the token to one file.
    pub fn file(mut self, id: impl Into<String>) -> Self {
        self.resource = Some(BoxItem::File(id.into()));
        self
    }

    /// Restricts the token to one folder (and what is inside it).
    pub fn folder(mut self, id: impl Into<String>) -> Self {
        self.resource = Some(BoxItem::Folder(id.into()));
        self
    }
}

/// One Box item a downscoped token can be restricted to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum BoxItem {
    File(String),
    Folder(String),
}

/// A Box credential for one call: the bearer token and, when a service token
/// acts for a user, the `As-User` header value. `Debug` shows no token.
#[derive(Debug, Clone)]
pub struct BoxCredential {
    pub token: SecretString,
    pub as_user: Option<String>,
}

/// Who a parent token is for (`box_subject_type` / `box_sub_type`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Subject {
    Enterprise(String),
    User(String),
}

impl Subject {
    pub fn box_subject_type(&self) -> &'static str {
        match self {
            Self::Enterprise(_) => "enterprise",
            Self::User(_) => "user",
        }
    }

    pub fn id(&self) -> &str {
        match self {
            Self::Enterprise(id) | Self::User(id) => id,
        }
    }
}

/// The credential broker. Cheap to clone: one shared state inside.
#[derive(Clone)]
pub struct Broker {
    inner: Arc<Inner>,
}

struct Inner {
    mode: ModePlan,
    grant: Option<Box<dyn ParentGrant>>,
    enterprise_id: Option<String>,
    api_base: String,
    token_url: Url,
    revoke_url: Url,
    expiry_margin: std::time::Duration,
    http: TokenEndpointClient,
    parents: Cache<Key, Arc<IssuedToken>>,
    downscoped: Cache<Key, Arc<IssuedToken>>,
    users_by_email: Cache<Key, Option<String>>,
    service_user: tokio::sync::OnceCell<String>,
    /// `per_user_token = "linked"`: where callers' own Box tokens come from.
    linked: Option<LinkedAccounts>,
}

impl fmt::Debug for Broker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mode = match &self.inner.mode {
            ModePlan::Disabled => "disabled",
            ModePlan::Service => "service",
            ModePlan::PerUser { .. } => "per_user",
            ModePlan::Linked(_) => "per_user (linked accounts)",
        };
        f.debug_struct("Broker")
            .field("mode", &mode)
            .field("strategy", &self.inner.grant.as_ref().map(|g| g.strategy()))
            .field("token_url", &self.inner.token_url.as_str())
            .finish_non_exhaustive()
    }
}

/// For whom a downscoped token is minted, as its audit event names them.
#[derive(Clone, Copy)]
struct Minted<'a> {
    strategy: &'static str,
    /// The Box user it acts as, when box-mcp knows it (not for linked accounts).
    box_user: Option<&'a str>,
    /// The caller's IdP subject, for linked accounts.
    subject: Option<&'a str>,
}

/// What [`Broker::revoke_issued`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Revoked {
    pub revoked: usize,
    /// Refused by Box, failed, or cut off by the deadline; they expire by themselves.
    pub not_revoked: usize,
    pub timed_out: bool,
}

/// A tool's access, checked and in canonical form.
struct Normalized {
    scopes: Vec<&'static str>,
    /// Space-separated, sorted.
    scope: String,
    /// The item the token is restricted to. Never with `As-User`: Box judges the
    /// exchange by the service account's own access, which does not reach the
    /// user's items; the token is then limited by its scopes and the header.
    resource: Option<String>,
}

impl Broker {
    /// Builds the broker from `[box]`, with the checks of configuration load
    /// (reading the JWT config and mapping files). A server builds it from the
    /// plan its configuration already resolved ([`Broker::from_plan`]).
    pub fn new(config: &BoxConfig) -> Result<Self, BrokerError> {
        Self::from_plan(Plan::resolve(config)?)
    }

    /// Builds the broker from a checked `[box]` section.
    pub fn from_plan(plan: Plan) -> Result<Self, BrokerError> {
        let grant: Option<Box<dyn ParentGrant>> = match plan.grant {
            None => None,
            Some(GrantPlan::ClientCredentials {
                client_id,
                client_secret,
            }) => Some(Box::new(ClientCredentials {
                client_id,
                client_secret,
            })),
            Some(GrantPlan::Jwt(app)) => Some(Box::new(JwtBearer { app })),
        };
        let linked = match &plan.mode {
            ModePlan::Linked(linked) => Some(LinkedAccounts::new(
                linked.clone(),
                plan.token_retry.clone(),
            )?),
            _ => None,
        };
        Ok(Self {
            inner: Arc::new(Inner {
                mode: plan.mode,
                grant,
                enterprise_id: plan.enterprise_id,
                api_base: plan.api_base,
                token_url: plan.token_url,
                revoke_url: plan.revoke_url,
                expiry_margin: plan.expiry_margin,
                http: TokenEndpointClient::new(plan.token_retry, plan.timeout)?,
                parents: cache::token_cache(plan.cache_capacity),
                downscoped: cache::token_cache(plan.cache_capacity),
                users_by_email: cache::lookup_cache(plan.cache_capacity, plan.user_lookup_ttl),
                service_user: tokio::sync::OnceCell::new(),
                linked,
            }),
        })
    }

    /// Revokes at Box every token box-mcp minted and still holds (parent and
    /// downscoped), within `budget`, and forgets them; for a shutdown, so that no
    /// usable Box token outlives the process that held it. Linked accounts' tokens
    /// are not box-mcp's to revoke: their grant belongs to the user and the IdP.
    pub async fn revoke_issued(&self, budget: std::time::Duration) -> Revoked {
        use futures::StreamExt as _;
        let Some(grant) = self.inner.grant.as_deref() else {
            return Revoked::default();
        };
        // Children first: revoking a parent at Box may not end its children.
        let tokens: Vec<Arc<IssuedToken>> = self
            .inner
            .downscoped
            .iter()
            .chain(self.inner.parents.iter())
            .map(|(_, token)| token)
            .collect();
        self.inner.downscoped.invalidate_all();
        self.inner.parents.invalidate_all();
        let total = tokens.len();
        let revoked = std::sync::atomic::AtomicUsize::new(0);
        let work = futures::stream::iter(tokens).for_each_concurrent(8, |token| {
            let revoked = &revoked;
            async move {
                match grant::revoke(
                    &self.inner.http,
                    &self.inner.revoke_url,
                    grant.app(),
                    &token.token,
                )
                .await
                {
                    Ok(()) => {
                        revoked.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    Err(error) => tracing::warn!(%error, "could not revoke a Box token"),
                }
            }
        });
        let finished = tokio::time::timeout(budget, work).await.is_ok();
        let revoked = revoked.into_inner();
        Revoked {
            revoked,
            not_revoked: total - revoked,
            timed_out: !finished,
        }
    }

    /// Whether Box access is configured (`box.mode` is not `disabled`).
    pub fn is_enabled(&self) -> bool {
        self.inner.grant.is_some() || self.inner.linked.is_some()
    }

    /// Whether callers' own linked Box accounts are used: the caller's token must
    /// then reach [`Broker::credential`] (it goes to the IdP, never to Box).
    pub fn uses_linked_accounts(&self) -> bool {
        self.inner.linked.is_some()
    }

    /// A Box credential for `caller`, downscoped to `access`. Cached; concurrent
    /// calls for the same (Box user, scopes, resource) share one request.
    /// `caller_token` is the caller's own access token, used only with linked
    /// accounts (sent to the IdP, never to Box).
    pub async fn credential(
        &self,
        caller: &Principal,
        caller_token: Option<&SecretString>,
        access: &ToolAccess,
    ) -> Result<BoxCredential, BrokerError> {
        if let Some(linked) = &self.inner.linked {
            let request = self.normalize(access)?;
            let token = self
                .linked_downscoped(linked, caller, caller_token, &request)
                .await?;
            return Ok(BoxCredential {
                token: token.token.clone(),
                as_user: None,
            });
        }
        let grant = self.grant()?;
        let mut request = self.normalize(access)?;
        let (subject, as_user) = self.subject_for(caller).await?;
        if as_user.is_some() {
            request.resource = None;
        }
        let token = self.downscoped(grant, &subject, &request).await?;
        Ok(BoxCredential {
            token: token.token.clone(),
            as_user,
        })
    }

    /// Drops the cached tokens [`Broker::credential`] would hand out for this
    /// caller and access (the downscoped token and its parent): for when Box
    /// answered 401 to the last credential. The next call asks Box (or, for a
    /// linked account, the IdP) again.
    pub async fn forget(&self, caller: &Principal, access: &ToolAccess) {
        let Ok(mut request) = self.normalize(access) else {
            return;
        };
        if self.inner.linked.is_some() {
            let (parent, downscoped) = linked_keys(caller, &request);
            self.inner.downscoped.invalidate(&downscoped).await;
            self.inner.parents.invalidate(&parent).await;
            return;
        }
        let Ok(grant) = self.grant() else { return };
        let Ok((subject, as_user)) = self.subject_for(caller).await else {
            return;
        };
        if as_user.is_some() {
            request.resource = None;
        }
        let (parent, downscoped) = self.keys(grant, &subject, &request);
        self.inner.downscoped.invalidate(&downscoped).await;
        self.inner.parents.invalidate(&parent).await;
    }

    /// The Box user the caller works as.
    ///
    /// Per-user mode: the mapped user (for the claim and file mappings without a
    /// Box call). Service mode: the service account's own user id, which only
    /// Box knows: learned once with `GET /users/me` on the service token and
    /// kept for the life of the process. Linked accounts: `GET /users/me` with the
    /// caller's linked Box token.
    pub async fn box_user_id(
        &self,
        caller: &Principal,
        caller_token: Option<&SecretString>,
    ) -> Result<String, BrokerError> {
        if let Some(linked) = &self.inner.linked {
            let parent = self.linked_parent(linked, caller, caller_token).await?;
            return self.user_of(&parent.token).await;
        }
        let grant = self.grant()?;
        match &self.inner.mode {
            ModePlan::Disabled | ModePlan::Linked(_) => Err(BrokerError::Disabled),
            ModePlan::PerUser { .. } => self.map_user(caller).await,
            ModePlan::Service => self
                .inner
                .service_user
                .get_or_try_init(|| self.current_user(grant))
                .await
                .cloned(),
        }
    }

    fn grant(&self) -> Result<&dyn ParentGrant, BrokerError> {
        self.inner.grant.as_deref().ok_or(BrokerError::Disabled)
    }

    fn normalize(&self, access: &ToolAccess) -> Result<Normalized, BrokerError> {
        let mut scopes = access.scopes.to_vec();
        scopes.sort_unstable();
        scopes.dedup();
        if scopes.is_empty() {
            return Err(BrokerError::InvalidRequest {
                reason: "the tool declares no Box scopes".into(),
            });
        }
        if let Some(bad) = scopes.iter().find(|s| !is_scope_token(s)) {
            return Err(BrokerError::InvalidRequest {
                reason: format!("{bad:?} is not a scope"),
            });
        }
        let resource = match &access.resource {
            None => None,
            Some(item) => {
                let (kind, id) = match item {
                    BoxItem::File(id) => ("files", id),
                    BoxItem::Folder(id) => ("folders", id),
                };
                if !BoxId::is_valid(id) {
                    return Err(BrokerError::InvalidRequest {
                        reason: format!("{id:?} is not a Box {} id", &kind[..kind.len() - 1]),
                    });
                }
                Some(format!("{}/{kind}/{id}", self.inner.api_base))
            }
        };
        Ok(Normalized {
            scope: scopes.join(" "),
            scopes,
            resource,
        })
    }

    /// The subject of the parent token, and the `As-User` value.
    async fn subject_for(
        &self,
        caller: &Principal,
    ) -> Result<(Subject, Option<String>), BrokerError> {
        match &self.inner.mode {
            ModePlan::Disabled => Err(BrokerError::Disabled),
            ModePlan::Service => Ok((self.enterprise()?, None)),
            ModePlan::PerUser { token, .. } => {
                let user = self.map_user(caller).await?;
                match token {
                    BoxPerUserToken::UserToken => Ok((Subject::User(user), None)),
                    BoxPerUserToken::AsUser => Ok((self.enterprise()?, Some(user))),
                    // The plan resolves linked accounts into `ModePlan::Linked`:
                    // never fall back to the app's own credentials.
                    BoxPerUserToken::Linked => Err(BrokerError::config(
                        "box.per_user_token",
                        "linked accounts are not served by the app's credentials",
                    )),
                }
            }
            ModePlan::Linked(_) => Err(BrokerError::config(
                "box.per_user_token",
                "linked accounts are not served by the app's credentials",
            )),
        }
    }

    fn enterprise(&self) -> Result<Subject, BrokerError> {
        self.inner
            .enterprise_id
            .clone()
            .map(Subject::Enterprise)
            .ok_or_else(|| BrokerError::config("box.enterprise_id", "is not set"))
    }

    async fn map_user(&self, caller: &Principal) -> Result<String, BrokerError> {
        let ModePlan::PerUser { mapping, .. } = &self.inner.mode else {
            return Err(BrokerError::Disabled);
        };
        let subject = caller.subject.as_str();
        match mapping {
            MappingPlan::Claim => match caller.box_user_id.as_deref() {
                Some(id) if BoxId::is_valid(id) => Ok(id.to_string()),
                Some(id) => Err(BrokerError::not_mapped(
                    subject,
                    format!("the token's Box user claim {id:?} is not a Box user id"),
                )),
                None => Err(BrokerError::not_mapped(
                    subject,
                    "the token carries no Box user claim (claims.box_user, default `box_user_id`); \
                     an administrator must set the user's Box user id in the identity provider",
                )),
            },
            MappingPlan::File(file) => file.lookup(caller).map(str::to_string).ok_or_else(|| {
                BrokerError::not_mapped(
                    subject,
                    "neither the subject, the username nor the email has an entry in box.mapping_file; \
                     an administrator must add one",
                )
            }),
            MappingPlan::Email => {
                if caller.email.is_some() && !caller.email_verified {
                    return Err(BrokerError::not_mapped(
                        subject,
                        "the token's email is not verified (email_verified is not true), so it \
                         cannot identify a Box user; the user must verify it at the identity provider",
                    ));
                }
                let email = caller
                    .verified_email()
                    .map(str::trim)
                    .filter(|e| e.contains('@'))
                    .ok_or_else(|| {
                        BrokerError::not_mapped(
                            subject,
                            "the token carries no email claim to look the Box user up by",
                        )
                    })?
                    .to_lowercase();
                let key = cache::key("email", &[&email]);
                let found = self
                    .inner
                    .users_by_email
                    .try_get_with(key, self.lookup_email(&email))
                    .await
                    .map_err(unshare)?;
                found.ok_or_else(|| {
                    BrokerError::not_mapped(
                        subject,
                        format!(
                            "no Box user in the enterprise has the login {email:?}; \
                             an administrator must create the Box user or fix the email"
                        ),
                    )
                })
            }
        }
    }

    /// `GET /users?filter_term=<email>` with the service token; the one user
    /// whose login is the email, exactly (Box matches prefixes of names and logins).
    async fn lookup_email(&self, email: &str) -> Result<Option<String>, BrokerError> {
        #[derive(Deserialize)]
        struct Users {
            #[serde(default)]
            entries: Vec<User>,
        }
        #[derive(Deserialize)]
        struct User {
            id: String,
            #[serde(default)]
            login: Option<String>,
        }
        let grant = self.grant()?;
        let service = self.parent(grant, &self.enterprise()?).await?;
        let mut url = self.api_url(&["users"])?;
        url.query_pairs_mut().append_pair("filter_term", email);
        let body = self.get(Call::UserLookup, url, &service.token).await?;
        let users: Users = parse_json(Call::UserLookup, &body)?;
        let mut matches = users.entries.into_iter().filter(|u| {
            u.login
                .as_deref()
                .is_some_and(|l| l.trim().eq_ignore_ascii_case(email))
        });
        let (first, second) = (matches.next(), matches.next());
        match (first, second) {
            (None, _) => Ok(None),
            (Some(user), None) if BoxId::is_valid(&user.id) => Ok(Some(user.id)),
            (Some(_), None) => Err(BrokerError::InvalidResponse {
                call: Call::UserLookup.describe(),
                reason: "a user id that is not a Box id".into(),
            }),
            (Some(_), Some(_)) => Err(BrokerError::NotMapped {
                subject: email.to_string(),
                reason: "several Box users have this login".into(),
            }),
        }
    }

    /// `GET /users/me` with the service token.
    async fn current_user(&self, grant: &dyn ParentGrant) -> Result<String, BrokerError> {
        let service = self.parent(grant, &self.enterprise()?).await?;
        self.user_of(&service.token).await
    }

    /// The Box user a token is for (`GET /users/me`).
    async fn user_of(&self, token: &SecretString) -> Result<String, BrokerError> {
        #[derive(Deserialize)]
        struct Me {
            id: String,
        }
        let url = self.api_url(&["users", "me"])?;
        let body = self.get(Call::CurrentUser, url, token).await?;
        let me: Me = parse_json(Call::CurrentUser, &body)?;
        if !BoxId::is_valid(&me.id) {
            return Err(BrokerError::InvalidResponse {
                call: Call::CurrentUser.describe(),
                reason: "a user id that is not a Box id".into(),
            });
        }
        Ok(me.id)
    }

    fn api_url(&self, segments: &[&str]) -> Result<Url, BrokerError> {
        let mut url = Url::parse(&self.inner.api_base)
            .map_err(|e| BrokerError::config("box.api_base_url", e))?;
        url.path_segments_mut()
            .map_err(|_| BrokerError::config("box.api_base_url", "cannot be a base URL"))?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    async fn get(
        &self,
        call: Call,
        url: Url,
        token: &SecretString,
    ) -> Result<Vec<u8>, BrokerError> {
        let bearer = token.expose_secret();
        self.inner
            .http
            .send(call, &[bearer], || {
                Ok(Outbound::Get {
                    url: url.clone(),
                    bearer: bearer.to_string(),
                })
            })
            .await
    }

    fn keys(&self, grant: &dyn ParentGrant, subject: &Subject, request: &Normalized) -> (Key, Key) {
        let strategy = grant.strategy();
        (
            cache::parent_key(strategy, subject.box_subject_type(), subject.id()),
            cache::downscoped_key(
                strategy,
                subject.box_subject_type(),
                subject.id(),
                &request.scopes,
                request.resource.as_deref(),
            ),
        )
    }

    /// The parent token for `subject`, cached and coalesced.
    async fn parent(
        &self,
        grant: &dyn ParentGrant,
        subject: &Subject,
    ) -> Result<Arc<IssuedToken>, BrokerError> {
        let key = cache::parent_key(grant.strategy(), subject.box_subject_type(), subject.id());
        let missed = AtomicBool::new(false);
        let token = self
            .inner
            .parents
            .try_get_with(key, async {
                missed.store(true, Ordering::Relaxed);
                let started = Instant::now();
                let answer = grant
                    .fetch(&self.inner.http, &self.inner.token_url, subject)
                    .await?;
                tracing::debug!(
                    strategy = grant.strategy(),
                    subject_type = subject.box_subject_type(),
                    expires_in = answer.expires_in.as_secs(),
                    "obtained a Box parent token"
                );
                Ok(Arc::new(IssuedToken::new(
                    answer.token,
                    started,
                    answer.expires_in,
                    self.inner.expiry_margin,
                )))
            })
            .await
            .map_err(unshare);
        metrics::cache(
            metrics::Cache::BoxParentTokens,
            !missed.load(Ordering::Relaxed),
        );
        token
    }

    /// The downscoped token for (subject, scopes, resource), cached and coalesced.
    async fn downscoped(
        &self,
        grant: &dyn ParentGrant,
        subject: &Subject,
        request: &Normalized,
    ) -> Result<Arc<IssuedToken>, BrokerError> {
        let (_, key) = self.keys(grant, subject, request);
        let who = Minted {
            strategy: grant.strategy(),
            box_user: Some(subject.id()),
            subject: None,
        };
        self.exchange_cached(key, who, request, self.parent(grant, subject))
            .await
    }

    /// The downscoped token under `key`: on a miss, `parent` is awaited and
    /// exchanged at Box for one holding the request's scopes and resource.
    async fn exchange_cached(
        &self,
        key: Key,
        who: Minted<'_>,
        request: &Normalized,
        parent: impl Future<Output = Result<Arc<IssuedToken>, BrokerError>>,
    ) -> Result<Arc<IssuedToken>, BrokerError> {
        let missed = AtomicBool::new(false);
        let token = self
            .inner
            .downscoped
            .try_get_with(key, async {
                missed.store(true, Ordering::Relaxed);
                let parent = parent.await?;
                let started = Instant::now();
                let answer = grant::exchange(
                    &self.inner.http,
                    &self.inner.token_url,
                    &parent.token,
                    &request.scope,
                    request.resource.as_deref(),
                )
                .await?;
                crate::audit::box_credential(
                    who.subject,
                    who.box_user,
                    &request.scope,
                    request.resource.as_deref(),
                    who.strategy,
                );
                let strategy = who.strategy;
                tracing::debug!(
                    strategy,
                    scope = %request.scope,
                    resource = request.resource.as_deref().unwrap_or(""),
                    expires_in = answer.expires_in.as_secs(),
                    "obtained a downscoped Box token"
                );
                let mut token = IssuedToken::new(
                    answer.token,
                    started,
                    answer.expires_in,
                    self.inner.expiry_margin,
                );
                // Never hand out a child after its parent is due for replacement.
                token.refresh_at = token.refresh_at.min(parent.refresh_at);
                Ok(Arc::new(token))
            })
            .await
            .map_err(unshare);
        // A caller that waited on another's miss counts as a hit: it minted nothing.
        metrics::cache(
            metrics::Cache::BoxCredentials,
            !missed.load(Ordering::Relaxed),
        );
        token
    }

    /// The caller's linked Box token, cached per caller for at most
    /// `box.linked.cache_ttl` (and never past the token's own expiry margin).
    async fn linked_parent(
        &self,
        linked: &LinkedAccounts,
        caller: &Principal,
        caller_token: Option<&SecretString>,
    ) -> Result<Arc<IssuedToken>, BrokerError> {
        let key = linked_parent_key(caller);
        self.inner
            .parents
            .try_get_with(key, async {
                let token = caller_token.ok_or(LinkError::NoCallerToken)?;
                let started = Instant::now();
                let fetched = linked.fetch(token).await?;
                let ttl = linked.cache_ttl();
                let lifetime = if fetched.expires_in.is_zero() {
                    ttl
                } else {
                    fetched.expires_in
                };
                let mut issued =
                    IssuedToken::new(fetched.token, started, lifetime, self.inner.expiry_margin);
                issued.refresh_at = issued.refresh_at.min(started + ttl);
                tracing::debug!(
                    provider = ?linked.provider(),
                    expires_in = fetched.expires_in.as_secs(),
                    "obtained the caller's linked Box token from the identity provider"
                );
                Ok(Arc::new(issued))
            })
            .await
            .map_err(unshare)
    }

    /// A downscoped token from the caller's linked account. A linked token that
    /// Box refuses to exchange (the grant was revoked at Box) is dropped from the
    /// cache, and the caller is told to link again.
    async fn linked_downscoped(
        &self,
        linked: &LinkedAccounts,
        caller: &Principal,
        caller_token: Option<&SecretString>,
        request: &Normalized,
    ) -> Result<Arc<IssuedToken>, BrokerError> {
        let (parent_key, key) = linked_keys(caller, request);
        let parent = self.linked_parent(linked, caller, caller_token);
        let who = Minted {
            strategy: "linked",
            box_user: None,
            subject: Some(&caller.subject),
        };
        match self.exchange_cached(key, who, request, parent).await {
            Err(BrokerError::TokenEndpoint {
                status: 400 | 401,
                error,
                description,
                ..
            }) if matches!(error.as_str(), "invalid_grant" | "invalid_token") => {
                self.inner.parents.invalidate(&parent_key).await;
                Err(linked
                    .refused_by_box(format!("Box refused it: {error}: {description}"))
                    .into())
            }
            other => other,
        }
    }
}

/// The cache key of a caller's linked token: per caller (issuer and subject),
/// never per token. The fields are length-prefixed, so no issuer/subject pair can
/// collide with another strategy's (subject type, Box id).
fn linked_parent_key(caller: &Principal) -> Key {
    cache::parent_key("linked", &caller.issuer, &caller.subject)
}

/// The cache keys of a linked account: its parent, and the downscoped token.
fn linked_keys(caller: &Principal, request: &Normalized) -> (Key, Key) {
    (
        linked_parent_key(caller),
        cache::downscoped_key(
            "linked",
            &caller.issuer,
            &caller.subject,
            &request.scopes,
            request.resource.as_deref(),
        ),
    )
}

/// moka shares one error among all waiters of a coalesced miss.
fn unshare(error: Arc<BrokerError>) -> BrokerError {
    Arc::unwrap_or_clone(error)
}

fn parse_json<T: serde::de::DeserializeOwned>(call: Call, body: &[u8]) -> Result<T, BrokerError> {
    serde_json::from_slice(body).map_err(|e| BrokerError::InvalidResponse {
        call: call.describe(),
        reason: format!(
            "{:?} error at line {} column {}",
            e.classify(),
            e.line(),
            e.column()
        ),
    })
}

#[cfg(test)]
pub(crate) mod config_tests;
