//! `cutover-lab`: the world cutover's real-Kafka tests run in, and operators rehearse in. It is
//! a workspace member that is never published or installed with cutover.
//!
//! - [`linksim`]: the cluster-link emulator (`cutover-linksim`) between two real Apache Kafka
//!   clusters. It uses the link's behaviour model from the cutover crate
//!   (`cutover::sim::link_model`, which the simulator shares) and adds what only a live
//!   emulator needs: copying records, syncing offsets, its HTTP server and fault knobs.
//! - `src/bin/cutover-testapp/`: the consumer application the end-to-end tests stop and
//!   restart through cutover's hooks (a member of its group, a static one, or none: `--assign`;
//!   one instance or several).
//! - [`testkit`]: the fixtures tests use to drive the lab, the emulator and the test app.
//!
//! Nothing in cutover's product code may depend on this crate; cutover's tests and benches use
//! it as a dev-dependency.

pub mod linksim;
pub mod testkit;
