//! Billing data that grows every 5-minute sample. Each bucket writes, deletes and reads
//! bytes and objects following a shared daily shape (busier in working hours), scaled by
//! its own rates and shifted by its own phase. All sums are closed-form, exact integers:
//! the totals at any sample boundary and the sums over any window cost O(1).

use std::sync::OnceLock;

use super::{ORIGIN, SAMPLE};
use crate::ids::{h, log_range, range};

/// Samples in a day.
pub const DAY: u64 = 288;

/// Integer weight of each 5-minute sample of a day (1..=16).
fn shape() -> &'static ([u64; DAY as usize], [u64; DAY as usize + 1]) {
    static SHAPE: OnceLock<([u64; DAY as usize], [u64; DAY as usize + 1])> = OnceLock::new();
    SHAPE.get_or_init(|| {
        let mut w = [0u64; DAY as usize];
        for (i, slot) in w.iter_mut().enumerate() {
            let hour = i / 12;
            let busy = if (8..18).contains(&hour) {
                10
            } else if (6..22).contains(&hour) {
                4
            } else {
                1
            };
            *slot = busy + (h(0x5EED, &[i as u64]) % 6);
        }
        let mut prefix = [0u64; DAY as usize + 1];
        for i in 0..DAY as usize {
            prefix[i + 1] = prefix[i] + w[i];
        }
        (w, prefix)
    })
}

/// Σ of the daily weights over samples `0..n`.
fn f(n: u64) -> u64 {
    let (_, prefix) = shape();
    (n / DAY) * prefix[DAY as usize] + prefix[(n % DAY) as usize]
}

/// Σ of the weights over samples `a..b` with phase `shift`.
fn window(a: u64, b: u64, shift: u64) -> u64 {
    if b <= a {
        0
    } else {
        f(b + shift) - f(a + shift)
    }
}

fn weight(k: u64, shift: u64) -> u64 {
    shape().0[((k + shift) % DAY) as usize]
}

/// One bucket's rates: bytes and objects per unit of weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rates {
    /// Sample index from which the bucket exists.
    pub first_sample: u64,
    pub size0: u64,
    pub objects0: u64,
    pub ingress: u64,
    pub deleted_bytes: u64,
    pub egress: u64,
    pub created: u64,
    pub deleted_objects: u64,
    pub mpu_bytes: u64,
    pub shift_write: u64,
    pub shift_read: u64,
    pub shift_mpu: u64,
}

/// Figures of a bucket (or a sum of buckets) over a window of samples.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Window {
    pub objects_created: u64,
    pub objects_deleted: u64,
    pub bytes_created: u64,
    pub bytes_deleted: u64,
    pub ingress: u64,
    pub egress: u64,
}

impl Window {
    pub fn add(&mut self, o: &Window) {
        self.objects_created += o.objects_created;
        self.objects_deleted += o.objects_deleted;
        self.bytes_created += o.bytes_created;
        self.bytes_deleted += o.bytes_deleted;
        self.ingress += o.ingress;
        self.egress += o.egress;
    }

    /// Net size change (bytes written minus bytes deleted).
    pub fn bytes_delta(&self) -> i64 {
        self.bytes_created as i64 - self.bytes_deleted as i64
    }
}

/// Totals at a sample boundary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub size: u64,
    pub objects: u64,
    pub mpu_size: u64,
    pub mpu_parts: u64,
}

impl Totals {
    pub fn add(&mut self, o: &Totals) {
        self.size += o.size;
        self.objects += o.objects;
        self.mpu_size += o.mpu_size;
        self.mpu_parts += o.mpu_parts;
    }
}

/// Multipart uploads are counted in parts of this size.
pub const MPU_PART: u64 = 8 * 1024 * 1024;

impl Rates {
    pub fn generate(seed: u64, bucket: u64) -> Rates {
        let hh = |i: u64| h(seed, &[super::K_BUCKET, 0xB111, bucket, i]);
        // Log-uniform: most buckets small, a few large, as on real clusters.
        let ingress = log_range(hh(1), 1_000, 256_000);
        let created = log_range(hh(2), 1, 50);
        Rates {
            first_sample: range(hh(0), 0, 150) * DAY,
            size0: log_range(hh(3), 1_000_000, 512_000_000_000) + range(hh(4), 0, 999_999),
            objects0: log_range(hh(5), 100, 10_000_000),
            ingress,
            deleted_bytes: ingress * range(hh(6), 0, 60) / 100,
            egress: log_range(hh(7), 1_000, 512_000),
            created,
            deleted_objects: created * range(hh(8), 0, 60) / 100,
            mpu_bytes: range(hh(9), 0, 4) * 64 * MPU_PART,
            shift_write: hh(10) % DAY,
            shift_read: hh(11) % DAY,
            shift_mpu: hh(12) % DAY,
        }
    }

    /// Figures over samples `a..b` (sample indices since [`ORIGIN`]).
    pub fn window(&self, a: u64, b: u64) -> Window {
        let a = a.max(self.first_sample);
        let w = window(a, b, self.shift_write);
        let r = window(a, b, self.shift_read);
        Window {
            objects_created: self.created * w,
            objects_deleted: self.deleted_objects * w,
            bytes_created: self.ingress * w,
            bytes_deleted: self.deleted_bytes * w,
            ingress: self.ingress * w,
            egress: self.egress * r,
        }
    }

    /// Adds the objects created, bytes written and bytes read in each of the samples
    /// `first..first + created.len()` to the slices (of equal length): a table lookup per
    /// sample, for callers that walk every bucket for a run of samples in one pass.
    pub fn add_samples(
        &self,
        first: u64,
        created: &mut [u64],
        ingress: &mut [u64],
        egress: &mut [u64],
    ) {
        let w = &shape().0;
        let skip = self.first_sample.saturating_sub(first) as usize;
        let mut iw = ((first + skip as u64 + self.shift_write) % DAY) as usize;
        let mut ir = ((first + skip as u64 + self.shift_read) % DAY) as usize;
        for ((c, i), e) in created
            .iter_mut()
            .zip(ingress.iter_mut())
            .zip(egress.iter_mut())
            .skip(skip)
        {
            *c += self.created * w[iw];
            *i += self.ingress * w[iw];
            *e += self.egress * w[ir];
            iw = if iw + 1 == DAY as usize { 0 } else { iw + 1 };
            ir = if ir + 1 == DAY as usize { 0 } else { ir + 1 };
        }
    }

    /// Totals once `n` samples have completed (at time `ORIGIN + n * 300`).
    pub fn totals(&self, n: u64) -> Totals {
        if n <= self.first_sample {
            return Totals::default();
        }
        let w = window(self.first_sample, n, self.shift_write);
        let mpu_size = self.mpu_bytes * weight(n, self.shift_mpu) / 16;
        Totals {
            size: self.size0 + (self.ingress - self.deleted_bytes) * w,
            objects: self.objects0 + (self.created - self.deleted_objects) * w,
            mpu_size,
            mpu_parts: mpu_size.div_ceil(MPU_PART),
        }
    }
}

/// The sample index of an aligned time (seconds since the epoch).
pub fn sample_index(t: i64) -> u64 {
    if t <= ORIGIN {
        0
    } else {
        ((t - ORIGIN) / SAMPLE) as u64
    }
}

/// The time at which sample index `k` starts.
pub fn sample_time(k: u64) -> i64 {
    ORIGIN + k as i64 * SAMPLE
}

/// Billing data is consistent up to here: the last sample boundary `lag` seconds ago.
pub fn uptodate_till(now: i64, lag: i64) -> i64 {
    let t = now - lag;
    t - t.rem_euclid(SAMPLE)
}

/// True when `t` falls on a 5-minute boundary (ECS refuses other sample bounds).
pub fn aligned(t: i64) -> bool {
    t.rem_euclid(SAMPLE) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brute(r: &Rates, a: u64, b: u64) -> u64 {
        (a.max(r.first_sample)..b)
            .map(|k| r.ingress * weight(k, r.shift_write))
            .sum()
    }

    #[test]
    fn windows_add_up_and_match_a_sample_by_sample_sum() {
        let r = Rates::generate(42, 7);
        let a = r.first_sample + 100;
        for (x, y) in [
            (a, a + 1),
            (a, a + 300),
            (a + 17, a + 1000),
            (a, a + 5 * DAY + 3),
        ] {
            assert_eq!(r.window(x, y).ingress, brute(&r, x, y));
        }
        let (x, m, y) = (a + 3, a + 400, a + 900);
        let mut w = r.window(x, m);
        w.add(&r.window(m, y));
        assert_eq!(w, r.window(x, y));
    }

    #[test]
    fn runs_of_samples_are_their_windows() {
        let r = Rates::generate(42, 11);
        for first in [
            0,
            r.first_sample.saturating_sub(3),
            r.first_sample,
            r.first_sample + 3 * DAY - 5,
        ] {
            let n = 13;
            let (mut c, mut i, mut e) = (vec![1; n], vec![0; n], vec![0; n]);
            r.add_samples(first, &mut c, &mut i, &mut e);
            for k in 0..n {
                let w = r.window(first + k as u64, first + k as u64 + 1);
                assert_eq!(
                    (c[k] - 1, i[k], e[k]),
                    (w.objects_created, w.ingress, w.egress),
                    "{first} + {k}"
                );
            }
        }
    }

    #[test]
    fn totals_grow_by_the_window_between_them() {
        let r = Rates::generate(42, 9);
        let (n1, n2) = (r.first_sample + 500, r.first_sample + 812);
        let (t1, t2) = (r.totals(n1), r.totals(n2));
        let w = r.window(n1, n2);
        assert_eq!(t2.size as i64 - t1.size as i64, w.bytes_delta());
        assert_eq!(
            t2.objects - t1.objects,
            w.objects_created - w.objects_deleted
        );
        assert!(r.totals(r.first_sample).size == 0);
    }

    #[test]
    fn uptodate_lags_on_a_boundary() {
        let now = ORIGIN + 10_000 * SAMPLE + 123;
        let u = uptodate_till(now, 900);
        assert!(aligned(u));
        assert!(now - u >= 900 && now - u < 900 + SAMPLE);
    }
}
