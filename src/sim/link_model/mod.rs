//! The cluster link's behaviour, as a model: its configs and their validation, its filters, its
//! mirror topics and their state changes, promote's refusal while lag is not zero, and the
//! fault knobs.
//!
//! Two link implementations share this one model so that they cannot drift apart: the
//! simulator's link (`cutover scenario`, in virtual time) and the lab's emulator
//! (`cutover-lab`'s `cutover-linksim`, between two real Kafka clusters). It is the *link's*
//! side of the story, never the agent's: it does not import the agent's link client or its
//! filter evaluator ([`filters`] is a separate implementation, on purpose), and the agent's
//! code must not use it to make decisions. It lives in the cutover crate, beside the
//! simulator, because the simulator ships with the product; the emulator, its HTTP server and
//! its Kafka copying live in `lab/` and use this model through `cutover::sim::link_model`.

mod configs;
mod faults;
pub mod filters;
mod mirror;
mod refusal;
mod state;

pub use configs::{
    config_spec, ConfigSpec, AUTO_CREATE_ENABLE, AUTO_CREATE_FILTERS, CONFIGS, GROUP_FILTERS,
    LINK_PAUSED, LINK_PREFIX, SYNC_ENABLE, SYNC_MS, TOPIC_CONFIG_SYNC_MS,
};
pub use faults::{Faults, RestFaultKind, RestFaults};
pub use filters::{Effect, FilterConfig, LinkFilters, Pattern, Rule};
pub use mirror::{next_status, now_ms, Action, Mirror, MirrorFailure, MirrorStatus, PartitionLag};
pub use refusal::Refusal;
pub use state::LinkState;
