//! The way back to the origin, for groups that stay there after promotion: the reverse link
//! (`[reverse-link]`, destination → origin, with a prefix) and the origin seen as the two sides
//! of it ([`ClusterSide`]). `cutover group --to origin`, a runbook's `groups` stage with
//! `to = "origin"` and `audit --stay` (through [`Reverse::path`]) all start here.
//!
//! A [`Reverse`] holds what is needed to open the way back, not an open link: the reverse
//! link's mirrors are often created during the migration (after promotion), so each use reads
//! them when it starts.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::config::LinkConfig;
use crate::error::{Error, Result};
use crate::kafka::{Cluster, ClusterSide};
use crate::link::{ConfluentRestLink, KafkaOnlyLink, Link, LINK_PREFIX};
use crate::model::Role;
use crate::promotion::ReversePath;

/// The folder under `journal-dir` that holds the journals of moves back to the origin, apart
/// from forward cutovers of groups of the same name.
pub const JOURNAL_SUBDIR: &str = "to-origin";

/// Opens a reverse link that is not reached through its configuration (the simulator's).
pub type LinkMaker = Arc<dyn Fn() -> Box<dyn Link> + Send + Sync>;

/// What opens the way back: the reverse link's configuration and both clusters.
#[derive(Clone)]
pub struct Reverse {
    pub config: LinkConfig,
    pub origin: Arc<dyn Cluster>,
    pub destination: Arc<dyn Cluster>,
    /// The reverse link itself, when it is given rather than opened from `config` (the
    /// simulator's link; `None` on real clusters).
    pub given: Option<LinkMaker>,
}

/// The way back, open: the origin's two sides and the reverse link.
pub struct ReverseSides {
    /// The group's offsets and members on the topics it reads now (log ends read on the
    /// destination, where the reverse link reads its sources).
    pub origin: Arc<dyn Cluster>,
    /// Its offsets and members on the reverse link's mirror topics.
    pub destination: Arc<dyn Cluster>,
    pub link: Box<dyn Link>,
}

/// The error of a move back when the configuration names no reverse link.
pub fn not_configured() -> Error {
    Error::ConfigProblems(vec![
        "moving a group back to the origin needs the reverse link (destination → origin) whose mirrors it will read, and the configuration names none: add a [reverse-link] table (or CUTOVER_REVERSE_LINK_* variables) with the reverse link's name and REST API".into(),
    ])
}

impl Reverse {
    /// The reverse link: its REST API, the Kafka-only stand-in, or the one given.
    pub async fn link(&self) -> Result<Box<dyn Link>> {
        match &self.given {
            Some(make) => Ok(make()),
            None => open_link(&self.config, self.destination.clone(), self.origin.clone()).await,
        }
    }

    /// Connects the reverse link and reads its mirror topics, which tell the two sides apart.
    pub async fn open(&self) -> Result<ReverseSides> {
        let link = self.link().await?;
        let mirrors: BTreeSet<String> = link
            .mirrors()
            .await?
            .into_iter()
            .map(|m| m.mirror_topic)
            .collect();
        Ok(ReverseSides {
            origin: Arc::new(
                ClusterSide::new(self.origin.clone(), Role::Origin, mirrors.clone())
                    .with_log_ends_from(self.destination.clone()),
            ),
            destination: Arc::new(ClusterSide::new(
                self.origin.clone(),
                Role::Destination,
                mirrors,
            )),
            link,
        })
    }

    /// What `audit --stay` knows of the way back: the reverse link's prefix as the link
    /// reports it (as configured, without REST access), or why it could not be read.
    pub async fn path(reverse: Option<&Reverse>) -> ReversePath {
        let Some(r) = reverse else {
            return ReversePath::NotConfigured;
        };
        if r.given.is_some() {
            return match r.link().await {
                Ok(link) => match link.configs().await {
                    Ok(configs) => ReversePath::Link {
                        name: r.config.name.clone(),
                        prefix: configs.get(LINK_PREFIX).cloned().unwrap_or_default(),
                    },
                    Err(e) => ReversePath::Unreadable(e.to_string()),
                },
                Err(e) => ReversePath::Unreadable(e.to_string()),
            };
        }
        let Some(options) = r.config.rest_options() else {
            return ReversePath::Link {
                name: r.config.name.clone(),
                prefix: r.config.prefix.clone(),
            };
        };
        let configs = match ConfluentRestLink::connect(options).await {
            Ok(link) => link.configs().await,
            Err(e) => Err(e),
        };
        match configs {
            Ok(configs) => ReversePath::Link {
                name: r.config.name.clone(),
                prefix: configs.get(LINK_PREFIX).cloned().unwrap_or_default(),
            },
            Err(e) => ReversePath::Unreadable(e.to_string()),
        }
    }
}

/// What a command's groups go on reading through: the clusters and the link.
pub struct Route {
    pub origin: Arc<dyn Cluster>,
    pub destination: Arc<dyn Cluster>,
    pub link: Box<dyn Link>,
}

/// Wires a command for where its groups go on reading (`restart_on`): the forward link (opened
/// only then), paired with the reverse link's mirrors when `pair_reverse_mirrors` and a
/// reverse link is configured (`link/paired.rs`); or, back to the origin, the origin's two
/// sides of the reverse link, with `journal_dir` moved to [`JOURNAL_SUBDIR`] so that those
/// journals stand apart. The real context and the simulator's both come through here.
pub async fn route(
    origin: Arc<dyn Cluster>,
    destination: Arc<dyn Cluster>,
    forward: impl std::future::Future<Output = Result<Box<dyn Link>>>,
    reverse: Option<&Reverse>,
    restart_on: Role,
    pair_reverse_mirrors: bool,
    journal_dir: &mut std::path::PathBuf,
) -> Result<Route> {
    match restart_on {
        Role::Destination => {
            let mut link = forward.await?;
            if let (true, Some(r)) = (pair_reverse_mirrors, reverse) {
                match r.link().await {
                    Ok(back) => link = Box::new(crate::link::PairedLink::new(link, back)),
                    // Without it, topics that only the reverse link mirrors are judged
                    // NOT_MIRRORED: a finding, not a guess.
                    Err(e) => {
                        tracing::warn!(error = %e, "the reverse link cannot be opened: its mirrors are not paired")
                    }
                }
            }
            Ok(Route {
                origin,
                destination,
                link,
            })
        }
        Role::Origin => {
            let sides = reverse.ok_or_else(not_configured)?.open().await?;
            journal_dir.push(JOURNAL_SUBDIR);
            Ok(Route {
                origin: sides.origin,
                destination: sides.destination,
                link: sides.link,
            })
        }
    }
}

/// The link's REST API, or the Kafka-only stand-in between `source` and `mirrors` (the
/// clusters its source topics and its mirror topics are on).
pub async fn open_link(
    config: &LinkConfig,
    source: Arc<dyn Cluster>,
    mirrors: Arc<dyn Cluster>,
) -> Result<Box<dyn Link>> {
    Ok(match config.rest_options() {
        Some(options) => Box::new(ConfluentRestLink::connect(options).await?),
        None => Box::new(KafkaOnlyLink::new(
            config.name.clone(),
            config.prefix.clone(),
            source,
            mirrors,
        )),
    })
}
