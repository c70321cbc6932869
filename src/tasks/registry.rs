//! The modules a task can name. Adding a module is its file plus one line here: the name, the
//! collection its fully qualified name is in, how a one-string value is read, and its argument type.

use super::free_form::ArgValue;
use super::module::Module;
use super::{FieldError, PrepareCtx, arguments};
use serde::de::Deserializer;

/// A module's arguments as read from a task, before they are rendered for a host.
pub trait ModuleArgs: std::fmt::Debug + Send + Sync {
    fn prepare(&self, ctx: &PrepareCtx) -> Result<Box<dyn Module>, FieldError>;

    /// The template file the task renders, when it renders one.
    fn template_source(&self) -> Option<&str> {
        None
    }

    /// The variables the task sets for the tasks after it (`set_fact`), known before the run.
    fn sets_variables(&self) -> Vec<String> {
        Vec::new()
    }

    /// Takes the task's `args:` mapping into arguments written as one string (only modules whose
    /// string is not `key=value` pairs, such as `command`, need this).
    fn merge_args(&mut self, _args: Vec<(String, ArgValue)>) -> Result<(), String> {
        Err("this module takes no `args:` besides its own arguments".into())
    }
}

/// How a module's value is read when it is one string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FreeForm {
    /// `key=value` pairs (`file: path=/x state=directory`).
    KeyValue,
    /// The module reads the string itself (`command: ls -l chdir=/tmp`, `meta: flush_handlers`).
    Own,
}

#[derive(Debug)]
pub struct ModuleName {
    pub name: &'static str,
    /// The collection of its fully qualified name (`ansible.builtin` for `ansible.builtin.file`).
    pub collection: &'static str,
    pub free_form: FreeForm,
}

macro_rules! registry {
    ($($name:literal in $collection:literal, $form:ident => $args:ty;)*) => {
        pub const MODULES: &[ModuleName] = &[
            $(ModuleName { name: $name, collection: $collection, free_form: FreeForm::$form },)*
        ];

        /// Reads the arguments of the module `name` (as [`lookup`] returned it).
        pub fn parse<'de, D: Deserializer<'de>>(
            name: &str,
            d: D,
        ) -> Result<Box<dyn ModuleArgs>, D::Error> {
            Ok(match name {
                $($name => Box::new(arguments::<$args, D>(d)?),)*
                other => unreachable!("module `{other}` is looked up before"),
            })
        }
    };
}

use super::*;

registry! {
    "command" in "ansible.builtin", Own => command::CommandArgs;
    "shell" in "ansible.builtin", Own => command::ShellArgs;
    "file" in "ansible.builtin", KeyValue => file::FileArgs;
    "copy" in "ansible.builtin", KeyValue => copy::CopyArgs;
    "template" in "ansible.builtin", KeyValue => template::TemplateArgs;
    "lineinfile" in "ansible.builtin", KeyValue => lineinfile::LineInFileArgs;
    "user" in "ansible.builtin", KeyValue => user::UserArgs;
    "group" in "ansible.builtin", KeyValue => user::GroupArgs;
    "service" in "ansible.builtin", KeyValue => service::ServiceArgs;
    "wait_for" in "ansible.builtin", KeyValue => wait_for::WaitForArgs;
    "apt" in "ansible.builtin", KeyValue => apt::AptArgs;
    "git" in "ansible.builtin", KeyValue => git::GitArgs;
    "uri" in "ansible.builtin", KeyValue => uri::UriArgs;
    "debconf" in "ansible.builtin", KeyValue => debconf::DebconfArgs;
    "filesystem" in "community.general", KeyValue => filesystem::FilesystemArgs;
    "mount" in "ansible.posix", KeyValue => mount::MountArgs;
    "pip" in "ansible.builtin", KeyValue => pip::PipArgs;
    "fail" in "ansible.builtin", KeyValue => fail::FailArgs;
    "meta" in "ansible.builtin", Own => meta::MetaArgs;
    "debug" in "ansible.builtin", KeyValue => debug::DebugArgs;
    "set_fact" in "ansible.builtin", KeyValue => set_fact::SetFactArgs;
    "assert" in "ansible.builtin", KeyValue => assert::AssertArgs;
    "stat" in "ansible.builtin", KeyValue => stat::StatArgs;
    "package" in "ansible.builtin", KeyValue => apt::AptArgs;
    "systemd" in "ansible.builtin", KeyValue => service::ServiceArgs;
    "systemd_service" in "ansible.builtin", KeyValue => service::ServiceArgs;
}

/// The module a task key names: its short name, its fully qualified name, or, for the
/// `ansible.builtin` modules, `ansible.legacy.<name>` (as Ansible resolves them).
pub fn lookup(key: &str) -> Option<&'static ModuleName> {
    MODULES.iter().find(|m| {
        key == m.name
            || key
                .strip_suffix(m.name)
                .and_then(|prefix| prefix.strip_suffix('.'))
                .is_some_and(|collection| {
                    collection == m.collection
                        || (m.collection == "ansible.builtin" && collection == "ansible.legacy")
                })
    })
}

/// The short names, for messages.
pub fn names() -> Vec<&'static str> {
    MODULES.iter().map(|m| m.name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_qualified_names() {
        assert_eq!(lookup("file").unwrap().name, "file");
        assert_eq!(lookup("ansible.builtin.file").unwrap().name, "file");
        assert_eq!(lookup("ansible.legacy.copy").unwrap().name, "copy");
        assert_eq!(lookup("ansible.posix.mount").unwrap().name, "mount");
        assert_eq!(
            lookup("community.general.filesystem").unwrap().name,
            "filesystem"
        );
        assert!(lookup("ansible.builtin.mount").is_none());
        assert!(lookup("ansible.legacy.filesystem").is_none());
        assert!(lookup("other.builtin.file").is_none());
        assert!(lookup("xfile").is_none());
    }

    #[test]
    fn every_module_once() {
        let names = names();
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(names.len(), unique.len());
    }
}
