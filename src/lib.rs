//! provision: create cloud instances through the EC2 API and configure them over SSH.

pub mod apply;
pub mod cli;
pub mod cloud;
pub mod commands;
pub mod config;
pub mod deploy;
pub mod error;
pub mod fsutil;
pub mod inventory;
pub mod known_hosts;
pub mod playbook;
pub mod redact;
pub mod render;
pub mod roles;
pub mod run;
pub mod secrets;
pub mod ssh;
pub mod tasks;
pub mod yaml;
