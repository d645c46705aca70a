//! Configuration: `cutover.toml` and `CUTOVER_*` environment variables, read and validated in
//! one place into a typed [`Config`].
//!
//! Nothing outside this module looks at the file or at a `CUTOVER_*` variable. Loading never
//! stops at the first mistake: every problem found is collected and returned together as
//! [`Error::ConfigProblems`](crate::error::Error::ConfigProblems) (exit code 2), so an operator fixes a config in one round. This
//! module performs no network I/O; it reads only the config file, a `.properties` file it names
//! and checks that each `ca-file` is readable. It must never log, print or `Debug`-format a
//! secret: values of secret-looking properties are masked ([`ClusterConfig::redacted`]); the
//! REST password and the hooks' `env-from` and `headers-env` values are
//! [`Secret`](crate::secret::Secret)s.
//!
//! # The file
//!
//! ```toml
//! [origin]                      # librdkafka client properties, passed through unchanged
//! "bootstrap.servers" = "old-kafka:9092"
//! "security.protocol" = "SASL_SSL"
//! "sasl.mechanisms" = "PLAIN"
//! "sasl.username" = "svc-cutover"
//! "sasl.password-env" = "ORIGIN_PASSWORD"   # a secret is never written in the file: *-env names the variable
//! # properties-file = "origin.properties"    # or a Java client .properties file, as Kafka's own tools accept
//!
//! [destination]
//! "bootstrap.servers" = "new-kafka:9092"
//!
//! [link]
//! name = "migration-link"
//! rest-url = "https://new-kafka:8090/kafka/v3"   # absent: Kafka-only mode (mirror status unknown)
//! cluster-id = "lkc-1234"                         # optional: discovered from GET /clusters
//! username-env = "LINK_API_KEY"
//! password-env = "LINK_API_SECRET"
//! ca-file = "ca.pem"                              # optional extra CA for the REST endpoint
//! timeout = "10s"
//! retries = 3
//! prefix = ""                                     # cluster.link.prefix, for Kafka-only mode
//!
//! [defaults]
//! wait = "5m"          # default for --wait
//! poll-interval = "2s"
//!
//! [cutover]                     # how a cutover paces and bounds its phases
//! journal-dir = "cutover-journal"
//! sync-interval = "30s"         # only when the link cannot report consumer.offset.sync.ms
//! sync-timeout-factor = 3       # await sync gives up after 3 sync intervals (1 to 20)
//! stop-timeout = "2m"
//! mirror-timeout = "5m"
//! restart-timeout = "2m"
//! restart-window = "1m"
//! stable-reads = 2              # 2 to 10
//!
//! [hooks.stop]                  # the default hook of a kind: stop, exclude, restart, rollback
//! exec = ["kubectl", "scale", "deploy/{group}", "--replicas=0"]
//! timeout = "60s"
//! retries = 2
//!
//! [hooks]
//! exclude = "link"              # the default: the built-in link action
//!
//! [groups."orders app".hooks.restart]   # replaces [hooks.restart] for this group only
//! http = { url = "https://deploy.example/groups/{group}/start", headers-env = { Authorization = "DEPLOY_TOKEN" } }
//! ```
//!
//! - `[origin]` and `[destination]` hold librdkafka properties. Quoted (`"bootstrap.servers"`)
//!   and unquoted (`bootstrap.servers`, which TOML reads as nested tables) keys are the same
//!   key. Strings, integers and booleans are accepted; a property whose key ends in `-env`
//!   takes its value from the environment variable it names. `properties-file` imports a Java
//!   client `.properties` file (see below); the section's own keys override the file's.
//! - `[link]`: only `name` is required. Without `rest-url` cutover runs Kafka-only: mirror topics
//!   are inferred from names (with `prefix`) and mirror status is unknown. `rest-url` is the
//!   base of Confluent's REST v3 API: `/kafka/v3` on Confluent Server (a standalone REST Proxy's
//!   `/v3` is accepted with a warning). `retries` is at most 10; the first retry waits 500 ms,
//!   doubling after.
//! - Durations are a whole number and a unit: `1500ms`, `10s`, `5m`, `1h`; at most 876000h
//!   (100 years).
//! - The file, and a `.properties` file it imports, are at most 16 MiB: a longer one (a wrong
//!   path, a device) is refused without being read whole.
//! - `properties-file` and `ca-file` are relative to the TOML file's folder (to the working
//!   directory when they come from the environment). Paths inside librdkafka properties are
//!   passed unchanged, so they are relative to the working directory.
//! - `[cutover]`: `journal-dir` is relative to the TOML file's folder when set there (the
//!   default and `CUTOVER_JOURNAL_DIR` are relative to the working directory); every duration
//!   is more than zero.
//! - `[hooks.<kind>]` and `[groups."<group id>".hooks.<kind>]`: exactly one of `exec` (an argv
//!   array), `shell` (a script), `http` (a table: `method`, `url`, `headers`, `headers-env`,
//!   `body`, `expect-status`, `ca-file`) or, for exclude only, `builtin = "link"`; plus
//!   `timeout`, `retries` (0 to 10), `env` and `env-from` (exec and shell only). A group's hook
//!   replaces the default of its kind entirely. Placeholders (`{group}`, `{cluster}`,
//!   `{topics}`, `{run_id}`, `{link}`) are checked here; an unknown one is a problem, and so is
//!   a placeholder where a value would be read as code or choose what runs: an exec program,
//!   the script of `sh -c`, shell text, a URL's host. `hooks/template.rs` says how values are
//!   substituted and `docs/configuration.md` (Hooks) is the reference.
//! - Any other key is a problem (typo protection), named with its section.
//!
//! Without `--config`, `./cutover.toml` is read when it exists; otherwise the environment alone
//! configures cutover, and `eval "$(tests/lab/lab env)"` is enough to point it at the lab.
//!
//! # Environment
//!
//! Variables override the file. An empty variable counts as unset.
//!
//! | variable | sets |
//! | --- | --- |
//! | `CUTOVER_ORIGIN_BOOTSTRAP`, `CUTOVER_DESTINATION_BOOTSTRAP` | `bootstrap.servers` |
//! | `CUTOVER_ORIGIN_PROPERTIES_FILE`, `CUTOVER_DESTINATION_PROPERTIES_FILE` | `properties-file` |
//! | `CUTOVER_ORIGIN_<PROP>`, `CUTOVER_DESTINATION_<PROP>` | the librdkafka property `<PROP>` lower-cased with `_` as `.` (`CUTOVER_ORIGIN_SASL_USERNAME` is `sasl.username`) |
//! | `CUTOVER_LINK_NAME`, `CUTOVER_LINK_REST_URL`, `CUTOVER_LINK_CA_FILE`, `CUTOVER_LINK_TIMEOUT`, `CUTOVER_LINK_RETRIES`, `CUTOVER_LINK_PREFIX` | `[link]` `name`, `rest-url`, `ca-file`, `timeout`, `retries`, `prefix` |
//! | `CUTOVER_DESTINATION_CLUSTER_ID` | `[link]` `cluster-id` |
//! | `CUTOVER_REVERSE_LINK_<KEY>` (every `CUTOVER_LINK_<KEY>` above) | the same key of `[reverse-link]`, the link from the destination back to the origin (`--to origin`); any of them makes one |
//! | `CUTOVER_ORIGIN_CLUSTER_ID` | `[reverse-link]` `cluster-id` (the reverse link's mirrors are on the origin) |
//! | `CUTOVER_LINK_USERNAME`, `CUTOVER_LINK_PASSWORD` | the REST credentials themselves (instead of `username-env`, `password-env`) |
//! | `CUTOVER_WAIT`, `CUTOVER_POLL_INTERVAL` | `[defaults]` `wait`, `poll-interval` |
//! | `CUTOVER_JOURNAL_DIR` | `[cutover]` `journal-dir` |
//!
//! `CUTOVER_LINK_ADMIN_URL`, `CUTOVER_LAB_*`, `CUTOVER_CONFIG` and `CUTOVER_LOG` are not
//! configuration and are ignored here.
//!
//! # Java `.properties` files
//!
//! Read as Java does (`properties_file.rs`), then translated to librdkafka
//! (`java_properties.rs`, whose module doc lists the translations). JKS stores are a problem
//! (librdkafka cannot read them) unless the section sets the librdkafka replacement itself;
//! Java-only keys are dropped with a warning naming the key; everything else passes through.
//!
//! # Files
//!
//! | file | concept |
//! | --- | --- |
//! | `load.rs` | [`Config`]: the file and the environment, section by section |
//! | `cluster.rs` | `[origin]`, `[destination]`: librdkafka properties, their redaction |
//! | `properties_file.rs` | reading a Java `.properties` file |
//! | `java_properties.rs` | Java client properties → librdkafka properties |
//! | `link.rs` | `[link]` and the REST options |
//! | `settings.rs` | `[defaults]` and `[cutover]` |
//! | `hooks.rs` | `[hooks]`, `[groups."<id>".hooks]` → the hook specs of `crate::hooks` |
//! | `http_hook.rs` | an HTTP hook's table |
//! | `value.rs` | one raw setting and where it came from |
//! | `problems.rs` | collecting problems, unknown keys |

mod cluster;
mod hooks;
mod http_hook;
mod java_properties;
mod journal;
mod link;
mod load;
mod problems;
mod properties_file;
#[cfg(test)]
mod properties_proptests;
#[cfg(test)]
mod proptests;
mod settings;
#[cfg(test)]
mod testing;
mod value;

pub use cluster::{is_secret_property, ClusterConfig};
pub use hooks::stage_hook;
pub use journal::{work_topic, JournalStore, DEFAULT_JOURNAL_TOPIC};
pub use link::{Credentials, LinkConfig, RestConfig};
pub(crate) use link::{DEFAULT_REST_RETRIES, DEFAULT_REST_TIMEOUT, REST_BACKOFF};
pub use load::{process_env, Config, Env, DEFAULT_FILE};
pub use settings::{CutoverSettings, Defaults, DEFAULT_JOURNAL_DIR};
pub(crate) use settings::{DEFAULT_POLL_INTERVAL, DEFAULT_WAIT};
