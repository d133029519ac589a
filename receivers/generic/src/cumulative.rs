//! When each cumulative series (a counter, a histogram, a summary) started: when the agent
//! first saw it, or when its value went down (the source restarted and counts from zero
//! again), or what the source says (`_created`). Series not seen in a run are forgotten.

use std::collections::HashMap;
use std::time::SystemTime;

type Key = (String, Vec<(String, String)>);

#[derive(Default)]
pub struct Starts {
    this_run: HashMap<Key, (SystemTime, f64)>,
    last_run: HashMap<Key, (SystemTime, f64)>,
}

impl Starts {
    /// Starts a run: what the previous run saw is looked up, then forgotten.
    pub fn begin(&mut self) {
        self.last_run = std::mem::take(&mut self.this_run);
    }

    /// The start of `name{labels}` now at `value`.
    pub fn start(
        &mut self,
        name: &str,
        labels: &[(String, String)],
        value: f64,
        now: SystemTime,
        created: Option<SystemTime>,
    ) -> SystemTime {
        let key = (name.to_owned(), labels.to_vec());
        let before = self
            .last_run
            .remove(&key)
            .or_else(|| self.this_run.get(&key).copied());
        let start = match (created, before) {
            (Some(c), _) => c,
            (None, Some((_, last))) if value < last => now,
            (None, Some((s, _))) => s,
            (None, None) => now,
        };
        self.this_run.insert(key, (start, value));
        start
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    #[test]
    fn a_series_keeps_its_start_until_it_goes_down() {
        let t = |s| UNIX_EPOCH + Duration::from_secs(s);
        let mut st = Starts::default();
        let l = vec![("a".to_owned(), "1".to_owned())];
        st.begin();
        assert_eq!(st.start("c", &l, 5.0, t(100), None), t(100));
        st.begin();
        assert_eq!(st.start("c", &l, 7.0, t(130), None), t(100));
        st.begin();
        assert_eq!(st.start("c", &l, 2.0, t(160), None), t(160), "reset");
        st.begin();
        assert_eq!(st.start("c", &l, 3.0, t(190), None), t(160));
        assert_eq!(
            st.start("c", &[], 3.0, t(190), Some(t(5))),
            t(5),
            "_created"
        );
        st.begin();
        st.begin();
        assert_eq!(
            st.start("c", &l, 9.0, t(250), None),
            t(250),
            "gone a run: new"
        );
    }
}
