//! The cluster link: its filter language (shared by the emulator, the simulator and the agent).

pub mod filters;
