//! One group's cutover: the pure phase machine (`machine`) and the async driver that performs
//! its effects against the clusters, the link, the hooks and the journal (`driver`), with the
//! other groups it watches for the link's sync ticks (`witness`).

pub mod driver;
pub mod dry_run;
pub mod machine;
pub mod witness;
