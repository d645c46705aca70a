//! Configuration: `cutover.toml` and `CUTOVER_*` environment variables. (Being written.)
