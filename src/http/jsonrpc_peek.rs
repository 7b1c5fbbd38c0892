//! A first, strict look at a POSTed JSON-RPC body, before rmcp parses it: enough to
//! know which tool a `tools/call` names, and to refuse, with the JSON-RPC error a
//! client expects, every body that is not one well-formed message. A body this
//! cannot read is refused here rather than passed on, so no later parser can read
//! it differently (an array, a duplicate key, params that are not an object).

use std::borrow::Cow;

use serde::{Deserialize, de::IgnoredAny};
use serde_json::value::RawValue;

/// What a body is, as far as the gates ahead of rmcp need to know.
#[derive(Debug, PartialEq, Eq)]
pub enum Message<'a> {
    /// A `tools/call` request, with the tool it names.
    ToolCall { tool: Cow<'a, str> },
    /// Any other request or notification, by method.
    Other { method: Cow<'a, str> },
    /// A response to a request the server sent (elicitation, sampling, …).
    Response,
}

/// Why a body was refused; each is HTTP 400 with a JSON-RPC error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// -32700: not JSON at all.
    #[error("the body is not valid JSON")]
    Parse,
    /// -32600: JSON, but not one JSON-RPC 2.0 message.
    #[error("invalid request: {0}")]
    Invalid(&'static str),
    /// -32602: a `tools/call` whose params name no tool.
    #[error("invalid params: tools/call needs params with a string `name`")]
    ToolCallParams,
}

impl BodyError {
    pub fn json_rpc_code(self) -> i64 {
        match self {
            Self::Parse => -32700,
            Self::Invalid(_) => -32600,
            Self::ToolCallParams => -32602,
        }
    }
}

/// The members a message may have. Unknown members are skipped; a member given
/// twice fails the whole body (serde refuses duplicate fields), so that no reader
/// behind this one can pick the other copy.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    jsonrpc: Option<Cow<'a, str>>,
    #[serde(borrow)]
    method: Option<Cow<'a, str>>,
    id: Option<IgnoredAny>,
    #[serde(borrow)]
    params: Option<&'a RawValue>,
    result: Option<IgnoredAny>,
    error: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct ToolCallParams<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
}

pub fn classify(body: &[u8]) -> Result<Message<'_>, BodyError> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    // One parse on the way every good body takes; only a refused one is parsed again,
    // to tell "not JSON" (-32700) from "not one message" (-32600).
    let not_json_or = |invalid: BodyError| match serde_json::from_slice::<IgnoredAny>(body) {
        Ok(_) => invalid,
        Err(_) => BodyError::Parse,
    };
    if first != Some(&b'{') {
        return Err(not_json_or(BodyError::Invalid(
            "the body must be one JSON-RPC message (an object); batches are not supported",
        )));
    }
    let envelope: Envelope<'_> = serde_json::from_slice(body)
        .map_err(|_| not_json_or(BodyError::Invalid("a member is malformed or given twice")))?;
    if envelope.jsonrpc.as_deref() != Some("2.0") {
        return Err(BodyError::Invalid("`jsonrpc` must be \"2.0\""));
    }
    let Some(method) = envelope.method else {
        return match (envelope.id, envelope.result, envelope.error) {
            (Some(_), Some(_), None) | (Some(_), None, Some(_)) => Ok(Message::Response),
            _ => Err(BodyError::Invalid(
                "a message needs a `method`, or an `id` with one of `result` and `error`",
            )),
        };
    };
    if envelope.result.is_some() || envelope.error.is_some() {
        return Err(BodyError::Invalid(
            "a request cannot carry `result` or `error`",
        ));
    }
    let params = envelope.params.map(RawValue::get);
    if params.is_some_and(|p| !p.starts_with('{')) {
        return Err(BodyError::Invalid("`params` must be an object"));
    }
    if method != "tools/call" {
        return Ok(Message::Other { method });
    }
    // An object (checked above), so serde cannot read it positionally; a `name`
    // given twice fails.
    let params: ToolCallParams<'_> = params
        .and_then(|p| serde_json::from_str(p).ok())
        .ok_or(BodyError::ToolCallParams)?;
    Ok(Message::ToolCall { tool: params.name })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tool(body: &str) -> Result<String, BodyError> {
        match classify(body.as_bytes())? {
            Message::ToolCall { tool } => Ok(tool.into_owned()),
            other => panic!("not a tool call: {other:?}"),
        }
    }

    #[test]
    fn tool_calls_name_their_tool() {
        assert_eq!(
            tool(
                r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"box_file_delete","arguments":{"x":[1,2]}}}"#
            ),
            Ok("box_file_delete".into())
        );
        assert_eq!(
            tool(r#"{"jsonrpc":"2.0","id":"a","method":"tools/call","params":{"name":"a\"b"}}"#),
            Ok("a\"b".into())
        );
    }

    #[test]
    fn other_messages_pass() {
        for body in [
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#,
            r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"capabilities":{}},"x-extra":true}"#,
        ] {
            assert!(
                matches!(classify(body.as_bytes()), Ok(Message::Other { .. })),
                "{body}"
            );
        }
        assert_eq!(
            classify(br#"{"jsonrpc":"2.0","id":4,"result":{"action":"accept"}}"#),
            Ok(Message::Response)
        );
    }

    #[test]
    fn what_cannot_be_read_is_refused() {
        assert_eq!(classify(b"not json"), Err(BodyError::Parse));
        assert_eq!(classify(br#"{"jsonrpc":"2.0","#), Err(BodyError::Parse));
        assert_eq!(classify(b""), Err(BodyError::Parse));
        for body in [
            // A batch that hides a write call.
            r#"[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"box_file_delete"}}]"#,
            // The last duplicate would win in a lenient parser.
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","method":"tools/call","params":{"name":"box_file_delete"}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"whoami"},"params":{"name":"box_file_delete"}}"#,
            // Params as an array (positional), or not JSON-RPC 2.0 at all.
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":["box_file_delete"]}"#,
            r#"{"id":1,"method":"tools/call","params":{"name":"box_file_delete"}}"#,
            r#"{"jsonrpc":"1.0","id":1,"method":"tools/list"}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":7}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","result":{}}"#,
            r#"{"jsonrpc":"2.0","id":1}"#,
            r#""tools/call""#,
            "null",
        ] {
            assert!(
                matches!(classify(body.as_bytes()), Err(BodyError::Invalid(_))),
                "{body}: {:?}",
                classify(body.as_bytes())
            );
        }
        for body in [
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call"}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":7}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"whoami","name":"box_file_delete"}}"#,
        ] {
            let got = classify(body.as_bytes());
            assert!(
                matches!(got, Err(BodyError::ToolCallParams | BodyError::Invalid(_))),
                "{body}: {got:?}"
            );
        }
    }
}
