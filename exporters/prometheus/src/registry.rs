//! The latest rendered snapshot of every source, and the exposition made from their union.
//! The exposition is assembled once per change and format, and shared by every scrape until
//! the next change. A new exposition is served only once the encodings scrapers asked for
//! are made ([`Exposition::prepare`]), so that no scrape ever waits for gzip.

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use flate2::Compression;
use flate2::write::GzEncoder;

use pipeline::http_server::{Chunk, Generation};

use crate::naming::FamilyKind;
use crate::packed::Lines;
use crate::render::{Family, SourceRender};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Prometheus text format 0.0.4.
    Text,
    /// OpenMetrics 1.0.
    OpenMetrics,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

struct Entry {
    render: Arc<SourceRender>,
    updated: Instant,
    ttl: Duration,
}

/// An exposition as shared chunks: metadata lines and the sources' own line buffers,
/// referenced, not copied.
pub type Rope = Arc<[Chunk]>;

/// One immutable view of all sources, with its encodings made on first use.
pub struct Exposition {
    sources: Vec<Arc<SourceRender>>,
    /// Superseded when a newer exposition is served: responses still writing this one to
    /// clients that stopped reading are then cut (see the exporter's `stall_timeout`).
    generation: Arc<Generation>,
    text: OnceLock<Rope>,
    om: OnceLock<Rope>,
    text_gz: OnceLock<Rope>,
    om_gz: OnceLock<Rope>,
}

impl Exposition {
    fn new(sources: Vec<Arc<SourceRender>>) -> Self {
        Self {
            sources,
            generation: Generation::new(),
            text: OnceLock::new(),
            om: OnceLock::new(),
            text_gz: OnceLock::new(),
            om_gz: OnceLock::new(),
        }
    }

    /// The body in `format`, gzip-compressed if asked. May take a while the first time
    /// after a change (large expositions): call it off the async runtime.
    pub fn body(&self, format: Format, gzip: bool) -> Rope {
        let plain = || match format {
            Format::Text => self
                .text
                .get_or_init(|| assemble(&self.sources, Format::Text)),
            Format::OpenMetrics => self
                .om
                .get_or_init(|| assemble(&self.sources, Format::OpenMetrics)),
        };
        if !gzip {
            return plain().clone();
        }
        let cell = match format {
            Format::Text => &self.text_gz,
            Format::OpenMetrics => &self.om_gz,
        };
        cell.get_or_init(|| Arc::from(vec![Chunk::Bytes(compress(plain()))]))
            .clone()
    }

    /// The body as one contiguous buffer (a copy; for tests and tools).
    pub fn body_bytes(&self, format: Format, gzip: bool) -> Bytes {
        let rope = self.body(format, gzip);
        let mut out = BytesMut::with_capacity(rope.iter().map(Chunk::len).sum());
        for c in rope.iter() {
            out.extend_from_slice(&c.bytes());
        }
        out.freeze()
    }

    pub fn series(&self) -> usize {
        self.sources.iter().map(|s| s.series).sum()
    }

    pub fn generation(&self) -> &Arc<Generation> {
        &self.generation
    }

    /// Whether the body in `format` (gzip or not) is already made.
    pub fn is_ready(&self, format: Format, gzip: bool) -> bool {
        match (format, gzip) {
            (Format::Text, false) => self.text.get().is_some(),
            (Format::OpenMetrics, false) => self.om.get().is_some(),
            (Format::Text, true) => self.text_gz.get().is_some(),
            (Format::OpenMetrics, true) => self.om_gz.get().is_some(),
        }
    }

    /// Makes the bodies in `wanted` now. CPU work (gzip): call it off the async runtime.
    pub fn prepare(&self, wanted: Variants) {
        for (format, gzip) in Variants::ALL {
            if wanted.contains(format, gzip) {
                let _ = self.body(format, gzip);
            }
        }
    }
}

/// A set of (format, gzip) encodings, as a bit set that fits an atomic.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Variants(pub u8);

impl Variants {
    const ALL: [(Format, bool); 4] = [
        (Format::Text, false),
        (Format::OpenMetrics, false),
        (Format::Text, true),
        (Format::OpenMetrics, true),
    ];

    /// The identity encodings: cheap (a list of shared chunks), always made ahead.
    pub const IDENTITY: Variants = Variants(0b0011);

    pub fn bit(format: Format, gzip: bool) -> u8 {
        match (format, gzip) {
            (Format::Text, false) => 1,
            (Format::OpenMetrics, false) => 2,
            (Format::Text, true) => 4,
            (Format::OpenMetrics, true) => 8,
        }
    }

    pub fn contains(self, format: Format, gzip: bool) -> bool {
        self.0 & Self::bit(format, gzip) != 0
    }
}

fn compress(rope: &[Chunk]) -> Bytes {
    let size: usize = rope.iter().map(Chunk::len).sum();
    // Level 1: a scrape body compresses about 10× at this level, several times faster
    // than the default level.
    let mut enc = GzEncoder::new(Vec::with_capacity(size / 8), Compression::fast());
    for chunk in rope {
        // Writing into a Vec cannot fail.
        let _ = enc.write_all(&chunk.bytes());
    }
    let mut out = enc.finish().unwrap_or_default();
    out.shrink_to_fit();
    Bytes::from(out)
}

fn escape_help(out: &mut Vec<u8>, help: &str, format: Format) {
    for c in help.chars() {
        match c {
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '"' if format == Format::OpenMetrics => out.extend_from_slice(b"\\\""),
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
}

fn write_metadata(out: &mut Vec<u8>, f: &Family, format: Format) {
    let name = match format {
        Format::Text => &f.name.text,
        Format::OpenMetrics => &f.name.openmetrics,
    };
    let kind = match format {
        Format::Text => f.kind.text_type(),
        Format::OpenMetrics => f.kind.openmetrics_type(),
    };
    if !f.help.is_empty() {
        out.extend_from_slice(b"# HELP ");
        out.extend_from_slice(name.as_bytes());
        out.push(b' ');
        escape_help(out, &f.help, format);
        out.push(b'\n');
    }
    out.extend_from_slice(b"# TYPE ");
    out.extend_from_slice(name.as_bytes());
    out.push(b' ');
    out.extend_from_slice(kind.as_bytes());
    out.push(b'\n');
    if format == Format::OpenMetrics
        && !f.name.unit.is_empty()
        && name.ends_with(&format!("_{}", f.name.unit))
    {
        out.extend_from_slice(b"# UNIT ");
        out.extend_from_slice(name.as_bytes());
        out.push(b' ');
        out.extend_from_slice(f.name.unit.as_bytes());
        out.push(b'\n');
    }
}

/// Collects the exposition's chunks: metadata is written into a small buffer that is cut
/// into a chunk whenever a source's lines (shared, not copied) follow.
struct RopeBuilder {
    chunks: Vec<Chunk>,
    meta: Vec<u8>,
}

impl RopeBuilder {
    fn flush(&mut self) {
        if !self.meta.is_empty() {
            self.chunks
                .push(Chunk::Bytes(Bytes::from(std::mem::take(&mut self.meta))));
        }
    }

    fn push_shared(&mut self, b: Bytes) {
        if b.is_empty() {
            return;
        }
        self.flush();
        self.chunks.push(Chunk::Bytes(b));
    }

    fn push_lines(&mut self, lines: &Lines) {
        if lines.is_empty() {
            return;
        }
        self.flush();
        lines.chunks(&mut self.chunks);
    }

    fn finish(mut self) -> Rope {
        self.flush();
        Arc::from(self.chunks)
    }
}

/// The union of all sources: one HELP/TYPE per family, families sorted by name, series
/// that two sources both expose written once.
fn assemble(sources: &[Arc<SourceRender>], format: Format) -> Rope {
    let mut all: Vec<&Family> = sources.iter().flat_map(|s| s.families.iter()).collect();
    // Stable: within one name, families keep the order of their sources.
    all.sort_by(|a, b| a.name.text.cmp(&b.name.text));
    let mut out = RopeBuilder {
        chunks: Vec::with_capacity(all.len() * 2 + 1),
        meta: Vec::new(),
    };
    let mut i = 0;
    while i < all.len() {
        let first = all[i];
        let mut j = i + 1;
        while j < all.len() && all[j].name.text == first.name.text {
            j += 1;
        }
        let group = &all[i..j];
        write_metadata(&mut out.meta, first, format);
        if group.len() == 1 {
            out.push_lines(lines(first, format));
        } else {
            let mut seen: HashSet<u64> = HashSet::new();
            for f in group.iter().filter(|f| f.kind == first.kind) {
                push_unique(&mut out, f, format, &mut seen);
            }
        }
        i = j;
    }
    if format == Format::OpenMetrics {
        out.meta.extend_from_slice(b"# EOF\n");
    }
    out.finish()
}

fn lines(f: &Family, format: Format) -> &Lines {
    match format {
        Format::Text => &f.text,
        Format::OpenMetrics => f.om_lines(),
    }
}

/// The family's series that no earlier source in the group exposed. A family name that
/// several sources expose is the rule, not the exception (the same collector of several
/// clusters), and their series differ (each carries its cluster's labels): a family none of
/// whose series came before is shared whole, packed or not. Otherwise its lines are
/// sliced around the series already written (runs of kept series become one slice), from
/// an unpacked copy when they are packed.
fn push_unique(out: &mut RopeBuilder, f: &Family, format: Format, seen: &mut HashSet<u64>) {
    let fresh: Vec<bool> = f.spans.iter().map(|s| seen.insert(s.hash)).collect();
    if fresh.iter().all(|&new| new) {
        out.push_lines(lines(f, format));
        return;
    }
    let buf = lines(f, format).to_bytes();
    let mut start = 0usize;
    let mut run_start: Option<usize> = None;
    for (span, new) in f.spans.iter().zip(fresh) {
        let end = match format {
            Format::Text => span.text_end,
            Format::OpenMetrics => span.om_end,
        } as usize;
        if new {
            run_start.get_or_insert(start);
        } else if let Some(rs) = run_start.take() {
            out.push_shared(buf.slice(rs..start));
        }
        start = end;
    }
    if let Some(rs) = run_start {
        out.push_shared(buf.slice(rs..start));
    }
}

/// What replacing a source changed, for the caller to report.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Update {
    /// Families of this source whose type differs from the same family of another source:
    /// they are left out of the exposition.
    pub type_conflicts: Vec<String>,
}

/// All sources, the newest exposition, and the one scrapes are served.
pub struct Registry {
    sources: BTreeMap<Arc<str>, Entry>,
    current: Arc<Exposition>,
    /// `current` once it is prepared; until then the previous one.
    served: Arc<Exposition>,
}

impl Default for Registry {
    fn default() -> Self {
        let empty = Arc::new(Exposition::new(Vec::new()));
        Self {
            sources: BTreeMap::new(),
            current: empty.clone(),
            served: empty,
        }
    }
}

impl Registry {
    /// Replaces everything `source` had with `render`.
    pub fn replace(&mut self, source: Arc<str>, render: SourceRender, ttl: Duration) -> Update {
        self.replace_at(source, render, ttl, Instant::now())
    }

    /// [`Self::replace`], as received at `now`: the source expires at `now + ttl`.
    pub fn replace_at(
        &mut self,
        source: Arc<str>,
        render: SourceRender,
        ttl: Duration,
        now: Instant,
    ) -> Update {
        let mut update = Update::default();
        let mut kinds: BTreeMap<&str, FamilyKind> = BTreeMap::new();
        for (id, e) in &self.sources {
            if **id == *source {
                continue;
            }
            for f in &e.render.families {
                kinds.entry(&f.name.text).or_insert(f.kind);
            }
        }
        for f in &render.families {
            if let Some(k) = kinds.get(f.name.text.as_str())
                && *k != f.kind
            {
                update.type_conflicts.push(f.name.text.clone());
            }
        }
        self.sources.insert(
            source,
            Entry {
                render: Arc::new(render),
                updated: now,
                ttl,
            },
        );
        self.rebuild();
        update
    }

    /// Removes sources that have not reported within their time to live (a source is gone
    /// at `updated + ttl` exactly); returns their ids.
    pub fn expire(&mut self, now: Instant) -> Vec<Arc<str>> {
        let gone: Vec<Arc<str>> = self
            .sources
            .iter()
            .filter(|(_, e)| now.duration_since(e.updated) >= e.ttl)
            .map(|(id, _)| id.clone())
            .collect();
        if !gone.is_empty() {
            for id in &gone {
                self.sources.remove(id);
            }
            self.rebuild();
        }
        gone
    }

    /// The newest exposition, prepared or not.
    pub fn current(&self) -> Arc<Exposition> {
        self.current.clone()
    }

    /// What a scrape gets: the newest exposition that was published.
    pub fn served(&self) -> Arc<Exposition> {
        self.served.clone()
    }

    /// Serves `exposition` from now on, unless a newer one was made meanwhile (that one
    /// is published by whoever made it). Returns whether it was published.
    pub fn publish(&mut self, exposition: &Arc<Exposition>) -> bool {
        if Arc::ptr_eq(exposition, &self.current) {
            let old = std::mem::replace(&mut self.served, exposition.clone());
            if !Arc::ptr_eq(&old, exposition) {
                old.generation.supersede();
            }
            true
        } else {
            false
        }
    }

    pub fn sources(&self) -> usize {
        self.sources.len()
    }

    /// Starts a new exposition with empty caches, as any change does (for benches).
    pub fn touch(&mut self) {
        self.rebuild();
    }

    fn rebuild(&mut self) {
        let renders = self.sources.values().map(|e| e.render.clone()).collect();
        self.current = Arc::new(Exposition::new(renders));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(series: usize) -> SourceRender {
        SourceRender {
            series,
            ..SourceRender::default()
        }
    }

    #[test]
    fn a_source_is_gone_exactly_at_its_time_to_live() {
        let mut reg = Registry::default();
        let t = Instant::now();
        let ttl = Duration::from_secs(120);
        reg.replace_at("a".into(), render(3), ttl, t);
        assert!(reg.expire(t + ttl - Duration::from_nanos(1)).is_empty());
        assert_eq!(reg.sources(), 1);
        assert_eq!(reg.current().series(), 3);
        assert_eq!(reg.expire(t + ttl), vec![Arc::<str>::from("a")]);
        assert_eq!(reg.sources(), 0);
        assert_eq!(reg.current().series(), 0);
    }

    #[test]
    fn a_new_snapshot_restarts_the_time_to_live() {
        let mut reg = Registry::default();
        let t = Instant::now();
        let ttl = Duration::from_secs(60);
        reg.replace_at("a".into(), render(1), ttl, t);
        reg.replace_at("b".into(), render(1), ttl, t);
        reg.replace_at("a".into(), render(2), ttl, t + Duration::from_secs(50));
        assert_eq!(reg.expire(t + ttl), vec![Arc::<str>::from("b")]);
        assert!(
            reg.expire(t + Duration::from_secs(110) - Duration::from_nanos(1))
                .is_empty()
        );
        assert_eq!(reg.current().series(), 2);
        assert_eq!(
            reg.expire(t + Duration::from_secs(110)),
            vec![Arc::<str>::from("a")]
        );
    }

    #[test]
    fn a_clock_reading_before_the_update_expires_nothing() {
        let mut reg = Registry::default();
        let t = Instant::now() + Duration::from_secs(10);
        reg.replace_at("a".into(), render(1), Duration::from_secs(1), t);
        assert!(reg.expire(t - Duration::from_secs(5)).is_empty());
    }
}
