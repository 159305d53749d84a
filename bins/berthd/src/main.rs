//! `berthd`: the berth daemon. This is the composition root: it reads the configuration,
//! takes the data-root lock, builds the engine services, and serves the API on each listener.

mod adapter;
mod build;
mod config;
mod containers;
mod fetch;
mod listeners;
mod memory;
mod networks;
mod pull;
mod spec;
mod volumes;

use std::sync::Arc;

use clap::Parser;

use crate::config::Config;

fn main() -> std::process::ExitCode {
    memory::configure_allocator();
    let config = Config::parse();
    // libcgroups warns about every controller the host lacks each time `docker update` runs;
    // those are facts of the host, not problems.
    let filter =
        tracing_subscriber::EnvFilter::try_new(format!("{},libcgroups=error", config.log_level))
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,libcgroups=error"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    raise_open_files_limit();
    // Two worker threads are plenty for an API daemon; heavy work goes to the blocking pool.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    match runtime.block_on(run(config)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("berthd: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Takes the hard limit on open files as the soft one: every client connection is a
/// descriptor, and a daemon started with systemd's default soft limit (1024) would refuse
/// clients past a thousand. Containers inherit it, as they inherit dockerd's.
fn raise_open_files_limit() {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current < limit.maximum {
        let before = limit.current;
        limit.current = limit.maximum;
        match setrlimit(Resource::Nofile, limit) {
            Ok(()) => tracing::debug!(?before, now = ?limit.current, "raised the open files limit"),
            Err(e) => tracing::warn!(error = %e, "cannot raise the open files limit"),
        }
    }
}

async fn run(config: Config) -> Result<(), String> {
    // Handled from the start: a SIGTERM that came once the socket answers, before the
    // handler was in place, ended the daemon by the signal's default, with nothing cleaned.
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| e.to_string())?;
    let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .map_err(|e| e.to_string())?;
    let hosts = listeners::parse_hosts(&config)?;
    let exec_root_len = config.exec_root.as_os_str().len();
    if exec_root_len > berth_engine::containers::MAX_EXEC_ROOT_LEN {
        return Err(format!(
            "exec root {} is {exec_root_len} bytes long: the containers' sockets under it would not fit in a Unix socket address; use one of at most {} bytes",
            config.exec_root.display(),
            berth_engine::containers::MAX_EXEC_ROOT_LEN
        ));
    }
    std::fs::create_dir_all(&config.data_root)
        .map_err(|e| format!("create data root {}: {e}", config.data_root.display()))?;
    std::fs::create_dir_all(&config.exec_root)
        .map_err(|e| format!("create exec root {}: {e}", config.exec_root.display()))?;
    let _lock = config::lock_data_root(&config.data_root)?;
    let pidfile = config.pidfile.clone();
    if let Some(p) = &pidfile {
        std::fs::write(p, format!("{}\n", std::process::id()))
            .map_err(|e| format!("write pidfile {}: {e}", p.display()))?;
    }

    let backend = adapter::Daemon::open(&config).await?;
    let builds = backend.builds();
    let router = berth_api_server::Router::new(
        Arc::new(backend),
        berth_api_server::ServerInfo {
            version: env!("CARGO_PKG_VERSION").to_string(),
            cors_origin: config.api_cors_header.clone(),
        },
    );
    let bound = listeners::bind(&hosts).await?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut tasks = Vec::new();
    for l in bound {
        let mut rx = stop_rx.clone();
        let shutdown = async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        tasks.push(tokio::spawn(l.serve(router.clone(), shutdown)));
    }
    tracing::info!(version = env!("CARGO_PKG_VERSION"), data_root = %config.data_root.display(), "berthd is serving the API");

    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
        _ = int.recv() => tracing::info!("SIGINT: shutting down"),
    }
    let _ = stop_tx.send(true);
    for t in tasks {
        let _ = t.await;
    }
    // Builds end with the daemon, as Docker's do: their RUN containers go with them.
    builds.stop(std::time::Duration::from_secs(15)).await;
    listeners::cleanup(&hosts);
    berth_engine::containers::release_default_cgroup_parent();
    if let Some(p) = &pidfile {
        let _ = std::fs::remove_file(p);
    }
    tracing::info!("berthd stopped");
    Ok(())
}
