//! Progress on stderr for every wait longer than a second.

use std::time::Duration;

/// Progress on stderr: a spinner on a terminal, plain lines otherwise (logs, CI).
pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
    what: String,
    shown: bool,
}

impl Progress {
    pub fn start(shown: bool, what: &str) -> Progress {
        let bar = (shown && std::io::IsTerminal::is_terminal(&std::io::stderr())).then(|| {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.enable_steady_tick(Duration::from_millis(120));
            bar.set_message(what.to_string());
            bar
        });
        if shown && bar.is_none() {
            eprintln!("cutover: {what}");
        }
        Progress {
            bar,
            what: what.to_string(),
            shown,
        }
    }

    pub fn update(&self, message: &str) {
        match &self.bar {
            Some(bar) => bar.set_message(format!("{}: {message}", self.what)),
            None if self.shown => eprintln!("cutover: {}: {message}", self.what),
            None => {}
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
