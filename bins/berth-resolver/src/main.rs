//! `berth-resolver --dir DIR`: the name server of containers on user-defined networks (see
//! the `berth-dns` crate). berthd starts it when a container needs it; it leaves when none
//! does.

use clap::Parser;

#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// Where berthd writes the table; the control socket goes here too.
    #[arg(long)]
    dir: std::path::PathBuf,
}

fn main() {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("BERTH_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    if let Err(e) = rt.block_on(berth_dns::server::run(args.dir)) {
        tracing::error!(error = %e, "resolver stopped");
        std::process::exit(1);
    }
}
