//! Patrol's collector: ingests agent streams, keeps the latest value per series, evaluates
//! rules as samples arrive, turns breaches into durable incidents, and publishes every change
//! to watchers.
//!
//! Data path: [`ingest`] → [`engine`] → [`store`] → event bus → [`api`] watchers.

pub mod agents;
pub mod api;
pub mod config;
pub mod core;
pub mod engine;
pub mod http;
pub mod ingest;
pub mod reload;
pub mod server;
pub mod telemetry;
pub mod tls;
