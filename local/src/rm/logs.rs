//! A job's log: one JSON line per terraform output line, appended as it arrives
//! (`<data>/jobs/<id>/logs.jsonl`), so a reader sees progress while the job runs and nothing
//! is lost on a restart. Also keeps the last lines in memory to explain a failure.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::sync::Mutex;

use super::model::LogEntry;

/// Lines kept to build `failureDetails.message`.
const TAIL_LINES: usize = 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Info,
    Error,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Info => "INFO",
            Level::Error => "ERROR",
        }
    }
}

struct Tail {
    errors: VecDeque<String>,
    all: VecDeque<String>,
}

/// Appends log entries to a job's log file.
pub struct LogWriter {
    file: Mutex<File>,
    tail: Mutex<Tail>,
}

impl LogWriter {
    pub fn open(path: &Path) -> std::io::Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(Self {
            file: Mutex::new(file),
            tail: Mutex::new(Tail {
                errors: VecDeque::new(),
                all: VecDeque::new(),
            }),
        })
    }

    /// Appends one line as a TERRAFORM_CONSOLE entry stamped now.
    pub fn line(&self, level: Level, message: &str) {
        let message = message.trim_end_matches(['\r', '\n']);
        let entry = LogEntry {
            kind: "TERRAFORM_CONSOLE".to_owned(),
            level: level.as_str().to_owned(),
            timestamp: crate::clock::now(),
            message: message.to_owned(),
        };
        {
            let mut tail = self.tail.lock().unwrap_or_else(|e| e.into_inner());
            push_bounded(&mut tail.all, message);
            if level == Level::Error {
                push_bounded(&mut tail.errors, message);
            }
        }
        let Ok(mut line) = serde_json::to_vec(&entry) else {
            return;
        };
        line.push(b'\n');
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = file.write_all(&line) {
            tracing::warn!(error = %e, "failed to append to a job log");
        }
    }

    /// Forgets the remembered lines: a failure is explained by the failing command only.
    pub fn begin_step(&self) {
        let mut tail = self.tail.lock().unwrap_or_else(|e| e.into_inner());
        tail.errors.clear();
        tail.all.clear();
    }

    /// The last error lines of the current step (or its last lines when it wrote no errors),
    /// starting at the first `Error:` line when there is one, so warnings printed before the
    /// error (such as an unreadable CLI configuration) do not bury it.
    pub fn failure_summary(&self) -> String {
        let tail = self.tail.lock().unwrap_or_else(|e| e.into_inner());
        let lines: Vec<&str> = if tail.errors.iter().any(|l| !l.trim().is_empty()) {
            tail.errors.iter().map(String::as_str).collect()
        } else {
            tail.all.iter().map(String::as_str).collect()
        };
        let start = lines
            .iter()
            .position(|l| l.trim_start_matches(['│', '╷', ' ']).starts_with("Error:"))
            .unwrap_or(0);
        lines[start..].join("\n").trim().to_owned()
    }
}

fn push_bounded(q: &mut VecDeque<String>, line: &str) {
    if q.len() == TAIL_LINES {
        q.pop_front();
    }
    q.push_back(line.to_owned());
}

/// Reads every entry of a log file (none when it does not exist); skips a torn last line.
pub fn read_all(path: &Path) -> Vec<LogEntry> {
    let Ok(file) = File::open(path) else {
        return Vec::new();
    };
    BufReader::new(file)
        .lines()
        .map_while(Result::ok)
        .filter_map(|l| serde_json::from_str(&l).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_persist_and_failures_prefer_error_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("logs.jsonl");
        let log = LogWriter::open(&path).unwrap();
        log.line(Level::Info, "Initializing...\n");
        log.line(Level::Error, "Error: boom");
        log.line(Level::Info, "done");
        log.line(Level::Error, "Warning: unrelated");
        log.line(Level::Error, "Error: the real problem");
        log.line(Level::Error, "  on main.tf line 1");
        let entries = read_all(&path);
        assert_eq!(entries.len(), 6);
        assert_eq!(entries[0].message, "Initializing...");
        assert_eq!(entries[1].level, "ERROR");
        assert_eq!(entries[0].kind, "TERRAFORM_CONSOLE");
        assert_eq!(
            log.failure_summary(),
            "Error: boom\nWarning: unrelated\nError: the real problem\n  on main.tf line 1"
        );
        log.begin_step();
        log.line(Level::Error, "Warning: unrelated");
        log.line(Level::Error, "Error: only this");
        assert_eq!(log.failure_summary(), "Error: only this");
        log.begin_step();
        log.line(Level::Info, "no errors at all");
        assert_eq!(log.failure_summary(), "no errors at all");
    }
}
