//! One group's cutover: the pure phase machine (`machine`) and the async driver that performs
//! its effects against the clusters, the link, the hooks and the journal (`driver`).

pub mod driver;
pub mod machine;
