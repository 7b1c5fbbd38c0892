//! The load scenarios of the benchmark, and what each one sends.

/// The JSON-RPC body a scenario posts to `/mcp` (stateless MCP: no session).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    ToolsList,
    Whoami,
    /// `box_folder_list` of the caller's root folder, against the sandbox.
    FolderList,
}

impl Call {
    pub fn body(self) -> &'static str {
        match self {
            Self::ToolsList => r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}"#,
            Self::Whoami => {
                r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"whoami","arguments":{}}}"#
            }
            Self::FolderList => {
                r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"box_folder_list","arguments":{"folder_id":"0"}}}"#
            }
        }
    }
}

/// Whose tokens a scenario sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Callers {
    /// No token: the server runs with authentication off.
    Anonymous,
    /// One user (alice) for every request.
    One,
    /// Each request a user the server has not seen (one token per user, once).
    EachNew,
    /// All the benchmark users in turn, again and again.
    AllInTurn,
    /// One forged token (alice's header and claims, right `kid`, a signature of
    /// the right length that is not hers), again and again.
    Forged,
    /// A different forged token every request: the signature differs each time.
    ForgedEachNew,
}

impl Callers {
    /// The HTTP status every answer must have: 401 for forged tokens.
    pub fn expected_status(self) -> u16 {
        match self {
            Self::Forged | Self::ForgedEachNew => 401,
            _ => 200,
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Scenario {
    /// Short id used in the report ("1", "3b", …).
    pub id: &'static str,
    pub title: &'static str,
    pub call: Call,
    pub callers: Callers,
    /// Run the same load briefly before measuring (warm caches, warm connections).
    pub warm_up: bool,
    /// The scenario whose throughput this one is compared with.
    pub baseline: Option<&'static str>,
    /// The caller's Box account is linked at the IdP (`per_user_token = "linked"`),
    /// not a managed user found by claim.
    pub linked: bool,
    /// Rate limits and metrics on (as deployed, with limits no request reaches) or
    /// off, to measure what they cost.
    pub edge: Edge,
    pub server: Server,
}

/// Which server a scenario measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Server {
    BoxMcp,
    /// `box-mcp-echo`: a minimal JSON-RPC server on axum, the floor box-mcp is
    /// compared with.
    Echo,
}

/// The production edge's per-request work: rate limits and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edge {
    On,
    Off,
}

impl Scenario {
    pub fn authenticated(&self) -> bool {
        self.callers != Callers::Anonymous
    }
}

pub const SCENARIOS: &[Scenario] = &[
    Scenario {
        id: "0",
        title: "minimal JSON-RPC echo server (axum), scenario 3's requests",
        call: Call::Whoami,
        callers: Callers::Anonymous,
        warm_up: true,
        baseline: None,
        linked: false,
        edge: Edge::Off,
        server: Server::Echo,
    },
    Scenario {
        id: "1",
        title: "tools/list, authentication off (baseline)",
        call: Call::ToolsList,
        callers: Callers::Anonymous,
        warm_up: true,
        baseline: None,
        linked: false,
        edge: Edge::Off,
        server: Server::BoxMcp,
    },
    Scenario {
        id: "2",
        title: "tools/list, full auth + RBAC (rate limits and metrics off)",
        call: Call::ToolsList,
        callers: Callers::One,
        warm_up: true,
        baseline: Some("1"),
        linked: false,
        edge: Edge::Off,
        server: Server::BoxMcp,
    },
    Scenario {
        id: "2e",
        title: "tools/list, full auth + RBAC, rate limits and metrics on",
        call: Call::ToolsList,
        callers: Callers::One,
        warm_up: true,
        baseline: Some("2"),
        linked: false,
        edge: Edge::On,
        server: Server::BoxMcp,
    },
    Scenario {
        id: "3b",
        title: "tools/call whoami, authentication off",
        call: Call::Whoami,
        callers: Callers::Anonymous,
        warm_up: true,
        baseline: Some("1"),
        linked: false,
        edge: Edge::Off,
        server: Server::BoxMcp,
    },
    Scenario {
        id: "3",
        title: "tools/call whoami, full auth + RBAC (rate limits and metrics off)",
        call: Call::Whoami,
        callers: Callers::One,
        warm_up: true,
        baseline: Some("3b"),
        linked: false,
        edge: Edge::Off,
        server: Server::BoxMcp,
    },
    Scenario {
        id: "3e",
        title: "tools/call whoami, full auth + RBAC, rate limits and metrics on",
        call: Call::Whoami,
        callers: Callers::One,
        warm_up: true,
        baseline: Some("3"),
        linked: false,
        edge: Edge::On,
        server: Server::BoxMcp,
    },
    Scenario {
        id: "8",
        title: "tools/list, one forged token again and again (401)",
        call: Call::ToolsList,
        callers: Callers::Forged,
        warm_up: true,
        baseline: Some("2"),
        linked: false,
        edge: Edge::Off,
        server: Server::BoxMcp,
    },
    Scenario {
        id: "8n",
        title: "tools/list, a different forged token every request (401)",
        call: Call::ToolsList,
        callers: Callers::ForgedEachNew,
        warm_up: false,
        baseline: Some("8"),
        linked: false,
        edge: Edge::Off,
        server: Server::BoxMcp,
    },
    Scenario {
        id: "4",
        title: "tools/call box_folder_list, warm broker cache",
        call: Call::FolderList,
        callers: Callers::One,
        warm_up: true,
        baseline: Some("1"),
        linked: false,
        edge: Edge::On,
        server: Server::BoxMcp,
    },
    Scenario {
        id: "5",
        title: "tools/call box_folder_list, a new user every request (cold caches)",
        call: Call::FolderList,
        callers: Callers::EachNew,
        warm_up: false,
        baseline: Some("1"),
        linked: false,
        edge: Edge::On,
        server: Server::BoxMcp,
    },
    Scenario {
        id: "6",
        title: "tools/call box_folder_list, all benchmark users in turn (churn)",
        call: Call::FolderList,
        callers: Callers::AllInTurn,
        warm_up: false,
        baseline: Some("1"),
        linked: false,
        edge: Edge::On,
        server: Server::BoxMcp,
    },
    Scenario {
        id: "7",
        title: "tools/call box_folder_list, linked Box account, warm caches",
        call: Call::FolderList,
        callers: Callers::One,
        warm_up: true,
        baseline: Some("4"),
        linked: true,
        edge: Edge::On,
        server: Server::BoxMcp,
    },
];

pub fn find(id: &str) -> Option<&'static Scenario> {
    SCENARIOS.iter().find(|s| s.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_json_rpc_requests() {
        for call in [Call::ToolsList, Call::Whoami, Call::FolderList] {
            let v: serde_json::Value = serde_json::from_str(call.body()).unwrap();
            assert_eq!(v["jsonrpc"], "2.0");
        }
    }

    #[test]
    fn every_baseline_is_a_scenario_measured_before_it() {
        for (i, s) in SCENARIOS.iter().enumerate() {
            if let Some(b) = s.baseline {
                let at = SCENARIOS.iter().position(|x| x.id == b).unwrap();
                assert!(at < i, "{} compares with {b}, measured later", s.id);
            }
        }
    }
}
