//! The lab package's integration tests, in one binary: the link emulator between the lab's two
//! real Kafka clusters (`linksim`), the JSON it serves checked against Confluent's published
//! schemas (`rest_schema`), and the test consumer application (`testapp`).
//!
//! The fixtures are the lab crate's [`cutover_lab::testkit`], shared with cutover's own
//! integration tests. The lab is started once for this binary (`testkit::lab()`).

mod linksim;
mod rest_schema;
mod testapp;
