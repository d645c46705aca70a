//! `start` and `stop`: the app's instances as detached processes, tracked by pidfiles. A pid
//! is only ever signalled while `/proc/PID/cmdline` shows the `run` started for its pidfile.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use crate::{AppArgs, Instance};

pub(crate) fn ready_marker(pidfile: &Path) -> PathBuf {
    let mut name = pidfile.as_os_str().to_owned();
    name.push(".ready");
    PathBuf::from(name)
}

// ---------------------------------------------------------------------------------------------
// start

pub(crate) fn start(app: &AppArgs, instances: &[Instance], ready_timeout: Duration) -> ExitCode {
    match try_start(app, instances, ready_timeout) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("cutover-testapp: error: {e}");
            ExitCode::from(1)
        }
    }
}

/// One child `start` spawned, until it is ready.
struct Started {
    instance: Instance,
    child: Child,
    pid: u32,
    ready: bool,
}

fn try_start(
    app: &AppArgs,
    instances: &[Instance],
    ready_timeout: Duration,
) -> io::Result<ExitCode> {
    let mut absolute = Vec::with_capacity(instances.len());
    for instance in instances {
        let pidfile = std::path::absolute(&instance.pidfile)?;
        if let Ok(pid) = read_pidfile(&pidfile) {
            if let Liveness::Ours = liveness(pid, &pidfile) {
                eprintln!(
                    "cutover-testapp: error: already running as pid {pid} (pidfile {}); stop it first",
                    pidfile.display()
                );
                return Ok(ExitCode::from(1));
            }
        }
        // A marker left by an earlier run must not make this start look ready.
        remove_if_present(&ready_marker(&pidfile))?;
        absolute.push(Instance {
            pidfile,
            ..instance.clone()
        });
    }

    let mut started: Vec<Started> = Vec::with_capacity(absolute.len());
    for instance in absolute {
        match spawn(app, &instance) {
            Ok(child) => {
                let pid = child.id();
                started.push(Started {
                    instance,
                    child,
                    pid,
                    ready: false,
                });
            }
            Err(e) => {
                give_up(&mut started);
                return Err(e);
            }
        }
    }

    let began = Instant::now();
    let deadline = began + ready_timeout;
    let failure = loop {
        for s in started.iter_mut().filter(|s| !s.ready) {
            s.ready = ready_marker(&s.instance.pidfile).exists();
        }
        if started.iter().all(|s| s.ready) {
            let pids: Vec<String> = started.iter().map(|s| s.pid.to_string()).collect();
            eprintln!(
                "cutover-testapp: started pid {} (group {} on {}), ready in {:.1}s",
                pids.join(", "),
                app.group,
                app.bootstrap,
                began.elapsed().as_secs_f64()
            );
            println!("{}", pids.join("\n"));
            return Ok(ExitCode::SUCCESS);
        }
        let mut exited = None;
        for s in &mut started {
            if let Some(status) = s.child.try_wait()? {
                exited = Some(format!(
                    "pid {} exited ({status}) before every instance of group {} on {} got partitions",
                    s.pid, app.group, app.bootstrap
                ));
                break;
            }
        }
        if let Some(why) = exited {
            break why;
        }
        if Instant::now() >= deadline {
            let late: Vec<String> = started
                .iter()
                .filter(|s| !s.ready)
                .map(|s| s.pid.to_string())
                .collect();
            break format!(
                "pid {} got no partitions of group {} on {} within {:?}; stopped every instance",
                late.join(", "),
                app.group,
                app.bootstrap,
                ready_timeout
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    eprintln!("cutover-testapp: error: {failure}");
    give_up(&mut started);
    let mut logs: Vec<&PathBuf> = started
        .iter()
        .filter_map(|s| s.instance.log.as_ref())
        .collect();
    logs.dedup();
    if logs.is_empty() {
        eprintln!("(no --log given: the children's output went to /dev/null)");
    }
    for path in logs {
        eprintln!(
            "--- last lines of {}\n{}",
            path.display(),
            log_tail(path, 20)
        );
    }
    Ok(ExitCode::from(1))
}

/// Starts one instance's `run` and writes its pidfile.
fn spawn(app: &AppArgs, instance: &Instance) -> io::Result<Child> {
    let (stdout, stderr) = match &instance.log {
        Some(path) => {
            let f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| with_path(e, "cannot open the log", path))?;
            (Stdio::from(f.try_clone()?), Stdio::from(f))
        }
        None => (Stdio::null(), Stdio::null()),
    };
    let mut command = Command::new(std::env::current_exe()?);
    command
        .arg("run")
        .args(app.to_argv())
        .args(instance.to_argv()?)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr);
    // Its own process group keeps the child out of the caller's: a ^C or a kill of the
    // group meant for the hook that started it does not reach it.
    command.process_group(0);
    let mut child = command.spawn()?;
    if let Err(e) = write_atomically(&instance.pidfile, &format!("{}\n", child.id())) {
        let _ = child.kill();
        let _ = child.wait();
        return Err(e);
    }
    Ok(child)
}

/// Undoes a failed start: every child is stopped as `stop` does (SIGTERM, then SIGKILL
/// after [`STOP_ON_FAILURE`]). A ready one commits what it processed; one still joining
/// leaves the group. Killing a joiner instead would leave its member in the group until its
/// session timeout, holding every rebalance of the group meanwhile: the next start, a retry
/// of this one, would then wait for it in turn. Their pidfiles and markers are removed.
fn give_up(started: &mut [Started]) {
    let children: Vec<(i32, PathBuf)> = started
        .iter()
        .map(|s| (s.pid as i32, s.instance.pidfile.clone()))
        .collect();
    let _ = terminate(&children, STOP_ON_FAILURE);
    for s in started.iter_mut() {
        let _ = s.child.wait();
        let _ = remove_if_present(&s.instance.pidfile);
        let _ = remove_if_present(&ready_marker(&s.instance.pidfile));
    }
}

/// How long a failed `start` waits for its ready instances to stop cleanly.
const STOP_ON_FAILURE: Duration = Duration::from_secs(30);

/// The last `lines` lines of a file (read from at most its last 16 KiB).
fn log_tail(path: &Path, lines: usize) -> String {
    let read = || -> io::Result<String> {
        let mut f = File::open(path)?;
        let len = f.metadata()?.len();
        f.seek(SeekFrom::Start(len.saturating_sub(16 * 1024)))?;
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    };
    match read() {
        Ok(text) => {
            let all: Vec<&str> = text.lines().collect();
            all[all.len().saturating_sub(lines)..].join("\n")
        }
        Err(e) => format!("(cannot read it: {e})"),
    }
}

// ---------------------------------------------------------------------------------------------
// stop

pub(crate) fn stop(pidfiles: &[PathBuf], timeout: Duration) -> ExitCode {
    let mut failed = false;
    // (pid, pidfile) of every live app to stop, and the pidfiles to remove afterwards.
    let mut running: Vec<(i32, PathBuf)> = Vec::new();
    let mut remove: Vec<PathBuf> = Vec::new();
    for given in pidfiles {
        let pidfile = match std::path::absolute(given) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("cutover-testapp: error: {}: {e}", given.display());
                failed = true;
                continue;
            }
        };
        match read_pidfile(&pidfile) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => eprintln!(
                "cutover-testapp: no pidfile {}: nothing to stop",
                pidfile.display()
            ),
            Err(e) => {
                // Not ours to guess: leave the file for a person to look at.
                eprintln!("cutover-testapp: error: {e}");
                failed = true;
                continue;
            }
            Ok(pid) => match liveness(pid, &pidfile) {
                Liveness::Gone => {
                    eprintln!("cutover-testapp: pid {pid} is not running: nothing to stop")
                }
                Liveness::Other => eprintln!(
                    "cutover-testapp: pid {pid} is not the app of {} (the pid was reused): nothing to stop",
                    pidfile.display()
                ),
                Liveness::Ours => running.push((pid, pidfile.clone())),
            },
        }
        remove.push(pidfile);
    }
    if !running.is_empty() && !terminate(&running, timeout) {
        failed = true;
    }
    for pidfile in remove {
        for path in [ready_marker(&pidfile), pidfile] {
            if let Err(e) = remove_if_present(&path) {
                eprintln!(
                    "cutover-testapp: error: cannot remove {}: {e}",
                    path.display()
                );
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// Sends SIGTERM to every app at once, as an orchestrator stops a deployment, and waits
/// until each has exited; SIGKILL for those still there at the timeout. True when every one
/// exited on its own.
fn terminate(apps: &[(i32, PathBuf)], timeout: Duration) -> bool {
    let started = Instant::now();
    for (pid, _) in apps {
        send_signal(*pid, libc::SIGTERM);
    }
    let mut clean = true;
    let deadline = started + timeout;
    for (pid, pidfile) in apps {
        if wait_gone(*pid, pidfile, deadline) {
            eprintln!(
                "cutover-testapp: pid {pid} stopped in {:.1}s",
                started.elapsed().as_secs_f64()
            );
            continue;
        }
        clean = false;
        send_signal(*pid, libc::SIGKILL);
        let killed = wait_gone(*pid, pidfile, Instant::now() + Duration::from_secs(5));
        eprintln!(
            "cutover-testapp: error: pid {pid} did not exit within {timeout:?} of SIGTERM; {}",
            if killed {
                "killed it"
            } else {
                "it survives SIGKILL"
            }
        );
    }
    clean
}

/// Sends `signal` to `pid`, which was just checked to be our app. A failure (the process
/// has exited meanwhile) shows in the wait that follows.
fn send_signal(pid: i32, signal: libc::c_int) {
    // SAFETY: kill(2) takes two integers and touches no memory of this process.
    unsafe { libc::kill(pid, signal) };
}

/// Polls until the process is gone; false if it is still there at the deadline.
fn wait_gone(pid: i32, pidfile: &Path, deadline: Instant) -> bool {
    loop {
        if !matches!(liveness(pid, pidfile), Liveness::Ours) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
// ---------------------------------------------------------------------------------------------
// pids

fn read_pidfile(pidfile: &Path) -> io::Result<i32> {
    let text = fs::read_to_string(pidfile)?;
    text.trim()
        .parse::<i32>()
        .ok()
        .filter(|pid| *pid > 0)
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{} does not hold a pid: {:?}",
                    pidfile.display(),
                    text.trim()
                ),
            )
        })
}

enum Liveness {
    /// A `cutover-testapp run` for this pidfile.
    Ours,
    /// Another live process has that pid now.
    Other,
    /// No such process, or a zombie nobody has reaped yet (an orphan's parent may be an init
    /// that never reaps).
    Gone,
}

fn liveness(pid: i32, pidfile: &Path) -> Liveness {
    let proc_dir = PathBuf::from(format!("/proc/{pid}"));
    let Ok(stat) = fs::read_to_string(proc_dir.join("stat")) else {
        return Liveness::Gone;
    };
    // `PID (COMM) STATE …`: COMM may hold spaces and parentheses, so read after the last ')'.
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.trim_start().chars().next());
    if matches!(state, Some('Z' | 'X') | None) {
        return Liveness::Gone;
    }
    let Ok(cmdline) = fs::read(proc_dir.join("cmdline")) else {
        return Liveness::Gone;
    };
    let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
    let named = args
        .windows(2)
        .filter(|w| w[0] == b"--pidfile")
        .map(|w| PathBuf::from(String::from_utf8_lossy(w[1]).into_owned()))
        .map(|p| match fs::read_link(proc_dir.join("cwd")) {
            Ok(cwd) if p.is_relative() => cwd.join(p),
            _ => p,
        })
        .any(|p| p == pidfile);
    let is_run = args.iter().any(|a| *a == b"run");
    if named && is_run {
        Liveness::Ours
    } else {
        Liveness::Other
    }
}

// ---------------------------------------------------------------------------------------------
// files

fn write_atomically(path: &Path, text: &str) -> io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut f = File::create(&tmp).map_err(|e| with_path(e, "cannot create", &tmp))?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    fs::rename(&tmp, path).map_err(|e| with_path(e, "cannot rename to", path))
}

fn remove_if_present(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(with_path(e, "cannot remove", path)),
        _ => Ok(()),
    }
}

fn with_path(e: io::Error, what: &str, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{what} {}: {e}", path.display()))
}
