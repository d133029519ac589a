//! Percent-encoding of URL components (RFC 3986: everything but the unreserved set).

/// `s` with every byte outside `A-Z a-z 0-9 - _ . ~` written as `%XX`.
pub fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_unreserved_bytes_stay() {
        assert_eq!(super::encode("a-b_c.d~e"), "a-b_c.d~e");
        assert_eq!(super::encode("ns 1/é&x=%"), "ns%201%2F%C3%A9%26x%3D%25");
    }
}
