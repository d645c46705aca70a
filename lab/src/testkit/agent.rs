//! A cutover agent run as a process by a test or a benchmark that needs several at once (each
//! a "host": its own configuration and journal folder), killed when dropped so that a failed
//! test leaves none behind.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::Sim;

/// One agent's process; its stderr goes to a log file, its stdout is kept for its report.
pub struct Agent {
    child: Option<Child>,
    /// Reads the agent's stdout as it comes: a report bigger than the pipe's buffer would
    /// otherwise block the agent's exit.
    stdout: Option<std::thread::JoinHandle<String>>,
    log: PathBuf,
}

impl Agent {
    /// Starts `bin --config config ARGS --format json` against the lab and `sim`.
    pub fn start(bin: &Path, config: &Path, sim: &Sim, args: &[&str], log: &Path) -> Agent {
        let mut child = Command::new(bin)
            .arg("--config")
            .arg(config)
            .args(args)
            .args(["--format", "json"])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(sim.cutover_env())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(log).expect("create the agent's log"))
            .spawn()
            .expect("start cutover");
        let mut stdout = child.stdout.take().expect("the agent's stdout");
        let reader = std::thread::spawn(move || {
            let mut out = String::new();
            let _ = stdout.read_to_string(&mut out);
            out
        });
        Agent {
            child: Some(child),
            stdout: Some(reader),
            log: log.to_path_buf(),
        }
    }

    /// SIGKILLs the agent and reaps it.
    pub fn kill(&mut self) {
        if let Some(child) = &mut self.child {
            child.kill().expect("SIGKILL");
            child.wait().expect("reap");
        }
        self.child = None;
    }

    /// What the agent logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits for the agent's exit (panicking with its log after `limit`): its exit code and
    /// stdout.
    pub fn finish(mut self, limit: Duration) -> (i32, String) {
        let mut child = self.child.take().expect("running");
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                let out = self
                    .stdout
                    .take()
                    .map(|r| r.join().expect("read stdout"))
                    .unwrap_or_default();
                return (status.code().unwrap_or(-1), out);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("an agent did not finish in {limit:?}: {}", self.log());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// [`Agent::finish`], its stdout read as JSON (panicking with its log when it is not).
    pub fn finish_json(self, limit: Duration) -> (i32, serde_json::Value) {
        let log = self.log.clone();
        let (code, out) = self.finish(limit);
        let doc = serde_json::from_str(&out).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}): {out}\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            )
        });
        (code, doc)
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
