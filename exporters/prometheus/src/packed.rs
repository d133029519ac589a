//! A family's sample lines, kept as they are or lz4-compressed in blocks of whole series
//! (`page_compression: lz4`). The rendered page is most of what the agent holds on a large
//! cluster; packed, it takes several times less, and a scrape unpacks one block at a time
//! while writing it. Prometheus scrapes with gzip, which is made once per page either way.
//! Blocks are only ever made by this process and never read from outside it, which is why
//! the crate's unchecked (faster) decoder is the one built.

use std::sync::Arc;

use bytes::Bytes;
use pipeline::http_server::{Chunk, Unpack};

/// A block is closed at the first series boundary past this size. Unpacked, a block stays
/// under the agent's 128 KiB mmap threshold, so each scrape's buffers come from the heap,
/// not from fresh mappings; lz4 finds the repeated label sets within its 64 KiB window
/// anyway. With the crate's checked decoder, a full scrape of 300k series took 36 ms with
/// 64 KiB blocks, 29 ms with 256 KiB and 25 ms with 96 KiB (22 ms unpacked); with its
/// default decoder (what we build), 23 ms at 96 KiB.
pub const BLOCK: usize = 96 * 1024;

#[derive(Debug)]
pub struct Block {
    packed: Box<[u8]>,
    len: usize,
}

impl Block {
    fn pack(lines: &[u8]) -> Self {
        Self {
            packed: lz4_flex::block::compress(lines).into_boxed_slice(),
            len: lines.len(),
        }
    }
}

impl Unpack for Block {
    fn unpacked_len(&self) -> usize {
        self.len
    }

    fn packed_len(&self) -> usize {
        self.packed.len()
    }

    fn unpack(&self) -> Bytes {
        match lz4_flex::block::decompress(&self.packed, self.len) {
            Ok(v) => Bytes::from(v),
            // Only this process packs these bytes; a failure is a bug, and the response
            // comes out short of its length, so the scrape fails rather than lies.
            Err(e) => {
                tracing::error!(error = %e, "a packed block of the page does not unpack");
                Bytes::new()
            }
        }
    }
}

/// Sample lines of one family, frozen.
#[derive(Debug, Clone)]
pub enum Lines {
    Plain(Bytes),
    Packed {
        blocks: Arc<[Arc<Block>]>,
        len: usize,
    },
}

impl Default for Lines {
    fn default() -> Self {
        Lines::Plain(Bytes::new())
    }
}

impl Lines {
    /// The length of the lines themselves.
    pub fn len(&self) -> usize {
        match self {
            Lines::Plain(b) => b.len(),
            Lines::Packed { len, .. } => *len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// What holding them takes.
    pub fn held(&self) -> usize {
        match self {
            Lines::Plain(b) => b.len(),
            Lines::Packed { blocks, .. } => blocks.iter().map(|b| b.packed_len()).sum(),
        }
    }

    /// The lines as response chunks, shared, not copied.
    pub fn chunks(&self, out: &mut Vec<Chunk>) {
        match self {
            Lines::Plain(b) => out.push(Chunk::Bytes(b.clone())),
            Lines::Packed { blocks, .. } => out.extend(
                blocks
                    .iter()
                    .map(|b| Chunk::Packed(Arc::clone(b) as Arc<dyn Unpack>)),
            ),
        }
    }

    /// The lines in one buffer (a copy when packed).
    pub fn to_bytes(&self) -> Bytes {
        match self {
            Lines::Plain(b) => b.clone(),
            Lines::Packed { blocks, len } => {
                let mut out = Vec::with_capacity(*len);
                for b in blocks.iter() {
                    out.extend_from_slice(&b.unpack());
                }
                Bytes::from(out)
            }
        }
    }
}

/// Lines while a family is rendered. With packing on, whole series are packed as soon as a
/// block's worth has been written, so a source's page never exists unpacked.
#[derive(Debug, Clone, Default)]
pub struct LineBuf {
    /// Lines written since the last block; whole series only at [`LineBuf::series_done`].
    pub tail: Vec<u8>,
    blocks: Vec<Arc<Block>>,
    packed_len: usize,
    pack: bool,
}

impl LineBuf {
    pub fn new(pack: bool) -> Self {
        Self {
            pack,
            ..Self::default()
        }
    }

    /// Bytes written so far, packed or not.
    pub fn len(&self) -> usize {
        self.packed_len + self.tail.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Called after each series: the lines so far may become a block.
    pub fn series_done(&mut self) {
        if self.pack && self.tail.len() >= BLOCK {
            self.close_block();
        }
    }

    fn close_block(&mut self) {
        self.blocks.push(Arc::new(Block::pack(&self.tail)));
        self.packed_len += self.tail.len();
        self.tail.clear();
    }

    pub fn finish(mut self) -> Lines {
        if !self.pack {
            // Growing leaves up to half the capacity unused: give it back before the lines
            // are kept for the source's lifetime.
            self.tail.shrink_to_fit();
            return Lines::Plain(Bytes::from(self.tail));
        }
        if !self.tail.is_empty() {
            self.close_block();
        }
        Lines::Packed {
            blocks: Arc::from(self.blocks),
            len: self.packed_len,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(i: usize) -> String {
        format!(
            "emcecs_bucket_size_bytes{{bucket=\"b{i}\",namespace=\"ns{}\",job=\"ecs-otel-agent\"}} {}\n",
            i % 7,
            i * 31
        )
    }

    fn write(pack: bool, n: usize) -> (Lines, String) {
        let mut buf = LineBuf::new(pack);
        let mut all = String::new();
        for i in 0..n {
            let s = series(i);
            buf.tail.extend_from_slice(s.as_bytes());
            all.push_str(&s);
            buf.series_done();
            assert_eq!(buf.len(), all.len());
        }
        (buf.finish(), all)
    }

    fn joined(lines: &Lines) -> Vec<u8> {
        let mut chunks = Vec::new();
        lines.chunks(&mut chunks);
        chunks.iter().flat_map(|c| c.bytes().to_vec()).collect()
    }

    #[test]
    fn packed_lines_unpack_to_what_was_written_in_blocks_of_whole_series() {
        let (lines, all) = write(true, 5_000);
        let Lines::Packed { blocks, len } = &lines else {
            panic!("not packed");
        };
        assert_eq!(*len, all.len());
        assert!(blocks.len() > 3, "{} blocks", blocks.len());
        for b in blocks.iter() {
            let text = b.unpack();
            assert_eq!(text.len(), b.unpacked_len());
            assert!(text.len() >= BLOCK || Arc::ptr_eq(b, &blocks[blocks.len() - 1]));
            assert!(text.starts_with(b"emcecs_bucket_size_bytes{") && text.ends_with(b"\n"));
        }
        assert_eq!(joined(&lines), all.as_bytes());
        assert_eq!(lines.to_bytes(), all.as_bytes());
        assert!(
            lines.held() * 4 < all.len(),
            "held {} of {}",
            lines.held(),
            all.len()
        );
    }

    #[test]
    fn plain_lines_are_one_chunk_and_an_empty_family_is_empty_either_way() {
        let (lines, all) = write(false, 500);
        assert!(matches!(lines, Lines::Plain(_)));
        assert_eq!(joined(&lines), all.as_bytes());
        assert_eq!(lines.held(), all.len());
        for pack in [false, true] {
            let (empty, _) = write(pack, 0);
            assert!(empty.is_empty() && joined(&empty).is_empty());
        }
    }
}
