use clap::Parser;
use provision::cli::{Cli, Command};
use provision::run::report::exit;

#[tokio::main]
async fn main() {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let status = if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
            let _ = e.print();
            std::process::exit(status);
        }
    };
    let cli = match cli.command {
        // `provision couchdb --count 3` is `provision deploy couchdb --count 3`.
        Command::External(args) => {
            let args_for_message = args.clone();
            let all = ["provision", "deploy"]
                .into_iter()
                .map(String::from)
                .chain(args);
            match Cli::try_parse_from(all) {
                Ok(c) => c,
                Err(e) => {
                    if let Some(message) = provision::commands::not_a_command(&args_for_message) {
                        eprintln!("error: {message}");
                    } else {
                        let _ = e.print();
                    }
                    std::process::exit(exit::USAGE);
                }
            }
        }
        _ => cli,
    };
    let result = match &cli.command {
        Command::Deploy(args) => provision::commands::deploy::deploy(args).await,
        Command::External(_) => unreachable!("read as deploy above"),
        Command::Run(args) => provision::commands::run::run_role(args).await,
        Command::Playbook(args) => provision::commands::playbook::run_playbook(args).await,
        Command::Init(args) => provision::commands::init::init(args),
        Command::Inventory(args) => provision::commands::inventory::show(args),
        Command::Instance { cloud, action } => {
            provision::commands::cloud::instance(cloud, action).await
        }
        Command::Volume { cloud, action } => {
            provision::commands::cloud::volume(cloud, action).await
        }
        Command::Snapshot { cloud, action } => {
            provision::commands::cloud::snapshot(cloud, action).await
        }
    };
    match result {
        Ok(status) => std::process::exit(status),
        Err(e) => {
            use provision::redact::clean;
            eprintln!("error: {}", clean(&e.to_string()));
            if let Some(hint) = e.hint() {
                eprintln!("hint: {}", clean(&hint));
            }
            std::process::exit(e.exit_status());
        }
    }
}
