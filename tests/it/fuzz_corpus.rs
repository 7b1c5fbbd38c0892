//! The fuzz corpus (`fuzz/corpus/<target>/`: the seeds and every input afl.rs
//! found interesting, `scripts/fuzz.sh`) replayed through the same entry points
//! the fuzzer drives: none may panic or take long. A crash the fuzzer finds is
//! fixed and its input kept here, so it stays fixed.

use std::time::{Duration, Instant};

/// Slower than this on one input is a hang (the slowest targets take milliseconds).
const SLOW: Duration = Duration::from_secs(5);

#[test]
fn every_corpus_input_runs_through_its_parser_without_a_panic_or_a_hang() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    let mut replayed = 0;
    for (name, target) in box_mcp::fuzz::TARGETS {
        let dir = root.join(name);
        let mut inputs: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|entry| entry.unwrap().path())
            .collect();
        inputs.sort();
        assert!(
            inputs.len() >= 5,
            "{name}: the corpus has {} inputs",
            inputs.len()
        );
        for input in inputs {
            let data = std::fs::read(&input).unwrap();
            let started = Instant::now();
            let outcome = std::panic::catch_unwind(|| target(&data));
            assert!(outcome.is_ok(), "{name} panicked on {}", input.display());
            assert!(
                started.elapsed() < SLOW,
                "{name} took {:?} on {}",
                started.elapsed(),
                input.display()
            );
            replayed += 1;
        }
    }
    eprintln!("replayed {replayed} corpus inputs");
}

/// The `dpop_proof` seeds signed by a real key pass every check at their clock, so
/// the fuzzer starts from inputs that reach the end of the proof check, past the
/// signature it cannot forge.
#[test]
fn the_signed_dpop_seeds_reach_the_end_of_the_proof_check() {
    use box_mcp::fuzz::{dpop_verifier, split_at_first};
    // Its own verifier: the replay above remembers the seeds' proofs in the target's.
    let verifier = dpop_verifier();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/dpop_proof");
    let check = |seed: &str| {
        let data = std::fs::read(dir.join(seed)).unwrap();
        let (proof, token) = split_at_first(&data, b'\n');
        let (proof, token) = (
            std::str::from_utf8(proof).unwrap(),
            std::str::from_utf8(token).unwrap(),
        );
        verifier.check(proof, "POST", token, 1_700_000_000)
    };
    for seed in ["seed-es256-valid", "seed-rs256-valid", "seed-eddsa-valid"] {
        let checked = check(seed);
        assert!(checked.is_ok(), "{seed}: {checked:?}");
    }
    assert!(check("seed-es256-wrong-htu").is_err());
}
