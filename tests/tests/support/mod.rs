//! Helpers shared by the end-to-end tests.
#![allow(dead_code)]

pub mod daemon;
pub mod inproc;
pub mod netns;
pub mod procs;
pub mod proxy;
pub mod webdriver;
pub mod wire;
