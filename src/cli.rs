//! Command-line definitions only.

use clap::{ArgGroup, Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "provision",
    version,
    about = "Create cloud instances on OpenStack (Nectar), EC2 or local Docker and configure them over SSH"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Deploy a role: make sure COUNT instances exist, wait for SSH, write the inventory, and
    /// apply the role to all of them. `provision ROLE …` is short for `provision deploy ROLE …`.
    Deploy(DeployArgs),
    /// Apply a role's tasks to the hosts of an inventory group named like the role.
    Run(RunArgs),
    /// Run an Ansible playbook (plays, roles, tasks) as ansible-playbook would.
    Playbook(PlaybookArgs),
    /// Write a starting configure.json for a cloud (never over an existing file).
    Init(InitArgs),
    /// Show an inventory as `ansible-inventory` does: --list, --graph or --host NAME.
    Inventory(InventoryArgs),
    /// List, launch, terminate, reboot, stop and start instances.
    Instance {
        #[command(flatten)]
        cloud: CloudArgs,
        #[command(subcommand)]
        action: InstanceAction,
    },
    /// List, create, attach, detach and delete volumes.
    Volume {
        #[command(flatten)]
        cloud: CloudArgs,
        #[command(subcommand)]
        action: VolumeAction,
    },
    /// Create, list and delete volume snapshots.
    Snapshot {
        #[command(flatten)]
        cloud: CloudArgs,
        #[command(subcommand)]
        action: SnapshotAction,
    },
    /// `provision ROLE …`: read as `provision deploy ROLE …`.
    #[command(external_subcommand)]
    External(Vec<String>),
}

#[derive(Args, Debug, Clone)]
pub struct DeployArgs {
    /// The role: its tasks, applied to the inventory group [ROLE].
    pub role: String,
    /// How many instances the role should have; default: roles.<role>.count in configure.json,
    /// else 1. Never terminates: a smaller count says what it would take.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub count: Option<u32>,
    #[command(flatten)]
    pub cloud: CloudArgs,
    /// The inventory to write the role's group into (other groups and lines are kept).
    #[arg(
        long = "inventory",
        visible_alias = "hosts",
        short = 'i',
        value_name = "FILE",
        default_value = "inventory"
    )]
    pub inventory: PathBuf,
    /// Seconds to wait for a new instance to answer SSH with the key.
    #[arg(long = "ssh-timeout", default_value_t = 300)]
    pub ssh_timeout: u64,
    #[command(flatten)]
    pub options: RoleOptions,
    /// The secrets file; made with generated values (mode 0600) when missing.
    /// Default: secrets.json beside configure.json.
    #[arg(long, value_name = "FILE")]
    pub secrets: Option<PathBuf>,
    /// When another deploy of the project is running, refuse instead of waiting for it.
    #[arg(long = "no-wait")]
    pub no_wait: bool,
}

/// How a role is applied, shared by `run` and `deploy`.
#[derive(Args, Debug, Clone)]
pub struct RoleOptions {
    #[command(flatten)]
    pub apply: ApplyOptions,
    /// Read task files from DIR, templates from DIR/../templates, files from DIR/../files.
    #[arg(long = "tasks-dir", value_name = "DIR")]
    pub tasks_dir: Option<PathBuf>,
}

/// How tasks are applied to hosts, shared by `run`, `playbook` and `deploy`.
#[derive(Args, Debug, Clone)]
pub struct ApplyOptions {
    /// How many hosts are worked on at once (at least 1).
    #[arg(long, short = 'f', default_value_t = 50, value_parser = at_least_one)]
    pub forks: usize,
    /// Extra variables: key=value, a JSON object, or @file.json; they win over the inventory.
    #[arg(long = "extra-vars", short = 'e', value_name = "VARS")]
    pub extra_vars: Vec<String>,
    /// Also print tasks that were already as wanted.
    #[arg(long, short = 'v')]
    pub verbose: bool,
    /// known_hosts file to verify host keys against (new hosts are recorded there).
    #[arg(
        long = "known-hosts",
        value_name = "FILE",
        env = "PROVISION_KNOWN_HOSTS"
    )]
    pub known_hosts: Option<PathBuf>,
}

/// `--hosts FILE`, shared by the commands that read an inventory.
#[derive(Args, Debug, Clone)]
pub struct InventoryFile {
    /// The Ansible-style INI inventory.
    #[arg(
        long = "hosts",
        short = 'i',
        value_name = "INVENTORY",
        default_value = "inventory"
    )]
    pub path: PathBuf,
}

#[derive(Args, Debug, Clone)]
#[command(group(ArgGroup::new("view").required(true).args(["list", "graph", "host"])))]
pub struct InventoryArgs {
    #[command(flatten)]
    pub inventory: InventoryFile,
    /// Every group with its hosts and children, and every host's variables, as JSON.
    #[arg(long)]
    pub list: bool,
    /// The group tree (from GROUP, default all).
    #[arg(long, value_name = "GROUP", num_args = 0..=1, default_missing_value = "all")]
    pub graph: Option<String>,
    /// One host's merged variables, as JSON.
    #[arg(long, value_name = "NAME")]
    pub host: Option<String>,
}

#[derive(Args, Debug, Clone)]
pub struct InitArgs {
    /// The cloud the configuration is for.
    #[arg(long, value_enum, default_value = "docker")]
    pub cloud: crate::config::CloudKind,
    /// Where to write it.
    #[arg(long, value_name = "FILE", default_value = "configure.json")]
    pub config: PathBuf,
}

#[derive(Args, Debug, Clone)]
pub struct CloudArgs {
    /// The cloud, instance and role settings.
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        default_value = "configure.json"
    )]
    pub config: PathBuf,
    /// Seconds to wait for a state change before giving up.
    #[arg(long = "wait-timeout", global = true, default_value_t = 600)]
    pub wait_timeout: u64,
    /// The cloud: `docker` (local containers, no configure.json needed), `ec2` or `openstack`; default:
    /// configure.json's `cloud`.
    #[arg(long, global = true, value_enum)]
    pub cloud: Option<crate::config::CloudKind>,
}

#[derive(Subcommand, Debug)]
pub enum InstanceAction {
    /// id, name, role, state, type, private/public IP, zone, launch time.
    List {
        /// Only instances of this role (tag provision:role) in this project.
        #[arg(long)]
        role: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Launch instances of a role with configure.json's image, type, key pair and security groups.
    Launch {
        #[arg(long)]
        role: String,
        /// How many; default: roles.<role>.count in configure.json, else 1.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1000))]
        count: Option<u32>,
        /// Return once launched, without waiting for `running`.
        #[arg(long = "no-wait")]
        no_wait: bool,
        #[arg(long)]
        json: bool,
    },
    /// Terminate instances; asks first unless --yes; waits until they are terminated.
    Terminate {
        #[arg(required = true, value_name = "INSTANCE_ID")]
        ids: Vec<String>,
        #[arg(long, short = 'y')]
        yes: bool,
        #[arg(long = "no-wait")]
        no_wait: bool,
    },
    /// Reboot instances.
    Reboot {
        #[arg(required = true, value_name = "INSTANCE_ID")]
        ids: Vec<String>,
    },
    /// Stop instances and wait until they are stopped.
    Stop {
        #[arg(required = true, value_name = "INSTANCE_ID")]
        ids: Vec<String>,
        #[arg(long = "no-wait")]
        no_wait: bool,
    },
    /// Start instances and wait until they are running.
    Start {
        #[arg(required = true, value_name = "INSTANCE_ID")]
        ids: Vec<String>,
        #[arg(long = "no-wait")]
        no_wait: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum VolumeAction {
    /// id, name, role, size, state, zone, attachment.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Create a volume (GiB) in configure.json's availability zone, or --zone.
    Create {
        #[arg(long)]
        size: u32,
        #[arg(long)]
        zone: Option<String>,
        /// Tag it with this role.
        #[arg(long, default_value = "")]
        role: String,
    },
    /// Create a volume in the instance's zone, wait until available, attach it, wait until in use.
    Attach {
        #[arg(long)]
        size: u32,
        #[arg(value_name = "INSTANCE_ID")]
        instance: String,
        /// The device asked for (EC2; OpenStack on KVM picks its own and says which).
        #[arg(long, default_value = "/dev/vdc")]
        device: String,
    },
    /// Detach a volume from its instance and wait until it is available.
    Detach {
        #[arg(value_name = "VOLUME_ID")]
        volume: String,
        /// Force the detachment (data may be lost if the instance is writing).
        #[arg(long)]
        force: bool,
    },
    /// Delete a volume that is not attached.
    Delete {
        #[arg(value_name = "VOLUME_ID")]
        volume: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum SnapshotAction {
    /// Snapshot a volume.
    Create {
        #[arg(value_name = "VOLUME_ID")]
        volume: String,
        #[arg(long)]
        description: Option<String>,
    },
    /// This account's snapshots.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Delete a snapshot.
    Delete {
        #[arg(value_name = "SNAPSHOT_ID")]
        snapshot: String,
    },
}

#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// The role: roles/<ROLE>/ in the roles layout, or tasks/<ROLE>.yml; applied to the
    /// inventory group [ROLE].
    pub role: String,
    #[command(flatten)]
    pub inventory: InventoryFile,
    #[command(flatten)]
    pub options: RoleOptions,
    #[command(flatten)]
    pub execution: ExecutionArgs,
    /// Secrets file (JSON, mode 0600) whose values the tasks see as variables; never printed.
    /// Default: secrets.json beside configure.json, when it exists (run never creates it).
    #[arg(long, value_name = "FILE")]
    pub secrets: Option<PathBuf>,
    /// configure.json, whose `vars` the role sees as deploy gives them. Default: ./configure.json
    /// when it exists.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct PlaybookArgs {
    /// The playbook (as for ansible-playbook): plays with hosts, vars, roles and tasks.
    pub playbook: PathBuf,
    #[command(flatten)]
    pub inventory: InventoryFile,
    #[command(flatten)]
    pub apply: ApplyOptions,
    #[command(flatten)]
    pub execution: ExecutionArgs,
}

/// How a run goes, shared by `run` and `playbook`.
#[derive(Args, Debug, Clone)]
pub struct ExecutionArgs {
    /// Only hosts matching these patterns (`h1,h2`, `web*`, `group:!h3`).
    #[arg(long, short = 'l')]
    pub limit: Option<String>,
    /// Only the tasks with these tags (comma-separated; `always` tasks too).
    #[arg(long = "tags", short = 't', value_name = "TAGS")]
    pub tags: Vec<String>,
    /// Leave out the tasks with these tags.
    #[arg(long = "skip-tags", value_name = "TAGS")]
    pub skip_tags: Vec<String>,
    /// Decide and report what would change, change nothing.
    #[arg(long, short = 'C')]
    pub check: bool,
    /// Show a unified diff for every file that changes (or would change with --check).
    #[arg(long, short = 'D')]
    pub diff: bool,
    /// Print one JSON document with per-host, per-task results instead of text.
    #[arg(long)]
    pub json: bool,
    /// Login user where the inventory sets no ansible_user.
    #[arg(long, short = 'u', default_value = "ubuntu")]
    pub user: String,
    /// Private key where the inventory sets no ansible_ssh_private_key_file.
    #[arg(long = "private-key", value_name = "FILE")]
    pub private_key: Option<PathBuf>,
    /// Run every task with sudo unless the task says `become: false`.
    #[arg(long = "become", short = 'b')]
    pub become_: bool,
    /// Seconds to wait for a host to answer, per attempt.
    #[arg(long = "connect-timeout", default_value_t = 10)]
    pub connect_timeout: u64,
    /// Further connection attempts, with doubling backoff from 1 s, when a host does not answer.
    #[arg(long = "connect-retries", default_value_t = 3)]
    pub connect_retries: u32,
}

fn at_least_one(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}
