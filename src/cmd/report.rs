//! `cutover report JOURNAL|FOLDER|GROUP…`: a cutover's audit report, from its journal alone.
//!
//! Reads only the journals, never a cluster, so it works anywhere the journal files are: as a
//! terminal table, JSON, Markdown or one self-contained HTML page (several journals: with
//! downtime percentiles). Each argument is a journal file, a folder (every `*.jsonl` in it:
//! every run of every group kept there), or a group id, whose current journal
//! (`<journal-dir>/<group>.jsonl`: its latest run that was not refused at the plan) is looked up
//! in the configured journal folder.
//!
//! `--verify` checks each journal's hash chain instead (`journal::chain`): intact, or the line
//! where it was altered, reordered or cut; exit 0 when every chain holds, 1 otherwise (a
//! verdict, like `cutover verify`'s). A folder then means every journal under it, the
//! watch, promotion and runbook journals in its subfolders too.

use std::path::{Path, PathBuf};

use crate::cli::Format;
use crate::config::{process_env, Config};
use crate::error::{exit, Error, Result};
use crate::journal;
use crate::model::GroupId;
use crate::report;
use crate::report::runbook::RunbookReport;

mod shared;

pub(super) async fn run(
    args: &[PathBuf],
    config: Option<&Path>,
    format: Format,
    verify: bool,
) -> Result<i32> {
    // With a shared journal store, a group id's journals are read from it (into a scratch
    // folder removed at the end) instead of the local folder.
    let shared = shared::fetch(args, config).await?;
    let args: Vec<PathBuf> = args.iter().flat_map(|a| shared.files_for(a)).collect();
    let args = args.as_slice();
    if verify {
        return verify_chains(args, config, format);
    }
    let mut files = Vec::new();
    for arg in args {
        files.extend(resolve(arg, config, false)?);
    }
    if let Some(text) = runbook(&files, format)? {
        super::output::print_text(&text)?;
        return Ok(exit::OK);
    }
    let reports = files
        .iter()
        .map(|j| report::cutover::load(j))
        .collect::<Result<Vec<_>>>()?;
    let text = match format {
        Format::Table => report::cutover::table(&reports),
        Format::Markdown => report::cutover::markdown(&reports),
        Format::Html => report::cutover::html(&reports),
        Format::Json => report::cutover::json_document(&reports).to_string(),
    };
    super::output::print_text(&text)?;
    Ok(exit::OK)
}

/// `--verify`: each journal's chain, and exit 1 when one does not hold.
fn verify_chains(args: &[PathBuf], config: Option<&Path>, format: Format) -> Result<i32> {
    if format == Format::Html {
        return Err(Error::Usage {
            message: "--format html is not for `cutover report --verify`".into(),
            hint: "use --format table, json or markdown with --verify; without it, `cutover report JOURNAL --format html` renders a cutover's evidence page".into(),
        });
    }
    let mut files = Vec::new();
    for arg in args {
        files.extend(resolve(arg, config, true)?);
    }
    let checks = files
        .iter()
        .map(|f| journal::chain::verify(f))
        .collect::<Result<Vec<_>>>()?;
    let r = report::chain::ChainReport::new(checks);
    let text = match format {
        Format::Markdown => report::chain::chain_markdown(&r),
        Format::Json => serde_json::to_string(&r)
            .map_err(|e| Error::Internal(format!("a report did not serialise: {e}")))?,
        Format::Table | Format::Html => report::chain::chain_table(&r),
    };
    super::output::print_text(&text)?;
    Ok(if r.holds { exit::OK } else { exit::UNSAFE })
}

/// The report of a runbook's journal (`<journal-dir>/runbook/<name>.jsonl`), given alone;
/// `None` when the files are cutover journals.
fn runbook(files: &[PathBuf], format: Format) -> Result<Option<String>> {
    let mut backs = Vec::new();
    for f in files {
        backs.push(journal::read(f)?);
    }
    let books = backs
        .iter()
        .filter(|b| RunbookReport::is_runbook_journal(&b.entries))
        .count();
    match (books, files) {
        (0, _) => Ok(None),
        (1, [path]) => {
            let r = RunbookReport::from_journal(&backs[0].entries, &path.display().to_string());
            Ok(Some(match format {
                Format::Table => report::runbook::runbook_table(&r),
                Format::Markdown => report::runbook::runbook_markdown(&r),
                Format::Html => report::runbook::runbook_html(&r),
                Format::Json => serde_json::to_string(&r)
                    .map_err(|e| Error::Internal(format!("a report did not serialise: {e}")))?,
            }))
        }
        _ => Err(Error::Usage {
            message: "a runbook's journal is reported alone, not with other journals".into(),
            hint: "run `cutover report` on the runbook's journal by itself: it lists every group with its outcome, downtime and journal".into(),
        }),
    }
}

/// The journal files under `dir`, sorted; `depth` levels of subfolders too.
fn journals_in(dir: &Path, depth: u32) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let listing = std::fs::read_dir(dir)
        .map_err(|e| Error::Journal(format!("cannot read the folder {}: {e}", dir.display())))?;
    for path in listing.filter_map(|e| e.ok().map(|e| e.path())) {
        if path.is_dir() && depth > 0 {
            files.extend(journals_in(&path, depth - 1)?);
        } else if path.is_file() && path.extension().is_some_and(|x| x == "jsonl") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// The journal files an argument names; `deep`: a folder's subfolders too (the watch,
/// promotion and runbook journals).
fn resolve(arg: &Path, config: Option<&Path>, deep: bool) -> Result<Vec<PathBuf>> {
    if arg.is_dir() {
        let files = journals_in(arg, if deep { 2 } else { 0 })?;
        if files.is_empty() {
            return Err(Error::Usage {
                message: format!("the folder {} holds no journal (*.jsonl)", arg.display()),
                hint: "give the journal folder ([cutover] journal-dir, CUTOVER_JOURNAL_DIR), a journal file, or a group id".into(),
            });
        }
        return Ok(files);
    }
    if arg.is_file() {
        return Ok(vec![arg.to_path_buf()]);
    }
    let Some(group) = group_id_arg(arg) else {
        return Err(Error::Usage {
            message: format!("no journal at {}", arg.display()),
            hint: "journals are in the journal folder ([cutover] journal-dir, CUTOVER_JOURNAL_DIR; `cutover-journal` by default), one `<group>.jsonl` per group; `cutover report GROUP` finds it".into(),
        });
    };
    // A group id: its current journal in the configured folder, and its journal of a move
    // back to the origin (`--to origin`), whichever exist.
    let dir = journal_dir(config);
    let candidates = [
        journal::path_for(&dir, &group),
        journal::path_for(&dir.join(crate::reverse::JOURNAL_SUBDIR), &group),
    ];
    let found: Vec<PathBuf> = candidates.iter().filter(|p| p.is_file()).cloned().collect();
    if !found.is_empty() {
        return Ok(found);
    }
    Err(Error::Usage {
        message: format!(
            "no journal for group {group} in {} (looked for {} and {})",
            dir.display(),
            candidates[0].display(),
            candidates[1].display()
        ),
        hint: "check the group id, and the journal folder ([cutover] journal-dir in --config, or CUTOVER_JOURNAL_DIR); or give the journal file itself".into(),
    })
}

/// The group id an argument names: neither an existing file or folder nor anything that looks
/// like a path (a separator, a `.jsonl` name).
fn group_id_arg(arg: &Path) -> Option<GroupId> {
    let text = arg.to_string_lossy();
    let looks_like_a_path = text.contains(std::path::MAIN_SEPARATOR) || text.ends_with(".jsonl");
    (!arg.exists() && !looks_like_a_path).then(|| GroupId::new(text.as_ref()))
}

/// The configured journal folder: from the configuration when it loads, else from
/// `CUTOVER_JOURNAL_DIR`, else the default. A report needs no cluster settings.
fn journal_dir(config: Option<&Path>) -> PathBuf {
    let env = process_env();
    match Config::load(config, &env) {
        Ok(c) => c.cutover.journal_dir,
        Err(_) => env
            .get("CUTOVER_JOURNAL_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(crate::config::DEFAULT_JOURNAL_DIR)),
    }
}
