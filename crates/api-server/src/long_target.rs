//! Request targets longer than hyper takes.
//!
//! hyper (and the `http` crate's `Uri`) answer 414 to a request target over 65,534 bytes;
//! Go's server, and so Docker's, takes request heads up to 1 MiB (`docker ps` with many
//! filters, `images/get` with many names). [`HeadFramer`] sits between the socket and hyper:
//! it follows the connection's requests (a head, then a body of `Content-Length` bytes) and
//! moves a target too long for hyper into a header, leaving hyper a short placeholder path;
//! the router takes the target back from the header ([`original_target`]). After a chunked
//! body, or a request that may take the connection over (attach, exec start, any upgrade),
//! the bytes that follow are not requests it can frame: it passes everything through.
//!
//! Written by hand because no HTTP library rewrites a request head in flight; httparse
//! (hyper's own parser) does the parsing.

use bytes::{Bytes, BytesMut};

/// The path hyper sees for a request whose target was too long for it.
pub(crate) const PLACEHOLDER: &str = "/.berth/long-target";
/// Where the original target travels.
pub(crate) const TARGET_HEADER: &str = "x-berth-long-target";

/// hyper's limit on a request target.
const HYPER_MAX_TARGET: usize = 65_534;

/// The longest request head taken: Go's `DefaultMaxHeaderBytes` (1 MiB) and the 4 KiB it
/// allows past it.
pub(crate) const MAX_HEAD: usize = (1 << 20) + 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Collecting a request head.
    Head,
    /// Passing this many more body bytes, then a head again.
    Body(u64),
    /// Passing everything through.
    Through,
}

/// The read side of a connection as hyper sees it; see the module's documentation.
#[derive(Debug)]
pub(crate) struct HeadFramer {
    state: State,
    /// Read from the socket, not yet framed.
    held: BytesMut,
    /// Framed, for hyper to read.
    out: BytesMut,
}

impl Default for HeadFramer {
    fn default() -> Self {
        Self {
            state: State::Head,
            held: BytesMut::new(),
            out: BytesMut::new(),
        }
    }
}

impl HeadFramer {
    /// Whether bytes from the socket must come through [`HeadFramer::feed`]; when not, they
    /// may go to hyper directly (a body being passed, or everything).
    pub(crate) fn wants_input(&self) -> bool {
        self.state == State::Head || !self.held.is_empty()
    }

    /// Bytes ready for hyper.
    pub(crate) fn ready(&mut self) -> &mut BytesMut {
        &mut self.out
    }

    /// Takes bytes read from the socket (`data`, empty at the end of the stream) and frames
    /// what it can.
    pub(crate) fn feed(&mut self, data: &[u8]) {
        let eof = data.is_empty();
        self.held.extend_from_slice(data);
        loop {
            match self.state {
                State::Through => {
                    let all = self.held.split();
                    self.out.unsplit(all);
                    return;
                }
                State::Body(n) => {
                    let take = (n.min(self.held.len() as u64)) as usize;
                    let part = self.held.split_to(take);
                    self.out.unsplit(part);
                    let left = n - take as u64;
                    self.state = if left == 0 {
                        State::Head
                    } else {
                        State::Body(left)
                    };
                    if left > 0 || self.held.is_empty() {
                        return;
                    }
                }
                State::Head => {
                    let Some(end) = find(&self.held, b"\r\n\r\n") else {
                        if eof || self.held.len() > MAX_HEAD {
                            // Incomplete or oversized: hyper answers it.
                            self.state = State::Through;
                            continue;
                        }
                        return;
                    };
                    let head = self.held.split_to(end + 4).freeze();
                    let (framed, next) = frame(head);
                    self.out.extend_from_slice(&framed);
                    self.state = next;
                    if self.held.is_empty() {
                        return;
                    }
                }
            }
        }
    }

    /// Accounts for body bytes that went to hyper directly (read while no input was wanted).
    pub(crate) fn passed(&mut self, n: usize) -> usize {
        match self.state {
            State::Body(left) => {
                let n = n as u64;
                if n < left {
                    self.state = State::Body(left - n);
                    0
                } else {
                    self.state = State::Head;
                    // What came past the body: the start of the next request, to frame.
                    (n - left) as usize
                }
            }
            _ => 0,
        }
    }

    /// What was read but not handed to hyper, for whoever takes the connection over.
    pub(crate) fn into_leftover(mut self) -> Bytes {
        let held = self.held.split();
        self.out.unsplit(held);
        self.out.freeze()
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// One request head: rewritten when its target is too long for hyper, and what follows it.
fn frame(head: Bytes) -> (Bytes, State) {
    let mut headers = [httparse::EMPTY_HEADER; 128];
    let mut req = httparse::Request::new(&mut headers);
    let Ok(httparse::Status::Complete(_)) = req.parse(&head) else {
        // Not a request hyper can take either: it answers, and nothing after is framed.
        return (head, State::Through);
    };
    let path = req.path.unwrap_or("");
    let header = |name: &str| {
        req.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| String::from_utf8_lossy(h.value).into_owned())
    };
    let target_path = path.split('?').next().unwrap_or("");
    let takes_over = header("upgrade").is_some()
        || target_path.ends_with("/attach")
        || target_path.ends_with("/attach/ws")
        || (target_path.contains("/exec/") && target_path.ends_with("/start"));
    let next = if takes_over || header("transfer-encoding").is_some() {
        State::Through
    } else {
        match header("content-length").map(|l| l.trim().parse::<u64>()) {
            Some(Ok(0)) | None => State::Head,
            Some(Ok(n)) => State::Body(n),
            Some(Err(_)) => State::Through,
        }
    };
    if path.len() <= HYPER_MAX_TARGET {
        return (head, next);
    }
    let line_end = find(&head, b"\r\n").expect("a complete head has a line");
    let method = req.method.unwrap_or("GET");
    let version = req.version.unwrap_or(1);
    let mut out = BytesMut::with_capacity(head.len() + 64);
    out.extend_from_slice(format!("{method} {PLACEHOLDER} HTTP/1.{version}\r\n").as_bytes());
    // The header lines, without the blank line that ends them.
    out.extend_from_slice(&head[line_end + 2..head.len() - 2]);
    out.extend_from_slice(format!("{TARGET_HEADER}: {path}\r\n\r\n").as_bytes());
    (out.freeze(), next)
}

/// The request's target as the client sent it: the path and query.
pub(crate) fn original_target<B>(req: &http::Request<B>) -> (String, Option<String>) {
    if req.uri().path() == PLACEHOLDER {
        if let Some(t) = req.headers().get(TARGET_HEADER) {
            let t = String::from_utf8_lossy(t.as_bytes()).into_owned();
            return match t.split_once('?') {
                Some((p, q)) => (p.to_string(), Some(q.to_string())),
                None => (t, None),
            };
        }
    }
    (
        req.uri().path().to_string(),
        req.uri().query().map(str::to_string),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(input: &[&[u8]]) -> (Vec<u8>, HeadFramer) {
        let mut f = HeadFramer::default();
        let mut out = Vec::new();
        for chunk in input {
            f.feed(chunk);
            out.extend_from_slice(&f.ready().split());
        }
        (out, f)
    }

    #[test]
    fn short_requests_pass_unchanged_in_any_pieces() {
        let two = b"GET /_ping HTTP/1.1\r\nHost: x\r\n\r\nPOST /containers/create HTTP/1.1\r\nContent-Length: 4\r\n\r\n{}{}GET /version HTTP/1.1\r\n\r\n";
        for split in [1, 7, 30, 64, two.len()] {
            let pieces: Vec<&[u8]> = two.chunks(split).collect();
            let (out, f) = run(&pieces);
            assert_eq!(out, two.to_vec(), "pieces of {split}");
            assert_eq!(f.state, State::Head);
        }
    }

    #[test]
    fn a_long_target_moves_into_a_header() {
        let long = format!("/images/get?names={}", "a".repeat(200_000));
        let head = format!("GET {long} HTTP/1.1\r\nHost: x\r\n\r\nGET /_ping HTTP/1.1\r\n\r\n");
        let (out, _) = run(&[head.as_bytes()]);
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            format!("GET {PLACEHOLDER} HTTP/1.1\r\nHost: x\r\n{TARGET_HEADER}: {long}\r\n\r\nGET /_ping HTTP/1.1\r\n\r\n")
        );
        let req = http::Request::builder()
            .uri(PLACEHOLDER)
            .header(TARGET_HEADER, &long)
            .body(())
            .unwrap();
        let (path, query) = original_target(&req);
        assert_eq!(path, "/images/get");
        assert_eq!(query.unwrap().len(), 200_006);
    }

    #[test]
    fn bodies_are_skipped_and_takeovers_end_the_framing() {
        // A body that looks like a request is not one.
        let body = b"GET /x HTTP/1.1\r\n\r\n";
        let req = format!(
            "POST /build HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        let (out, f) = run(&[req.as_bytes(), &body[..5], &body[5..]]);
        assert_eq!(out.len(), req.len() + body.len());
        assert_eq!(f.state, State::Head);
        for head in [
            "POST /containers/x/attach?stream=1 HTTP/1.1\r\n\r\n",
            "POST /exec/x/start HTTP/1.1\r\nContent-Length: 2\r\n\r\n",
            "POST /load HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
            "GET /x HTTP/1.1\r\nUpgrade: tcp\r\n\r\n",
        ] {
            let (_, f) = run(&[head.as_bytes()]);
            assert_eq!(f.state, State::Through, "{head}");
        }
        // What follows a takeover goes through untouched, and is left for the session.
        let mut f = HeadFramer::default();
        f.feed(b"POST /containers/x/attach HTTP/1.1\r\n\r\nstdin bytes");
        assert_eq!(
            &f.into_leftover()[..],
            b"POST /containers/x/attach HTTP/1.1\r\n\r\nstdin bytes"
        );
    }

    #[test]
    fn bodies_read_directly_are_accounted() {
        let mut f = HeadFramer::default();
        f.feed(b"POST /x HTTP/1.1\r\nContent-Length: 10\r\n\r\n");
        f.ready().clear();
        assert!(!f.wants_input());
        assert_eq!(f.passed(4), 0);
        // Six more bytes finish the body; three past it start the next request.
        assert_eq!(f.passed(9), 3);
        assert!(f.wants_input());
    }
}
