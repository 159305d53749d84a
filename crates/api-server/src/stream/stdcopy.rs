//! Docker's stream multiplexing: each chunk of output is framed with an 8-byte header
//! `[stream, 0, 0, 0, size (u32 big-endian)]`; stream 0 is stdin, 1 stdout, 2 stderr.

use bytes::{BufMut, Bytes, BytesMut};

use crate::backend::LogChunk;

/// Frames `data` for `stream`. Chunks over `u32::MAX` are split.
pub fn frame(stream: u8, data: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(data.len() + 8);
    if data.is_empty() {
        out.put_slice(&[stream, 0, 0, 0, 0, 0, 0, 0]);
    }
    for chunk in data.chunks(u32::MAX as usize) {
        out.put_slice(&[stream, 0, 0, 0]);
        out.put_u32(chunk.len() as u32);
        out.put_slice(chunk);
    }
    out.freeze()
}

/// Turns log chunks into the wire: raw for a TTY, multiplexed frames otherwise, with the
/// entry's time in front when `timestamps` is asked.
pub fn encode(tty: bool, timestamps: bool) -> impl FnMut(LogChunk) -> Bytes {
    move |c: LogChunk| {
        let data = if timestamps {
            let mut d = Vec::with_capacity(c.time.len() + 1 + c.data.len());
            d.extend_from_slice(c.time.as_bytes());
            d.push(b' ');
            d.extend_from_slice(&c.data);
            Bytes::from(d)
        } else {
            c.data
        };
        if tty {
            data
        } else {
            frame(c.stream, &data)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_layout() {
        let f = frame(2, b"hello");
        assert_eq!(&f[..8], &[2, 0, 0, 0, 0, 0, 0, 5]);
        assert_eq!(&f[8..], b"hello");
        assert_eq!(frame(1, b"").len(), 8);
    }
}
