//! One afl.rs binary for every target in `box_mcp::fuzz::TARGETS`; the target is
//! named by `BOX_MCP_FUZZ_TARGET` (scripts/fuzz.sh sets it per run).

fn main() {
    let name = std::env::var("BOX_MCP_FUZZ_TARGET").unwrap_or_default();
    let Some(&(_, target)) = box_mcp::fuzz::TARGETS.iter().find(|(n, _)| *n == name) else {
        let names: Vec<&str> = box_mcp::fuzz::TARGETS.iter().map(|(n, _)| *n).collect();
        eprintln!("set BOX_MCP_FUZZ_TARGET to one of: {}", names.join(", "));
        std::process::exit(2);
    };
    // Without afl's abort-on-panic hook: a panic that box-mcp catches by design
    // (the policy engine's, which `CompiledPolicy::evaluate` turns into a refused
    // decision or a refused load) is a handled outcome, as it is in the server.
    // A panic that escapes a target still aborts, and afl counts it as a crash.
    afl::fuzz_nohook!(|data: &[u8]| target(data));
}
