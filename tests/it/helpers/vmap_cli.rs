//! The `vmap` binary as a child process: [`run_vmap`] for a command run to the end,
//! [`vmap_command`] for one the test watches (or kills) while it runs.

use std::ffi::OsStr;
use std::process::{Command, ExitStatus, Stdio};

/// The binary cargo built for these tests.
pub const VMAP: &str = env!("CARGO_BIN_EXE_vmap");

/// `vmap ARGS` with none of the caller's vmap settings (`DATABASE_URL`, `VMAP_*`) in its
/// environment, logging warnings only (`RUST_LOG` may be set again), output piped.
pub fn vmap_command<I, S>(args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut command = Command::new(VMAP);
    command.args(args);
    for (name, _) in std::env::vars_os() {
        if name == "DATABASE_URL" || name.to_string_lossy().starts_with("VMAP_") {
            command.env_remove(name);
        }
    }
    command
        .env("RUST_LOG", "warn")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// How a `vmap` command ended.
#[derive(Debug)]
pub struct VmapRun {
    pub command: String,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl VmapRun {
    /// Fails the test, with the command's output, unless it succeeded.
    #[track_caller]
    pub fn assert_success(self) -> VmapRun {
        assert!(
            self.status.success(),
            "{} failed ({}):\n{}\n{}",
            self.command,
            self.status,
            self.stdout,
            self.stderr
        );
        self
    }

    /// Fails the test unless the command failed with a message containing `message`.
    #[track_caller]
    pub fn assert_failure_saying(self, message: &str) -> VmapRun {
        assert!(
            !self.status.success(),
            "{} succeeded; it should have failed saying {message:?}",
            self.command
        );
        assert!(self.stderr.contains(message), "{}", self.stderr);
        self
    }
}

/// Runs `vmap ARGS` to the end.
pub async fn run_vmap<I, S>(args: I) -> VmapRun
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let command = vmap_command(args);
    let description = format!("{command:?}");
    let output = tokio::process::Command::from(command)
        .output()
        .await
        .unwrap_or_else(|err| panic!("{description} does not start: {err}"));
    VmapRun {
        command: description,
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}
