//! Integration tests: the real binary, real git, throw-away repositories, fake HTTP servers on
//! 127.0.0.1. One test binary (see Cargo.toml `autotests = false`) keeps link time down.

mod common;

mod budget;
mod cache_flow;
mod findings;
mod flows;
mod hardening;
mod hooks;
mod hostile;
mod index;
mod items;
mod layers;
mod managers;
mod output;
mod providers;
mod report;
mod robust;
mod shards;
mod trust;
