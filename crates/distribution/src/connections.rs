//! The HTTP clients berth talks to registries through, one per registry and TLS setup,
//! shared by every pull, push, login and search: a connection a pull opened serves the next
//! operation on that registry while it is open. Docker opens new connections for every
//! pull; a kept one saves the connect and the registry's work of taking a new one (about a
//! fifth of its CPU for a manifest on this machine's `docker-registry`).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::{TokioExecutor, TokioTimer};

use crate::client::RequestBody;
use crate::options::RegistryOptions;

pub type HttpClient = Client<HttpsConnector<HttpConnector>, RequestBody>;

/// How long a connection no operation uses stays open: under the idle limits of the
/// proxies registries sit behind (60 s and more), so that berth closes it first.
const IDLE: Duration = Duration::from_secs(30);
/// Registries kept at once; past it the clients start over (each is only its idle
/// connections).
const KEPT: usize = 64;
/// How long one client serves before the next operation makes a new one: its connections
/// then close as the operations using them end, so that a registry's name that now leads
/// elsewhere (a failover) is followed within this, however busy the registry is.
const LIFETIME: Duration = Duration::from_secs(300);
/// Idle connections kept per registry: a push's five uploads at once.
pub(crate) const IDLE_PER_REGISTRY: usize = 5;

/// A registry's `certs.d` files as they are now (name; device, inode, length, modification
/// and change times of what it leads to): a client set up from other files is not reused.
pub type CertsState = Vec<(PathBuf, Option<(u64, u64, u64, i64, i64, i64, i64)>)>;

struct Kept {
    made: std::time::Instant,
    certs: CertsState,
    client: HttpClient,
    /// Why TLS could not be set up from those files, told at a request.
    tls_error: Option<String>,
}

/// The clients kept, by registry (`host[:port]`) and whether its certificate is checked.
/// Clones share them.
#[derive(Clone, Default)]
pub struct Connections(Arc<Mutex<HashMap<(String, bool), Kept>>>);

impl std::fmt::Debug for Connections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Connections")
    }
}

impl Connections {
    /// The client for registry `domain`, made with `options` unless one made from the same
    /// `certs.d` files is kept; with why TLS could not be set up, if it could not.
    pub fn client(
        &self,
        domain: &str,
        insecure: bool,
        options: &RegistryOptions,
    ) -> (HttpClient, Option<String>) {
        let certs = options.tls.certs_state(domain);
        let key = (domain.to_string(), insecure);
        let mut kept = self.0.lock().expect("lock");
        if let Some(k) = kept
            .get(&key)
            .filter(|k| k.certs == certs && k.made.elapsed() < LIFETIME)
        {
            return (k.client.clone(), k.tls_error.clone());
        }
        let (client, tls_error) = build(domain, insecure, options);
        if kept.len() >= KEPT {
            kept.clear();
        }
        kept.insert(
            key,
            Kept {
                made: std::time::Instant::now(),
                certs,
                client: client.clone(),
                tls_error: tls_error.clone(),
            },
        );
        (client, tls_error)
    }
}

fn build(domain: &str, insecure: bool, options: &RegistryOptions) -> (HttpClient, Option<String>) {
    let mut connector = HttpConnector::new();
    connector.set_connect_timeout(Some(options.connect_timeout));
    connector.enforce_http(false);
    let (tls, tls_error) = match options.tls.client_config(domain, insecure) {
        Ok(c) => (c, None),
        Err(e) => (options.tls.web_config(), Some(e)),
    };
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(connector);
    let client = Client::builder(TokioExecutor::new())
        .pool_idle_timeout(IDLE)
        .pool_max_idle_per_host(IDLE_PER_REGISTRY)
        .pool_timer(TokioTimer::new())
        .build(connector);
    (client, tls_error)
}
