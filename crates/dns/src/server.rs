//! The resolver process: one UDP and one TCP socket on 127.0.0.11:53 in each container's
//! network namespace (made there by a thread that enters it; the sockets keep working from
//! any thread), answers from the table, forwarding from the host's namespace. berthd tells it
//! to read the table again over a control socket; it leaves when the table has stayed empty
//! for a while (no container needs it), and berthd starts it again when one does.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use hickory_proto::op::Message;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream, UdpSocket, UnixListener};
use tokio::task::JoinHandle;

use crate::answer;
use crate::table::Table;

pub const CONTROL: &str = "control.sock";
pub const PID: &str = "resolver.pid";
/// Where containers ask.
pub const ADDRESS: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 11);
/// How long an upstream server gets to answer before the next is asked.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(3);
/// Questions being forwarded at once, for every container together (as Docker's resolver
/// bounds them): a container asking faster than the upstream servers answer gets SERVFAIL
/// rather than growing this process without end.
const MAX_FORWARDS: usize = 1024;
static FORWARDS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(MAX_FORWARDS);

/// How long the table stays empty before the process leaves.
const IDLE_EXIT: Duration = Duration::from_secs(2);

/// A namespace's sockets: the tasks serving them, and which namespace they are in (its
/// inode: a restarted container has the same path and a new namespace).
struct Listening {
    ns_inode: u64,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Listening {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

type Shared = Arc<RwLock<Arc<Table>>>;

/// Serves until the table has stayed empty for a while.
pub async fn run(dir: PathBuf) -> std::io::Result<()> {
    std::fs::create_dir_all(&dir)?;
    let control_path = dir.join(CONTROL);
    let _ = std::fs::remove_file(&control_path);
    let control = UnixListener::bind(&control_path)?;
    std::fs::write(dir.join(PID), std::process::id().to_string())?;
    let table: Shared = Arc::new(RwLock::new(Arc::new(Table::default())));
    let mut listening: HashMap<String, Listening> = HashMap::new();
    reload(&dir, &table, &mut listening);
    let mut idle_since = listening.is_empty().then(tokio::time::Instant::now);
    loop {
        let deadline = idle_since.map(|t| t + IDLE_EXIT);
        tokio::select! {
            accepted = control.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let (read, mut write) = stream.into_split();
                let mut line = String::new();
                let mut read = BufReader::new(read);
                let got = tokio::time::timeout(Duration::from_secs(5), read.read_line(&mut line)).await;
                if !matches!(got, Ok(Ok(n)) if n > 0) {
                    continue;
                }
                match line.trim() {
                    "reload" => {
                        reload(&dir, &table, &mut listening);
                        let _ = write.write_all(b"ok\n").await;
                    }
                    // berthd's keeper asking whether it still serves.
                    "ping" => {
                        let _ = write.write_all(b"ok\n").await;
                        continue;
                    }
                    _ => continue,
                }
                idle_since = match (listening.is_empty(), idle_since) {
                    (true, None) => Some(tokio::time::Instant::now()),
                    (true, since) => since,
                    (false, _) => None,
                };
            }
            _ = sleep_until(deadline) => {
                // Read once more: a table written since the last word counts.
                reload(&dir, &table, &mut listening);
                if listening.is_empty() {
                    let _ = std::fs::remove_file(&control_path);
                    let _ = std::fs::remove_file(dir.join(PID));
                    return Ok(());
                }
                idle_since = None;
            }
        }
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// Reads the table and makes the listening sockets match it.
fn reload(dir: &Path, shared: &Shared, listening: &mut HashMap<String, Listening>) {
    let table = match Table::read(dir) {
        Ok(t) => Arc::new(t),
        Err(e) => {
            tracing::error!(error = %e, "reading the table");
            return;
        }
    };
    *shared.write().expect("lock") = table.clone();
    listening.retain(|id, l| {
        table
            .sandboxes
            .get(id)
            .is_some_and(|s| std::fs::metadata(&s.netns).is_ok_and(|m| m.ino() == l.ns_inode))
    });
    for (id, sandbox) in &table.sandboxes {
        if listening.contains_key(id) {
            continue;
        }
        match listen(id, &sandbox.netns, shared) {
            Ok(l) => {
                listening.insert(id.clone(), l);
            }
            Err(e) => {
                tracing::warn!(container = %id, error = %e, "cannot listen in the container's namespace")
            }
        }
    }
}

/// Opens the sockets inside the namespace at `netns` and serves them.
fn listen(id: &str, netns: &Path, shared: &Shared) -> std::io::Result<Listening> {
    use socket2::{Domain, Protocol, Socket, Type};
    let ns = std::fs::File::open(netns)?;
    let ns_inode = ns.metadata()?.ino();
    let addr = SocketAddr::new(IpAddr::V4(ADDRESS), 53);
    let (udp, tcp) = std::thread::spawn(move || -> std::io::Result<(Socket, Socket)> {
        nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET)
            .map_err(std::io::Error::from)?;
        // Reusable: a resolver started while an old one is leaving binds beside it.
        let udp = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
        udp.set_reuse_address(true)?;
        udp.set_reuse_port(true)?;
        udp.bind(&addr.into())?;
        let tcp = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))?;
        tcp.set_reuse_address(true)?;
        tcp.set_reuse_port(true)?;
        tcp.bind(&addr.into())?;
        tcp.listen(64)?;
        Ok((udp, tcp))
    })
    .join()
    .map_err(|_| std::io::Error::other("namespace thread panicked"))??;
    udp.set_nonblocking(true)?;
    tcp.set_nonblocking(true)?;
    let udp = UdpSocket::from_std(udp.into())?;
    let tcp = TcpListener::from_std(tcp.into())?;
    let tasks = vec![
        tokio::spawn(serve_udp(id.to_string(), Arc::new(udp), shared.clone())),
        tokio::spawn(serve_tcp(id.to_string(), tcp, shared.clone())),
    ];
    Ok(Listening { ns_inode, tasks })
}

async fn serve_udp(id: String, socket: Arc<UdpSocket>, shared: Shared) {
    let mut buf = vec![0u8; 4096];
    loop {
        let Ok((n, peer)) = socket.recv_from(&mut buf).await else {
            continue;
        };
        let query = &buf[..n];
        // Names of the networks are answered at once; only forwards wait (on a task each).
        match local(&id, query, &shared) {
            Local::Reply(reply) => {
                let _ = socket.send_to(&reply, peer).await;
            }
            Local::Drop => {}
            Local::Forward(upstreams) => {
                let Ok(permit) = FORWARDS.try_acquire() else {
                    if let Some(reply) = answer::server_failure(query) {
                        let _ = socket.send_to(&reply, peer).await;
                    }
                    continue;
                };
                let (socket, query) = (socket.clone(), query.to_vec());
                tokio::spawn(async move {
                    let reply = forward(&query, &upstreams, false)
                        .await
                        .or_else(|| answer::server_failure(&query));
                    if let Some(reply) = reply {
                        let _ = socket.send_to(&reply, peer).await;
                    }
                    drop(permit);
                });
            }
        }
    }
}

/// TCP connections open at once, for every container together: each holds a descriptor of
/// this process, whose limit all the containers' names depend on.
static TCP_CONNECTIONS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(256);

async fn serve_tcp(id: String, listener: TcpListener, shared: Shared) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        // Over the bound the connection is closed at once; the client retries over UDP.
        let Ok(permit) = TCP_CONNECTIONS.try_acquire() else {
            drop(stream);
            continue;
        };
        let (shared, id) = (shared.clone(), id.clone());
        tokio::spawn(async move {
            let _ = serve_tcp_conn(&id, stream, &shared).await;
            drop(permit);
        });
    }
}

/// DNS over TCP: each message behind its two-byte length.
async fn serve_tcp_conn(id: &str, mut stream: TcpStream, shared: &Shared) -> std::io::Result<()> {
    loop {
        let len = match tokio::time::timeout(Duration::from_secs(10), stream.read_u16()).await {
            Ok(Ok(n)) => n as usize,
            _ => return Ok(()),
        };
        let mut query = vec![0u8; len];
        stream.read_exact(&mut query).await?;
        let Some(reply) = handle(id, &query, shared, true).await else {
            return Ok(());
        };
        stream.write_u16(reply.len() as u16).await?;
        stream.write_all(&reply).await?;
    }
}

/// What the table says of one query from the container `id`.
enum Local {
    Reply(Vec<u8>),
    /// Not ours: to these servers.
    Forward(Vec<IpAddr>),
    /// Not a query, or from a container no longer in the table.
    Drop,
}

fn local(id: &str, query: &[u8], shared: &Shared) -> Local {
    let table = shared.read().expect("lock").clone();
    let Some(sandbox) = table.sandboxes.get(id) else {
        return Local::Drop;
    };
    let Ok(message) = Message::from_vec(query) else {
        return Local::Drop;
    };
    match answer::respond(&table, sandbox, &message) {
        Some(reply) => reply.to_vec().map_or(Local::Drop, Local::Reply),
        None => Local::Forward(sandbox.upstreams.clone()),
    }
}

/// The reply to one query from the container `id`.
async fn handle(id: &str, query: &[u8], shared: &Shared, tcp: bool) -> Option<Vec<u8>> {
    match local(id, query, shared) {
        Local::Reply(reply) => Some(reply),
        Local::Drop => None,
        Local::Forward(upstreams) => {
            let Ok(_permit) = FORWARDS.try_acquire() else {
                return answer::server_failure(query);
            };
            match forward(query, &upstreams, tcp).await {
                Some(r) => Some(r),
                None => answer::server_failure(query),
            }
        }
    }
}

/// Asks each upstream server in turn (from the host's namespace, where this task runs).
async fn forward(query: &[u8], upstreams: &[IpAddr], tcp: bool) -> Option<Vec<u8>> {
    for server in upstreams {
        let addr = SocketAddr::new(*server, 53);
        let asked = if tcp {
            tokio::time::timeout(UPSTREAM_TIMEOUT, forward_tcp(query, addr)).await
        } else {
            tokio::time::timeout(UPSTREAM_TIMEOUT, forward_udp(query, addr)).await
        };
        match asked {
            Ok(Ok(reply)) => return Some(reply),
            Ok(Err(e)) => tracing::debug!(%server, error = %e, "upstream failed"),
            Err(_) => tracing::debug!(%server, "upstream timed out"),
        }
    }
    None
}

async fn forward_udp(query: &[u8], addr: SocketAddr) -> std::io::Result<Vec<u8>> {
    let bind: SocketAddr = if addr.is_ipv4() {
        "0.0.0.0:0".parse().expect("address")
    } else {
        "[::]:0".parse().expect("address")
    };
    let socket = UdpSocket::bind(bind).await?;
    socket.connect(addr).await?;
    socket.send(query).await?;
    let mut buf = vec![0u8; 65535];
    loop {
        let n = socket.recv(&mut buf).await?;
        // Only the answer to this query (its ID), not a stray datagram.
        if n >= 2 && buf[..2] == query[..2] {
            return Ok(buf[..n].to_vec());
        }
    }
}

async fn forward_tcp(query: &[u8], addr: SocketAddr) -> std::io::Result<Vec<u8>> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.write_u16(query.len() as u16).await?;
    stream.write_all(query).await?;
    let len = stream.read_u16().await? as usize;
    let mut reply = vec![0u8; len];
    stream.read_exact(&mut reply).await?;
    Ok(reply)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::{Endpoint, Sandbox};
    use hickory_proto::op::{MessageType, OpCode, Query, ResponseCode};
    use hickory_proto::rr::{Name, RecordType};

    /// With every forward slot taken, a question for an outside name is answered SERVFAIL at
    /// once, without asking anyone.
    #[tokio::test]
    async fn forwards_beyond_the_bound_fail_at_once() {
        let mut table = Table::default();
        table.sandboxes.insert(
            "c".into(),
            Sandbox {
                netns: PathBuf::new(),
                // An upstream that would never answer: reaching it would take the timeout.
                upstreams: vec!["192.0.2.1".parse().unwrap()],
                endpoints: vec![Endpoint {
                    network_id: "n".into(),
                    network_name: "net".into(),
                    ip: Ipv4Addr::new(10, 0, 0, 2),
                    names: vec!["c".into()],
                    links: Vec::new(),
                }],
            },
        );
        let shared: Shared = Arc::new(RwLock::new(Arc::new(table)));
        let mut q = Message::new();
        q.set_id(7)
            .set_message_type(MessageType::Query)
            .set_op_code(OpCode::Query)
            .add_query(Query::query(
                Name::from_ascii("example.org.").unwrap(),
                RecordType::A,
            ));
        let bytes = q.to_vec().unwrap();
        let all = FORWARDS.acquire_many(MAX_FORWARDS as u32).await.unwrap();
        let started = std::time::Instant::now();
        let reply = handle("c", &bytes, &shared, false).await.unwrap();
        assert!(started.elapsed() < UPSTREAM_TIMEOUT);
        let reply = Message::from_vec(&reply).unwrap();
        assert_eq!(
            (reply.id(), reply.response_code()),
            (7, ResponseCode::ServFail)
        );
        drop(all);
        // A name of the network is answered whatever the forwards do.
        let mut own = q.clone();
        own.queries_mut()[0] = Query::query(Name::from_ascii("c.").unwrap(), RecordType::A);
        let reply = handle("c", &own.to_vec().unwrap(), &shared, false)
            .await
            .unwrap();
        assert_eq!(Message::from_vec(&reply).unwrap().answers().len(), 1);
    }
}
