//! The notification part of the site file and what it is checked against:
//!
//! - [`config`]: `[notify]` and `[channel.<name>]`, the checked channel settings the channels are
//!   built from; [`retry`]: per-channel backoff; [`route`]: `[[route]]` (which changes go where)
//!   and the pure selection of routes for a change;
//! - [`payload`]: the versioned JSON every channel sends (`patrol.notify.v1`); [`message`]: a
//!   payload with its default renderings ([`text`]); [`template`]: per-channel templates,
//!   compiled and rendered against a sample payload when the file is checked.
//!
//! Delivery (MQTT, webhook, e-mail) and the dispatcher are the `patrol-notify` crate's.
//! Reference for operators: docs/notifications.md.

pub mod config;
pub mod mailbox;
pub mod message;
pub mod payload;
pub mod retry;
pub mod route;
pub mod template;
pub mod text;

pub use config::{ChannelConfig, ChannelKind, DEFAULT_MAX_BACKLOG, NotifySettings};
pub use message::Message;
pub use payload::Payload;
pub use retry::RetryPolicy;
