//! When jobs run. Every receiver and collector configures the same four keys (`enabled`,
//! `collection_interval`, `initial_delay`, `timeout`), read by [`ScheduleBlock`]; a
//! collector's keys default to its receiver's. Intervals are rounded up to a multiple of
//! the scheduler's base interval so that collections line up on common ticks, and an
//! inner interval (a collector's) may not be shorter than its receiver's: the inner part
//! would otherwise read more often than the whole it belongs to.

use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::time::Duration;

use serde::de::value::{MapAccessDeserializer, StringDeserializer};
use serde::de::{DeserializeSeed, Deserializer, IntoDeserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::config::{Problems, Validate, duration, join};

/// A job's resolved schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    pub interval: Duration,
    pub initial_delay: Duration,
    /// `None`: 80 % of the effective interval.
    pub timeout: Option<Duration>,
}

/// `ceil(requested / base) * base`: intervals are multiples of the base interval.
pub fn effective_interval(requested: Duration, base: Duration) -> Duration {
    if base.is_zero() {
        return requested;
    }
    let n = requested.as_nanos().div_ceil(base.as_nanos()).max(1);
    base * u32::try_from(n).unwrap_or(u32::MAX)
}

/// The four schedule keys, as every receiver and collector block carries them. A key left
/// out is `None` and inherited: a collector's from its receiver's, a receiver's from its
/// kind's defaults ([`ScheduleDefaults`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleBlock {
    pub enabled: bool,
    #[serde(with = "duration::option", skip_serializing_if = "Option::is_none")]
    pub collection_interval: Option<Duration>,
    #[serde(with = "duration::option", skip_serializing_if = "Option::is_none")]
    pub initial_delay: Option<Duration>,
    #[serde(with = "duration::option", skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
}

impl Default for ScheduleBlock {
    fn default() -> Self {
        Self {
            enabled: true,
            collection_interval: None,
            initial_delay: None,
            timeout: None,
        }
    }
}

impl ScheduleBlock {
    /// The block of a kind that is off unless enabled (its reads cost the source more).
    pub fn off() -> Self {
        Self {
            enabled: false,
            ..Self::default()
        }
    }

    /// Checks the keys that are set, at their paths under `path`.
    pub fn validate(&self, path: &str, problems: &mut Problems) {
        if let Some(i) = self.collection_interval {
            problems.positive(join(path, "collection_interval"), i);
        }
    }

    /// This block's schedule, the keys it leaves out taken from `outer` (its receiver's);
    /// an interval left out is `default_interval` or the receiver's, whichever is longer,
    /// so that a collector never runs more often than its receiver.
    pub fn resolve(&self, outer: &Schedule, default_interval: Duration) -> Schedule {
        Schedule {
            interval: self
                .collection_interval
                .unwrap_or(default_interval.max(outer.interval)),
            initial_delay: self.initial_delay.unwrap_or(outer.initial_delay),
            timeout: self.timeout.or(outer.timeout),
        }
    }

    /// The schedule of a block with no outer one: keys left out are the defaults'.
    pub fn own(&self, defaults: &ScheduleBlock) -> Schedule {
        Schedule {
            interval: self
                .collection_interval
                .or(defaults.collection_interval)
                .unwrap_or(Duration::from_secs(60)),
            initial_delay: self
                .initial_delay
                .or(defaults.initial_delay)
                .unwrap_or(Duration::ZERO),
            timeout: self.timeout.or(defaults.timeout),
        }
    }
}

/// The schedule keys a block of this settings type has before the user's are read.
pub trait ScheduleDefaults {
    fn default_schedule() -> ScheduleBlock {
        ScheduleBlock::default()
    }
}

/// A settings block with the schedule keys beside its own, in one flat mapping
/// (`enabled`, `collection_interval`, ... next to `namespaces`, say). Reading it hands the
/// schedule keys to [`ScheduleBlock`] and every other key to `T`, through the same
/// deserializer, so that unknown keys and type errors keep their full paths.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scheduled<T> {
    #[serde(flatten)]
    pub schedule: ScheduleBlock,
    #[serde(flatten)]
    pub settings: T,
}

impl<T: ScheduleDefaults + Default> Default for Scheduled<T> {
    fn default() -> Self {
        Self::new(T::default())
    }
}

impl<T: ScheduleDefaults> Scheduled<T> {
    pub fn new(settings: T) -> Self {
        Self {
            schedule: T::default_schedule(),
            settings,
        }
    }
}

impl<T> Deref for Scheduled<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.settings
    }
}

impl<T> DerefMut for Scheduled<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.settings
    }
}

/// A disabled block is not checked: nothing of it runs.
impl<T: Validate> Validate for Scheduled<T> {
    fn validate(&self, path: &str, problems: &mut Problems) {
        if !self.schedule.enabled {
            return;
        }
        self.schedule.validate(path, problems);
        self.settings.validate(path, problems);
    }
}

impl<'de, T: Deserialize<'de> + ScheduleDefaults> Deserialize<'de> for Scheduled<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(ScheduledVisitor(PhantomData))
    }
}

struct ScheduledVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de> + ScheduleDefaults> Visitor<'de> for ScheduledVisitor<T> {
    type Value = Scheduled<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a mapping of settings")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let mut schedule = T::default_schedule();
        let split = Split {
            inner: map,
            schedule: &mut schedule,
        };
        let settings = T::deserialize(MapAccessDeserializer::new(split))?;
        Ok(Scheduled { schedule, settings })
    }
}

/// A mapping that keeps the schedule keys for itself and hands the others on.
struct Split<'a, A> {
    inner: A,
    schedule: &'a mut ScheduleBlock,
}

/// An optional duration read the humane way (`15s`).
struct OptDuration(Option<Duration>);

impl<'de> Deserialize<'de> for OptDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        duration::option::deserialize(d).map(OptDuration)
    }
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Split<'_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        loop {
            let Some(key) = self.inner.next_key::<String>()? else {
                return Ok(None);
            };
            match key.as_str() {
                "enabled" => self.schedule.enabled = self.inner.next_value()?,
                // `poll_interval` is accepted for configurations written for other exporters.
                "collection_interval" | "poll_interval" => {
                    self.schedule.collection_interval = self.inner.next_value::<OptDuration>()?.0
                }
                "initial_delay" => {
                    self.schedule.initial_delay = self.inner.next_value::<OptDuration>()?.0
                }
                "timeout" => self.schedule.timeout = self.inner.next_value::<OptDuration>()?.0,
                _ => {
                    let key: StringDeserializer<A::Error> = key.into_deserializer();
                    return seed.deserialize(key).map(Some);
                }
            }
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        self.inner.next_value_seed(seed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::Decoder;
    use serde_json::json;

    #[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
    #[serde(default)]
    struct Inner {
        depth: u32,
    }

    #[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
    #[serde(default)]
    struct Settings {
        port: u16,
        inner: Inner,
    }

    impl ScheduleDefaults for Settings {
        fn default_schedule() -> ScheduleBlock {
            ScheduleBlock {
                enabled: false,
                ..ScheduleBlock::default()
            }
        }
    }

    impl Validate for Settings {
        fn validate(&self, path: &str, problems: &mut Problems) {
            if self.port == 1 {
                problems.push(join(path, "port"), "not 1");
            }
        }
    }

    fn decode(v: serde_json::Value) -> (Option<Scheduled<Settings>>, Vec<String>) {
        let mut problems = Problems::default();
        let restore = |_: &mut serde_json::Value, _: &str, _: &str| false;
        let out = Decoder::new(&mut problems, &restore).decode(&v, "receivers.x.collectors.c");
        let problems = problems
            .into_vec()
            .iter()
            .map(ToString::to_string)
            .collect();
        (out, problems)
    }

    #[test]
    fn schedule_keys_and_settings_share_one_flat_block() {
        let (c, p) = decode(
            json!({"enabled": true, "collection_interval": "30s", "port": 8, "timeout": "5s"}),
        );
        assert!(p.is_empty(), "{p:?}");
        let c = c.unwrap();
        assert!(c.schedule.enabled);
        assert_eq!(
            c.schedule.collection_interval,
            Some(Duration::from_secs(30))
        );
        assert_eq!(c.schedule.timeout, Some(Duration::from_secs(5)));
        assert_eq!(c.schedule.initial_delay, None);
        assert_eq!(c.port, 8);
        // Left out, the kind's defaults hold.
        let (c, _) = decode(json!({}));
        assert!(!c.unwrap().schedule.enabled);
        // Written back flat.
        let (c, _) = decode(json!({"collection_interval": "1m", "port": 8}));
        assert_eq!(
            serde_json::to_value(c.unwrap()).unwrap(),
            json!({"enabled": false, "collection_interval": "1m", "port": 8, "inner": {"depth": 0}})
        );
    }

    #[test]
    fn unknown_keys_and_type_errors_keep_their_paths_on_both_sides() {
        let (_, p) = decode(json!({"colection_interval": "30s", "inner": {"deep": 1}}));
        assert_eq!(
            p,
            [
                "receivers.x.collectors.c.colection_interval: unknown key",
                "receivers.x.collectors.c.inner.deep: unknown key"
            ]
        );
        let (_, p) = decode(json!({"collection_interval": "often"}));
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            p[0].starts_with(
                "receivers.x.collectors.c.collection_interval: invalid duration \"often\""
            ),
            "{p:?}"
        );
        let (_, p) = decode(json!({"enabled": "yes"}));
        assert!(
            p[0].starts_with("receivers.x.collectors.c.enabled: invalid type: string"),
            "{p:?}"
        );
        let (_, p) = decode(json!({"inner": {"depth": "x"}}));
        assert!(
            p[0].starts_with("receivers.x.collectors.c.inner.depth: invalid type: string"),
            "{p:?}"
        );
        let (_, p) = decode(json!({"enabled": true, "port": 1, "collection_interval": "0s"}));
        assert_eq!(
            p,
            [
                "receivers.x.collectors.c.collection_interval: must be greater than 0s",
                "receivers.x.collectors.c.port: not 1"
            ]
        );
    }

    #[test]
    fn a_block_inherits_what_it_leaves_out() {
        let outer = Schedule {
            interval: Duration::from_secs(60),
            initial_delay: Duration::from_secs(1),
            timeout: Some(Duration::from_secs(20)),
        };
        let b = ScheduleBlock::default();
        assert_eq!(b.resolve(&outer, Duration::ZERO), outer);
        let long = b.resolve(&outer, Duration::from_secs(300));
        assert_eq!(long.interval, Duration::from_secs(300));
        let own = ScheduleBlock {
            collection_interval: Some(Duration::from_secs(90)),
            timeout: Some(Duration::from_secs(9)),
            ..b
        }
        .resolve(&outer, Duration::from_secs(300));
        assert_eq!(own.interval, Duration::from_secs(90));
        assert_eq!(own.timeout, Some(Duration::from_secs(9)));
        assert_eq!(own.initial_delay, Duration::from_secs(1));
    }

    #[test]
    fn intervals_round_up_to_multiples_of_the_base() {
        let base = Duration::from_secs(5);
        let s = Duration::from_secs;
        assert_eq!(effective_interval(s(65), base), s(65));
        assert_eq!(effective_interval(s(63), base), s(65));
        assert_eq!(effective_interval(s(1), base), s(5));
        assert_eq!(effective_interval(Duration::from_millis(5001), base), s(10));
        assert_eq!(effective_interval(s(7), Duration::ZERO), s(7));
    }
}
