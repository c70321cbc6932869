//! `provision init`: a starting configure.json for a cloud, from the examples the binary carries.

use super::AppError;
use crate::cli::InitArgs;
use crate::config::{CloudKind, Config, ConfigError};
use crate::deploy::cloud_name;
use crate::run::report::exit;
use std::io::Write;

pub fn init(args: &InitArgs) -> Result<i32, AppError> {
    let text = crate::config::example(args.cloud);
    let config = Config::parse(&args.config, text)?;
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&args.config)
        .and_then(|mut f| f.write_all(text.as_bytes()));
    if let Err(e) = written {
        let message = if e.kind() == std::io::ErrorKind::AlreadyExists {
            "exists already; init never overwrites it (move it away, or pass --config NEW_FILE)"
                .to_string()
        } else {
            format!("cannot be written: {e}")
        };
        return Err(AppError::Config(ConfigError::Value {
            path: args.config.display().to_string(),
            field: "(file)".into(),
            message,
        }));
    }
    println!(
        "wrote {} for the {} cloud (project `{}`)",
        args.config.display(),
        cloud_name(args.cloud),
        config.project
    );
    match args.cloud {
        CloudKind::Docker => println!(
            "next: set the roles' variables under `vars`, then e.g. `provision webserver --count 2`"
        ),
        CloudKind::Ec2 => println!(
            "next: set cloud.endpoint and cloud.region, the instances' image_id, instance_type, \
             key_name and key_file (the key pair's private key, mode 0600), then e.g. \
             `provision couchdb --count 3`"
        ),
        CloudKind::Openstack => println!(
            "next: put the clouds.yaml your dashboard gives (application credential) in \
             ~/.config/openstack/ or here, set openstack.cloud to its entry, the instances' flavor, \
             image, key_name, key_file (the key pair's private key, mode 0600) and \
             availability_zone, then e.g. `provision couchdb --count 3`"
        ),
    }
    Ok(exit::OK)
}
