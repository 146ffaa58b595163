//! Patrol's wire contract and the data model that crosses it.
//!
//! `v1` is generated from `proto/patrol/v1/patrol.proto` and never edited by hand. `model` holds
//! the plain domain types (samples, label sets) every crate shares, and `convert` the
//! wire↔domain conversions, so that services stay thin.

pub mod convert;
pub mod exposition;
pub mod facts;
pub mod model;
pub mod secret;
pub mod tls;

#[allow(clippy::all, missing_docs)]
pub mod v1 {
    tonic::include_proto!("patrol.v1");
}

pub use model::{Labels, Sample};
