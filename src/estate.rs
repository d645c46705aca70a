//! What the migration-wide commands (`watch`, `promote`, a runbook's stages) run against: both
//! clusters, the link, where journals go, the clock, how often to look and whether to show
//! progress. One value, borrowed, so each command's own environment adds only what is its own.

use std::path::Path;
use std::time::Duration;

use crate::cutover::driver::Clock;
use crate::kafka::Cluster;
use crate::link::Link;

#[derive(Clone, Copy)]
pub struct Estate<'a> {
    pub origin: &'a dyn Cluster,
    pub destination: &'a dyn Cluster,
    pub link: &'a dyn Link,
    /// `[cutover] journal-dir`.
    pub journal_dir: &'a Path,
    pub clock: &'a Clock,
    /// `[defaults] poll-interval`: the pause between two looks.
    pub poll: Duration,
    /// Whether waits show progress on stderr.
    pub progress: bool,
}
