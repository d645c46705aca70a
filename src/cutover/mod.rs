//! One group's cutover: the pure phase machine (`machine`) and the async driver that performs
//! its effects against the clusters, the link, the hooks and the journal (`driver`), with the
//! other groups it watches for the link's sync ticks (`witness`).

pub mod by_time;
pub mod driver;
pub mod dry_run;
pub mod looks;
pub mod machine;
mod observe;
pub mod witness;

use crate::model::Role;

/// `cutover group GROUP` as the hints print it, with `--to origin` when the group moves back
/// to the origin: that journal lives apart, and only that command line continues it.
pub fn group_command(group: &str, restart_on: Role) -> String {
    match restart_on {
        Role::Destination => format!("cutover group {group}"),
        Role::Origin => format!("cutover group {group} --to origin"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_that_continues_a_move_back_names_its_direction() {
        assert_eq!(
            group_command("billing", Role::Destination),
            "cutover group billing"
        );
        assert_eq!(
            group_command("billing", Role::Origin),
            "cutover group billing --to origin"
        );
    }
}
