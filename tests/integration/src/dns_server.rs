//! A DNS server for tests: answers A questions for the names it is given, on a loopback
//! address of the host, and counts the questions it got.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::{rdata, RData, Record};

pub struct DnsServer {
    pub addr: Ipv4Addr,
    pub questions: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl DnsServer {
    /// Serves `names` (lower case, no trailing dot) on `addr`:53; NXDOMAIN for the rest.
    pub fn start(addr: Ipv4Addr, names: &[(&str, Ipv4Addr)]) -> DnsServer {
        let socket = UdpSocket::bind((addr, 53)).expect("bind the test DNS server");
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let names: BTreeMap<String, Ipv4Addr> =
            names.iter().map(|(n, ip)| (n.to_string(), *ip)).collect();
        let stop = Arc::new(AtomicBool::new(false));
        let questions = Arc::new(AtomicUsize::new(0));
        let (s, q) = (stop.clone(), questions.clone());
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 1500];
            while !s.load(Ordering::SeqCst) {
                let Ok((n, peer)) = socket.recv_from(&mut buf) else {
                    continue;
                };
                let Ok(query) = Message::from_vec(&buf[..n]) else {
                    continue;
                };
                q.fetch_add(1, Ordering::SeqCst);
                let mut reply = Message::new();
                reply
                    .set_id(query.id())
                    .set_message_type(MessageType::Response)
                    .set_recursion_desired(query.recursion_desired())
                    .set_recursion_available(true)
                    .add_queries(query.queries().to_vec());
                let found = query.queries().first().and_then(|qq| {
                    let name = qq
                        .name()
                        .to_ascii()
                        .trim_end_matches('.')
                        .to_ascii_lowercase();
                    names.get(&name).map(|ip| (qq.clone(), *ip))
                });
                match found {
                    Some((qq, ip)) if qq.query_type() == hickory_proto::rr::RecordType::A => {
                        reply.add_answer(Record::from_rdata(
                            qq.name().clone(),
                            60,
                            RData::A(rdata::A(ip)),
                        ));
                    }
                    Some(_) => {}
                    None => {
                        reply.set_response_code(ResponseCode::NXDomain);
                    }
                }
                if let Ok(bytes) = reply.to_vec() {
                    let _ = socket.send_to(&bytes, peer);
                }
            }
        });
        DnsServer {
            addr,
            questions,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
