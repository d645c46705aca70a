//! The same lab tests again (verify and audit, `cutover group`, watch, promote and a runbook,
//! journals shared in Kafka),
//! against the secure lab (`tests/lab/lab up --secure`): SASL_SSL
//! listeners (SCRAM-SHA-512 on the origin, OAUTHBEARER on the destination), client
//! certificates, the StandardAuthorizer with only the ACLs `docs/security.md` lists for the
//! agent's principal, and the link emulator on HTTPS with Basic auth and client certificates.
//!
//! The modules are the integration binary's own files (`#[path]`), not copies: the testkit
//! sees that this binary is named `secure` and points the agent at the secure listeners
//! (`testkit::Lab::agent_env`); the fixtures keep the lab's PLAINTEXT listener, whose principal
//! is a super user. `acls` holds what only the secure lab can show.

#[path = "../integration/cutover.rs"]
mod cutover;
#[path = "../integration/migration.rs"]
mod migration;
#[path = "../integration/shared_journal.rs"]
mod shared_journal;
#[path = "../integration/spread.rs"]
mod spread;
#[path = "../integration/verify.rs"]
mod verify;
// The world serves more tests in the integration binary than the ones compiled here.
#[allow(dead_code)]
#[path = "../integration/world.rs"]
mod world;

mod acls;
