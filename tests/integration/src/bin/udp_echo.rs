//! A UDP echo server for network tests (busybox's nc has no UDP): `udp_echo PORT` answers
//! every datagram with itself and prints it. Tests mount it, with the host's C library, into
//! a busybox container.

use std::io::Write;
use std::net::{Ipv4Addr, UdpSocket};

fn main() {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("usage: udp_echo PORT");
    let sock = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, port)).expect("bind");
    let mut buf = [0u8; 2048];
    loop {
        let Ok((n, peer)) = sock.recv_from(&mut buf) else {
            continue;
        };
        let _ = sock.send_to(&buf[..n], peer);
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(&buf[..n]);
        let _ = out.flush();
    }
}
