//! Scratch files for one test: a fresh directory of its own (tempfile), removed when
//! the `Scratch` is dropped, so tests that run at once in this one binary never share
//! a path.

use std::path::PathBuf;

pub struct Scratch(tempfile::TempDir);

impl Scratch {
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("box-mcp-test-")
            .tempdir()
            .expect("create a temporary directory");
        Self(dir)
    }

    /// Where `name` lives in this directory (not created).
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.path().join(name)
    }

    /// Writes `text` to `name` in this directory and returns its path.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, text).expect("write a scratch file");
        path
    }
}
