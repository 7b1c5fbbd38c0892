//! Client Credentials Grant: `box_subject_type=enterprise` (the service account) or
//! `user` (a managed user, when the app may generate user tokens).

use super::{Form, Issued, OAuthError, authenticate, issue_parent, resolve_subject};
use crate::{seed::AppAuth, state::AppState};

pub fn grant(state: &AppState, form: &Form) -> Result<Issued, OAuthError> {
    let (app, subject) = {
        let store = state.store();
        let app = authenticate(&store, form, AppAuth::ClientCredentials)?;
        let subject = resolve_subject(
            &store,
            &app,
            form.get("box_subject_type"),
            form.get("box_subject_id"),
        )?;
        (app, subject)
    };
    Ok(issue_parent(state, &app, subject))
}
