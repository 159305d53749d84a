//! Compression detection by magic number, as Docker's `archive.DetectCompression`.

use std::io::{BufRead, BufReader, Cursor, Read};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Bzip2,
    Xz,
    Zstd,
}

impl Compression {
    /// Detects the compression of a stream from its first bytes.
    pub fn detect(head: &[u8]) -> Compression {
        if head.starts_with(&[0x1f, 0x8b, 0x08]) {
            Compression::Gzip
        } else if head.starts_with(b"BZh") {
            Compression::Bzip2
        } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
            Compression::Xz
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }
}

/// Wraps `reader` in the decompressor its first bytes call for.
pub fn decompress<'a, R: Read + Send + 'a>(
    mut reader: R,
) -> std::io::Result<(Compression, Box<dyn Read + Send + 'a>)> {
    // Peek at the magic number, then put the peeked bytes back in front of the stream.
    let mut head = [0u8; 6];
    let mut len = 0;
    while len < head.len() {
        match reader.read(&mut head[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    let kind = Compression::detect(&head[..len]);
    let stream =
        BufReader::with_capacity(64 * 1024, Cursor::new(head[..len].to_vec()).chain(reader));
    Ok((kind, decoder(kind, stream)?))
}

/// The reader of `stream`'s content, `kind` taken off.
fn decoder<'a, B: BufRead + Send + 'a>(
    kind: Compression,
    stream: B,
) -> std::io::Result<Box<dyn Read + Send + 'a>> {
    Ok(match kind {
        Compression::None => Box::new(stream),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(stream)),
        Compression::Bzip2 => Box::new(bzip2::bufread::MultiBzDecoder::new(stream)),
        Compression::Xz => Box::new(liblzma::bufread::XzDecoder::new_multi_decoder(stream)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(stream)?),
    })
}

/// As [`decompress`], for a reader that buffers already (a request body read in batches):
/// no second buffer, and so no second copy of every byte, when the stream is not compressed.
pub fn decompress_buffered<'a, R: BufRead + Send + 'a>(
    mut reader: R,
) -> std::io::Result<(Compression, Box<dyn Read + Send + 'a>)> {
    let head = reader.fill_buf()?;
    if head.len() < 6 {
        // Too little in hand to tell: the general way.
        return decompress(reader);
    }
    let kind = Compression::detect(&head[..6]);
    Ok((kind, decoder(kind, reader)?))
}

/// Whether the file at `path` is a tar archive, compressed or not (a ustar header first):
/// what a build's ADD extracts and a remote context unpacks.
pub fn is_tar_file(path: &std::path::Path) -> bool {
    let Ok(f) = std::fs::File::open(path) else {
        return false;
    };
    let Ok((_, mut reader)) = decompress(f) else {
        return false;
    };
    let mut block = [0u8; 512];
    reader.read_exact(&mut block).is_ok() && &block[257..262] == b"ustar"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffered_readers_are_decompressed_without_a_second_buffer() {
        let plain = b"0123456789 a stream that is long enough to sniff".to_vec();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &plain).unwrap();
        let gz = gz.finish().unwrap();
        for (input, kind) in [(plain.clone(), Compression::None), (gz, Compression::Gzip)] {
            let (found, mut r) = decompress_buffered(std::io::Cursor::new(input)).unwrap();
            assert_eq!(found, kind);
            let mut out = Vec::new();
            r.read_to_end(&mut out).unwrap();
            assert_eq!(out, plain);
        }
        // Fewer bytes than a magic number: the general way.
        let (found, mut r) = decompress_buffered(std::io::Cursor::new(b"ab".to_vec())).unwrap();
        assert_eq!(found, Compression::None);
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"ab");
    }
    use std::io::Write;

    fn roundtrip(kind: Compression, data: &[u8]) {
        let packed = match kind {
            Compression::None => data.to_vec(),
            Compression::Gzip => {
                let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            Compression::Bzip2 => {
                let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            Compression::Xz => {
                let mut e = liblzma::write::XzEncoder::new(Vec::new(), 1);
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            Compression::Zstd => zstd::stream::encode_all(data, 1).unwrap(),
        };
        let (detected, mut r) = decompress(Cursor::new(packed)).unwrap();
        assert_eq!(detected, kind);
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(out, data);
    }

    #[test]
    fn detects_and_decompresses_every_kind() {
        let data = b"some tar-ish bytes that repeat, repeat, repeat".repeat(100);
        for kind in [
            Compression::None,
            Compression::Gzip,
            Compression::Bzip2,
            Compression::Xz,
            Compression::Zstd,
        ] {
            roundtrip(kind, &data);
        }
        roundtrip(Compression::None, b"ab");
        roundtrip(Compression::None, b"");
    }
}
