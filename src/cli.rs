//! Command-line definitions only.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "provision",
    version,
    about = "Create cloud instances through the EC2 API and configure them over SSH"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Apply a role's tasks to the hosts of an inventory group named like the role.
    Run(RunArgs),
}

#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// The role: tasks/<ROLE>.yml, applied to the inventory group [ROLE].
    pub role: String,
    /// The Ansible-style INI inventory.
    #[arg(
        long = "hosts",
        short = 'i',
        value_name = "INVENTORY",
        default_value = "inventory"
    )]
    pub inventory: PathBuf,
    /// Only hosts matching these patterns (`h1,h2`, `web*`, `group:!h3`).
    #[arg(long, short = 'l')]
    pub limit: Option<String>,
    /// How many hosts are worked on at once.
    #[arg(long, short = 'f', default_value_t = 50)]
    pub forks: usize,
    /// Extra variables: key=value, a JSON object, or @file.json; they win over the inventory.
    #[arg(long = "extra-vars", short = 'e', value_name = "VARS")]
    pub extra_vars: Vec<String>,
    /// Decide and report what would change, change nothing.
    #[arg(long, short = 'C')]
    pub check: bool,
    /// Show a unified diff for every file that changes (or would change with --check).
    #[arg(long, short = 'D')]
    pub diff: bool,
    /// Print one JSON document with per-host, per-task results instead of text.
    #[arg(long)]
    pub json: bool,
    /// Also print tasks that were already as wanted.
    #[arg(long, short = 'v')]
    pub verbose: bool,
    /// Login user where the inventory sets no ansible_user.
    #[arg(long, short = 'u', default_value = "ubuntu")]
    pub user: String,
    /// Private key where the inventory sets no ansible_ssh_private_key_file.
    #[arg(long = "private-key", value_name = "FILE")]
    pub private_key: Option<PathBuf>,
    /// Run every task with sudo unless the task says `become: false`.
    #[arg(long = "become", short = 'b')]
    pub become_: bool,
    /// known_hosts file to verify host keys against (new hosts are recorded there).
    #[arg(
        long = "known-hosts",
        value_name = "FILE",
        env = "PROVISION_KNOWN_HOSTS"
    )]
    pub known_hosts: Option<PathBuf>,
    /// Read task files from DIR, templates from DIR/../templates, files from DIR/../files.
    #[arg(long = "tasks-dir", value_name = "DIR")]
    pub tasks_dir: Option<PathBuf>,
    /// Seconds to wait for a host to answer, per attempt.
    #[arg(long = "connect-timeout", default_value_t = 10)]
    pub connect_timeout: u64,
    /// Further connection attempts, with doubling backoff from 1 s, when a host does not answer.
    #[arg(long = "connect-retries", default_value_t = 3)]
    pub connect_retries: u32,
}
