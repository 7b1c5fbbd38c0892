//! Reading the access token, from the Authorization header only (RFC 6750 §2.1),
//! with the `Bearer` scheme or, when DPoP is on, `DPoP` (RFC 9449 §7.1), and the
//! DPoP proof header.

use http::{HeaderMap, Uri, header::AUTHORIZATION};

use super::MalformedAuthorization;

/// The scheme an access token came with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Bearer,
    Dpop,
}

/// The bearer token of the request, `Ok(None)` when no bearer credentials were sent.
/// A header that claims to be a bearer token but is malformed is an error (400).
pub fn bearer_token(headers: &HeaderMap) -> Result<Option<&str>, MalformedAuthorization> {
    Ok(access_token(headers, false)?.map(|(_, token)| token))
}

/// The request's access token and its scheme; `DPoP` is read only when `dpop`
/// (otherwise, like any other scheme, it is no credentials at all).
pub fn access_token(
    headers: &HeaderMap,
    dpop: bool,
) -> Result<Option<(Scheme, &str)>, MalformedAuthorization> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(MalformedAuthorization("more than one Authorization header"));
    }
    let value = value
        .to_str()
        .map_err(|_| MalformedAuthorization("the header is not visible ASCII"))?;
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    let scheme = if scheme.eq_ignore_ascii_case("bearer") {
        Scheme::Bearer
    } else if dpop && scheme.eq_ignore_ascii_case("dpop") {
        Scheme::Dpop
    } else {
        // Another scheme is not bearer credentials: answer with the plain challenge.
        return Ok(None);
    };
    let token = rest.trim_start_matches(' ');
    if token.is_empty() {
        return Err(MalformedAuthorization("the bearer token is empty"));
    }
    if !is_b64token(token) {
        return Err(MalformedAuthorization(
            "the bearer token contains characters a token cannot have",
        ));
    }
    Ok(Some((scheme, token)))
}

/// The `DPoP` header's proof; more than one is an error (RFC 9449 §4.3).
pub fn dpop_proof(headers: &HeaderMap) -> Result<Option<&str>, super::ProofRejection> {
    let mut values = headers.get_all("dpop").iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(super::ProofRejection::Duplicate);
    }
    value
        .to_str()
        .map(Some)
        .map_err(|_| super::ProofRejection::Malformed)
}

/// RFC 6750 b64token: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn is_b64token(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    !body.is_empty()
        && body.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        })
}

/// True when the query string carries an `access_token` (RFC 6750 §2.3), which we refuse.
pub fn token_in_query(uri: &Uri) -> bool {
    uri.query().is_some_and(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .any(|(k, _)| k.eq_ignore_ascii_case("access_token"))
    })
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn reads_bearer_tokens_case_insensitively() {
        assert_eq!(
            bearer_token(&headers(&["Bearer abc.def.ghi"])).unwrap(),
            Some("abc.def.ghi")
        );
        assert_eq!(
            bearer_token(&headers(&["bearer abc"])).unwrap(),
            Some("abc")
        );
    }

    #[test]
    fn absent_or_other_scheme_is_no_token() {
        assert_eq!(bearer_token(&headers(&[])).unwrap(), None);
        assert_eq!(
            bearer_token(&headers(&["Basic dXNlcjpwYXNz"])).unwrap(),
            None
        );
    }

    #[test]
    fn malformed_headers_are_errors() {
        for bad in [
            &["Bearer"][..],
            &["Bearer "],
            &["Bearer a b"],
            &["Bearer a,b"],
            &["Bearer x", "Bearer y"],
        ] {
            assert!(bearer_token(&headers(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn query_tokens_are_detected() {
        assert!(token_in_query(&"/mcp?access_token=x".parse().unwrap()));
        assert!(token_in_query(&"/mcp?a=1&ACCESS_TOKEN=x".parse().unwrap()));
        assert!(!token_in_query(&"/mcp?a=1".parse().unwrap()));
        assert!(!token_in_query(&"/mcp".parse().unwrap()));
    }
}
