//! Integration tests of box-sandbox over HTTP: one test binary, one module per area.

mod cli;
mod common;
mod content;
mod enforcement;
mod faults;
mod features;
mod jwt;
mod oauth;
mod schemas;
mod user_oauth;
mod writes;
