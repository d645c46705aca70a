//! The link configs the model knows: their names, defaults, synonyms and which are read-only,
//! as the REST API lists them.
//!
//! Only the table: checking and applying changes is [`LinkState`](super::LinkState)'s job.

/// A link config the emulator knows: its default and whether it can be changed.
#[derive(Debug, Clone, Copy)]
pub struct ConfigSpec {
    pub name: &'static str,
    pub default: &'static str,
    pub read_only: bool,
    pub synonyms: &'static [&'static str],
}

pub const SYNC_ENABLE: &str = "consumer.offset.sync.enable";
pub const SYNC_MS: &str = "consumer.offset.sync.ms";
pub const GROUP_FILTERS: &str = "consumer.offset.group.filters";
pub const AUTO_CREATE_ENABLE: &str = "auto.create.mirror.topics.enable";
pub const AUTO_CREATE_FILTERS: &str = "auto.create.mirror.topics.filters";
/// The same name the agent reads (`link::LINK_PREFIX`).
pub const LINK_PREFIX: &str = crate::link::LINK_PREFIX;
pub const TOPIC_CONFIG_SYNC_MS: &str = "topic.config.sync.ms";
pub const LINK_PAUSED: &str = "cluster.link.paused";

/// The configs the emulator serves. Values are strings, as over REST.
pub const CONFIGS: &[ConfigSpec] = &[
    ConfigSpec {
        name: "acl.filters",
        default: "",
        read_only: false,
        synonyms: &[],
    },
    ConfigSpec {
        name: "acl.sync.enable",
        default: "false",
        read_only: false,
        synonyms: &[],
    },
    ConfigSpec {
        name: "acl.sync.ms",
        default: "5000",
        read_only: false,
        synonyms: &["asm"],
    },
    ConfigSpec {
        name: AUTO_CREATE_ENABLE,
        default: "false",
        read_only: false,
        synonyms: &[],
    },
    ConfigSpec {
        name: AUTO_CREATE_FILTERS,
        default: "",
        read_only: false,
        synonyms: &[],
    },
    ConfigSpec {
        name: "bootstrap.servers",
        default: "",
        read_only: true,
        synonyms: &[],
    },
    ConfigSpec {
        name: LINK_PAUSED,
        default: "false",
        read_only: false,
        synonyms: &[],
    },
    ConfigSpec {
        name: LINK_PREFIX,
        default: "",
        read_only: true,
        synonyms: &[],
    },
    ConfigSpec {
        name: GROUP_FILTERS,
        default: "",
        read_only: false,
        synonyms: &[],
    },
    ConfigSpec {
        name: SYNC_ENABLE,
        default: "false",
        read_only: false,
        synonyms: &[],
    },
    ConfigSpec {
        name: SYNC_MS,
        default: "30000",
        read_only: false,
        synonyms: &["cosm"],
    },
    ConfigSpec {
        name: "link.mode",
        default: "DESTINATION",
        read_only: true,
        synonyms: &[],
    },
    ConfigSpec {
        name: TOPIC_CONFIG_SYNC_MS,
        default: "5000",
        read_only: false,
        synonyms: &[],
    },
];

pub fn config_spec(name: &str) -> Option<&'static ConfigSpec> {
    CONFIGS.iter().find(|c| c.name == name)
}
