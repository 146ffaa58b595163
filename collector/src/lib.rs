//! Patrol's collector: ingests agent streams, keeps the latest value per series, evaluates
//! rules as samples arrive, turns breaches into durable incidents, and publishes every change
//! to watchers.
//!
//! Data path: [`ingest`] → [`engine`] → incident store (`patrol-store`) → event bus → [`api`]
//! watchers and the notification dispatcher (`patrol-notify`).
//!
//! This crate is the daemon: ingest, the rule driver, the gRPC API, the HTTP port, reloads,
//! and the wiring of the store, the site and the channels. It owns no incident storage, no
//! site-file language and no channel code; it reaches the store only through
//! `patrol_store::IncidentStore`. Nothing depends on it but the binary and the end-to-end
//! tests: `patrolctl` in particular must never link it.

pub mod agents;
pub mod api;
pub mod auth;
pub mod config;
pub mod conn;
pub mod console;
pub mod core;
pub mod datalock;
pub mod engine;
pub mod history_api;
pub mod history_metrics;
pub mod history_windows;
pub mod http;
pub mod http_tls;
pub mod ingest;
pub mod latest;
pub mod limits;
pub mod query_api;
pub mod ratelog;
pub mod reload;
pub mod reports;
pub mod server;
pub mod telemetry;
pub mod tls;
