//! Bounds on a configuration document, checked on the parser's event stream before any tree
//! is built. The YAML loader copies an anchored node at every alias, so a few hundred bytes
//! of nested anchors (9 aliases of 9 aliases, 9 levels deep) would grow without end; deep
//! nesting would overflow the stack of the recursive steps after it. Counting here costs one
//! pass and memory proportional to the text, whatever the text holds.

use yaml_rust2::parser::{Event, Parser};

/// The largest configuration file read. Real ones are a few kilobytes.
pub const MAX_DOCUMENT_BYTES: u64 = 4 * 1024 * 1024;
/// The most nodes (maps, lists, keys and values) the document may hold once every alias is
/// replaced by what its anchor holds.
pub const MAX_NODES: u64 = 200_000;
/// The most bytes of scalar text once every alias is replaced.
pub const MAX_SCALAR_BYTES: u64 = 16 * 1024 * 1024;
/// The deepest nesting of maps and lists.
pub const MAX_DEPTH: usize = 64;

/// Nodes and scalar bytes of a (sub)tree, aliases expanded.
#[derive(Clone, Copy, Default)]
struct Size {
    nodes: u64,
    bytes: u64,
}

impl Size {
    fn add(&mut self, other: Size) {
        self.nodes = self.nodes.saturating_add(other.nodes);
        self.bytes = self.bytes.saturating_add(other.bytes);
    }
}

/// Checks the bounds; the error says which one and where. A syntax error ends the check
/// without a problem: the loader reports it, and stops at the same place.
pub fn check(text: &str) -> Result<(), String> {
    if text.len() as u64 > MAX_DOCUMENT_BYTES {
        return Err(too_large(text.len() as u64));
    }
    let mut parser = Parser::new_from_str(text);
    // Anchor ids are dense from 1; an id past the vector is an alias to nothing.
    let mut anchors: Vec<Size> = Vec::new();
    // Open maps and lists: their anchor and their size so far.
    let mut open: Vec<(usize, Size)> = Vec::new();
    let mut total = Size::default();
    let mut through_aliases: u64 = 0;
    loop {
        let Ok((event, mark)) = parser.next_token() else {
            return Ok(());
        };
        let at = || format!("line {} column {}", mark.line(), mark.col() + 1);
        let (anchor, size) = match event {
            Event::StreamEnd => return Ok(()),
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if open.len() >= MAX_DEPTH {
                    return Err(format!(
                        "{}: maps and lists nest deeper than {MAX_DEPTH} levels; a configuration needs far fewer",
                        at()
                    ));
                }
                total.add(Size { nodes: 1, bytes: 0 });
                open.push((anchor, Size { nodes: 1, bytes: 0 }));
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => match open.pop() {
                Some((anchor, size)) => (anchor, size),
                None => continue,
            },
            Event::Scalar(value, _, anchor, _) => {
                let size = Size {
                    nodes: 1,
                    bytes: value.len() as u64,
                };
                total.add(size);
                (anchor, size)
            }
            Event::Alias(id) => {
                let size = id
                    .checked_sub(1)
                    .and_then(|i| anchors.get(i))
                    .copied()
                    .unwrap_or(Size { nodes: 1, bytes: 0 });
                total.add(size);
                through_aliases = through_aliases.saturating_add(size.nodes);
                (0, size)
            }
            _ => continue,
        };
        if total.nodes > MAX_NODES {
            return Err(format!(
                "{}: the document expands to more than {MAX_NODES} nodes ({through_aliases} of them copied by aliases); refused, as YAML aliases nested this way would take memory without bound",
                at()
            ));
        }
        if total.bytes > MAX_SCALAR_BYTES {
            return Err(format!(
                "{}: the document's values expand to more than {} MiB of text ({} MiB counting what aliases copy); refused",
                at(),
                MAX_SCALAR_BYTES / (1024 * 1024),
                total.bytes / (1024 * 1024),
            ));
        }
        if let Some((_, parent)) = open.last_mut() {
            parent.add(size);
        }
        if anchor > 0 {
            if anchors.len() < anchor {
                anchors.resize(anchor, Size::default());
            }
            anchors[anchor - 1] = size;
        }
    }
}

/// The error for a file past [`MAX_DOCUMENT_BYTES`].
pub fn too_large(len: u64) -> String {
    format!(
        "the file is larger than {} MiB ({len} bytes or more); refused, a configuration needs far less",
        MAX_DOCUMENT_BYTES / (1024 * 1024)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `levels` levels of `fanout` aliases each to the level below: fanout^levels leaves.
    pub fn bomb(levels: usize, fanout: usize) -> String {
        let name = |l: usize| char::from(b'a' + l as u8);
        let mut s = format!("a: &a [{}]\n", vec!["x"; fanout].join(","));
        for l in 1..=levels {
            let aliases = vec![format!("*{}", name(l - 1)); fanout].join(",");
            s.push_str(&format!("{0}: &{0} [{aliases}]\n", name(l)));
        }
        s
    }

    #[test]
    fn an_alias_bomb_is_refused_early() {
        let text = bomb(9, 9);
        assert!(text.len() <= 360, "{}", text.len());
        let e = check(&text).unwrap_err();
        assert!(e.contains("more than 200000 nodes"), "{e}");
        assert!(e.starts_with("line 6 column "), "{e}");
    }

    #[test]
    fn a_few_aliases_are_fine() {
        assert_eq!(check(&bomb(3, 9)), Ok(()));
        let text = "defaults: &d {collection_interval: 30s, timeout: 10s}\nreceivers:\n  self: *d\n  self/2: *d\n";
        assert_eq!(check(text), Ok(()));
    }

    #[test]
    fn a_long_string_copied_by_aliases_is_refused() {
        let big = "y".repeat(1024 * 1024);
        let text = format!("a: &a {big}\nb: [{}]\n", vec!["*a"; 20].join(", "));
        let e = check(&text).unwrap_err();
        assert!(e.contains("MiB of text"), "{e}");
    }

    #[test]
    fn deep_nesting_is_refused() {
        let text = "- ".repeat(MAX_DEPTH + 1) + "x\n";
        let e = check(&text).unwrap_err();
        assert!(e.contains("deeper than 64 levels"), "{e}");
        let ok = "- ".repeat(MAX_DEPTH) + "x\n";
        assert_eq!(check(&ok), Ok(()));
    }

    #[test]
    fn a_syntax_error_is_left_to_the_loader() {
        assert_eq!(check("receivers:\n  self: [\n"), Ok(()));
        assert_eq!(check("*nothing"), Ok(()));
    }
}
