//! The answers, as pure functions of the table: which addresses a name has for a container
//! (the names of the containers on its networks, `name.network` too), which name an address
//! has, and when to forward.

use std::net::Ipv4Addr;

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::{rdata, Name, RData, Record, RecordType};

use crate::table::{Sandbox, Table};

/// Docker's TTL for the names it answers.
const TTL: u32 = 600;

/// What to do with a question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// A name of the networks: these addresses (none for a type it has no record of).
    Addresses(Vec<Ipv4Addr>),
    /// An address of the networks: this name.
    Pointer(String),
    /// Not ours: ask the upstream servers.
    Forward,
}

fn normal(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// Looks `name` up for the container of `asker`.
pub fn lookup(table: &Table, asker: &Sandbox, name: &str, qtype: RecordType) -> Lookup {
    let wanted = normal(name);
    if qtype == RecordType::PTR {
        return match reverse(table, asker, &wanted) {
            Some(n) => Lookup::Pointer(n),
            None => Lookup::Forward,
        };
    }
    let mut found: Vec<Ipv4Addr> = Vec::new();
    for mine in &asker.endpoints {
        let qualified = format!(".{}", mine.network_name.to_ascii_lowercase());
        // A link's alias stands for the linked container's name, for this container only.
        let linked = mine
            .links
            .iter()
            .find(|(alias, _)| alias.eq_ignore_ascii_case(&wanted))
            .map(|(_, target)| target.to_ascii_lowercase());
        let wanted = linked.as_deref().unwrap_or(&wanted);
        let bare = wanted.strip_suffix(&qualified);
        for other in table.sandboxes.values() {
            for ep in other
                .endpoints
                .iter()
                .filter(|e| e.network_id == mine.network_id)
            {
                let hit = ep.names.iter().any(|n| {
                    let n = n.to_ascii_lowercase();
                    n == *wanted || bare == Some(n.as_str())
                });
                if hit && !found.contains(&ep.ip) {
                    found.push(ep.ip);
                }
            }
        }
    }
    match (found.is_empty(), qtype) {
        (true, _) => Lookup::Forward,
        (false, RecordType::A) => Lookup::Addresses(found),
        // A name of ours without an address of this type: an empty answer, not a forward.
        (false, _) => Lookup::Addresses(Vec::new()),
    }
}

/// `d.c.b.a.in-addr.arpa` of an address on one of the asker's networks: `name.network`.
fn reverse(table: &Table, asker: &Sandbox, wanted: &str) -> Option<String> {
    let octets: Vec<u8> = wanted
        .strip_suffix(".in-addr.arpa")?
        .split('.')
        .map(|p| p.parse().ok())
        .collect::<Option<Vec<u8>>>()?;
    let [d, c, b, a] = octets.as_slice() else {
        return None;
    };
    let ip = Ipv4Addr::new(*a, *b, *c, *d);
    asker.endpoints.iter().find_map(|mine| {
        table.sandboxes.values().find_map(|other| {
            other
                .endpoints
                .iter()
                .find(|e| e.network_id == mine.network_id && e.ip == ip)
                .and_then(|e| e.names.first())
                .map(|n| format!("{n}.{}", mine.network_name))
        })
    })
}

/// The reply to `query` from the table, or `None` to forward it (or to drop what is not a
/// query at all).
pub fn respond(table: &Table, asker: &Sandbox, query: &Message) -> Option<Message> {
    if query.message_type() != MessageType::Query || query.op_code() != OpCode::Query {
        return None;
    }
    let q = query.queries().first()?;
    let name = q.name().to_ascii();
    let found = lookup(table, asker, &name, q.query_type());
    let mut reply = Message::new();
    reply
        .set_id(query.id())
        .set_message_type(MessageType::Response)
        .set_op_code(OpCode::Query)
        .set_recursion_desired(query.recursion_desired())
        .set_recursion_available(true)
        .set_response_code(ResponseCode::NoError)
        .add_query(q.clone());
    match found {
        Lookup::Forward => return None,
        Lookup::Addresses(ips) => {
            for ip in ips {
                reply.add_answer(Record::from_rdata(
                    q.name().clone(),
                    TTL,
                    RData::A(rdata::A(ip)),
                ));
            }
        }
        Lookup::Pointer(target) => {
            let target = Name::from_ascii(format!("{target}.")).ok()?;
            reply.add_answer(Record::from_rdata(
                q.name().clone(),
                TTL,
                RData::PTR(rdata::PTR(target)),
            ));
        }
    }
    Some(reply)
}

/// A failure reply (SERVFAIL) to a query no upstream answered.
pub fn server_failure(query: &[u8]) -> Option<Vec<u8>> {
    let q = Message::from_vec(query).ok()?;
    let mut reply = Message::new();
    reply
        .set_id(q.id())
        .set_message_type(MessageType::Response)
        .set_op_code(q.op_code())
        .set_recursion_desired(q.recursion_desired())
        .set_recursion_available(true)
        .set_response_code(ResponseCode::ServFail)
        .add_queries(q.queries().to_vec());
    reply.to_vec().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::Endpoint;

    fn sandbox(eps: &[(&str, [u8; 4], &[&str])]) -> Sandbox {
        Sandbox {
            endpoints: eps
                .iter()
                .map(|(net, ip, names)| Endpoint {
                    network_id: net.to_string(),
                    network_name: format!("{net}-name"),
                    ip: Ipv4Addr::from(*ip),
                    names: names.iter().map(|s| s.to_string()).collect(),
                    links: Vec::new(),
                })
                .collect(),
            ..Sandbox::default()
        }
    }

    fn table() -> Table {
        let mut t = Table::default();
        t.sandboxes.insert(
            "a".into(),
            sandbox(&[("n1", [10, 1, 0, 2], &["web", "alias1", "aaaaaaaaaaaa"])]),
        );
        t.sandboxes.insert(
            "b".into(),
            sandbox(&[
                ("n1", [10, 1, 0, 3], &["client"]),
                ("n2", [10, 2, 0, 3], &["client"]),
            ]),
        );
        t.sandboxes.insert(
            "c".into(),
            sandbox(&[("n2", [10, 2, 0, 4], &["other", "web2"])]),
        );
        // A second replica behind the same alias.
        t.sandboxes.insert(
            "d".into(),
            sandbox(&[("n1", [10, 1, 0, 5], &["web-2", "alias1"])]),
        );
        t
    }

    #[test]
    fn names_resolve_only_across_a_shared_network() {
        let t = table();
        let b = &t.sandboxes["b"];
        let c = &t.sandboxes["c"];
        let a = &t.sandboxes["a"];
        let ip = |x: [u8; 4]| Ipv4Addr::from(x);
        assert_eq!(
            lookup(&t, b, "web", RecordType::A),
            Lookup::Addresses(vec![ip([10, 1, 0, 2])])
        );
        assert_eq!(
            lookup(&t, b, "WEB.", RecordType::A),
            Lookup::Addresses(vec![ip([10, 1, 0, 2])])
        );
        assert_eq!(
            lookup(&t, b, "other", RecordType::A),
            Lookup::Addresses(vec![ip([10, 2, 0, 4])])
        );
        // `a` shares no network with `c`.
        assert_eq!(lookup(&t, a, "other", RecordType::A), Lookup::Forward);
        assert_eq!(lookup(&t, c, "web", RecordType::A), Lookup::Forward);
        // An alias several containers carry: all of them.
        assert_eq!(
            lookup(&t, b, "alias1", RecordType::A),
            Lookup::Addresses(vec![ip([10, 1, 0, 2]), ip([10, 1, 0, 5])])
        );
        // `name.network`.
        assert_eq!(
            lookup(&t, b, "web.n1-name", RecordType::A),
            Lookup::Addresses(vec![ip([10, 1, 0, 2])])
        );
        assert_eq!(lookup(&t, b, "web.n2-name", RecordType::A), Lookup::Forward);
        // The client itself, on both of its networks.
        assert_eq!(
            lookup(&t, b, "client", RecordType::A),
            Lookup::Addresses(vec![ip([10, 1, 0, 3]), ip([10, 2, 0, 3])])
        );
        assert_eq!(
            lookup(&t, b, "web", RecordType::AAAA),
            Lookup::Addresses(vec![])
        );
        assert_eq!(lookup(&t, b, "example.org", RecordType::A), Lookup::Forward);
        assert_eq!(
            lookup(&t, b, "2.0.1.10.in-addr.arpa", RecordType::PTR),
            Lookup::Pointer("web.n1-name".into())
        );
        assert_eq!(
            lookup(&t, c, "2.0.1.10.in-addr.arpa", RecordType::PTR),
            Lookup::Forward
        );
    }

    #[test]
    fn replies_keep_the_id_and_question() {
        let t = table();
        let mut q = Message::new();
        q.set_id(4242)
            .set_message_type(MessageType::Query)
            .set_op_code(OpCode::Query)
            .set_recursion_desired(true)
            .add_query(hickory_proto::op::Query::query(
                Name::from_ascii("web.").unwrap(),
                RecordType::A,
            ));
        let reply = respond(&t, &t.sandboxes["b"], &q).unwrap();
        assert_eq!(reply.id(), 4242);
        assert_eq!(reply.answers().len(), 1);
        assert_eq!(reply.response_code(), ResponseCode::NoError);
        let bytes = reply.to_vec().unwrap();
        assert_eq!(
            Message::from_vec(&bytes).unwrap().answers()[0].data(),
            &RData::A(rdata::A(Ipv4Addr::new(10, 1, 0, 2)))
        );
        let fail = Message::from_vec(&server_failure(&q.to_vec().unwrap()).unwrap()).unwrap();
        assert_eq!(
            (fail.id(), fail.response_code()),
            (4242, ResponseCode::ServFail)
        );
    }
}
