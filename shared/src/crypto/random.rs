//! Randomness: the port every secret and code is drawn through (the OS CSPRNG in production, a
//! seeded source in tests), and an adapter that lets rand's distributions draw from it.

use rand::RngCore;
use zeroize::Zeroizing;

/// A source of cryptographically secure random bytes. Passed in so tests can seed it.
pub trait Randomness: Send + Sync {
    fn fill(&self, dest: &mut [u8]);
}

/// Lets rand's distributions draw from a [`Randomness`] port. Draws come from a 64-byte pool filled by
/// one read of the source, so a code of up to 10 symbols costs one system call instead of one per
/// symbol; the pool is wiped when the generator is dropped.
pub struct RandomnessRng<'a> {
    source: &'a dyn Randomness,
    pool: Zeroizing<[u8; 64]>,
    /// The first unused byte of `pool`; `pool.len()` when it is empty.
    next: usize,
}

impl<'a> RandomnessRng<'a> {
    pub fn new(source: &'a dyn Randomness) -> Self {
        Self {
            source,
            pool: Zeroizing::new([0; 64]),
            next: 64,
        }
    }

    fn take<const N: usize>(&mut self) -> [u8; N] {
        if self.pool.len() - self.next < N {
            self.source.fill(self.pool.as_mut());
            self.next = 0;
        }
        let mut bytes = [0u8; N];
        bytes.copy_from_slice(&self.pool[self.next..self.next + N]);
        // Each byte is handed out once.
        self.pool[self.next..self.next + N].fill(0);
        self.next += N;
        bytes
    }
}

impl RngCore for RandomnessRng<'_> {
    fn next_u32(&mut self) -> u32 {
        u32::from_le_bytes(self.take())
    }

    fn next_u64(&mut self) -> u64 {
        u64::from_le_bytes(self.take())
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.source.fill(dest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts reads and hands out 0, 1, 2, … so each byte's origin is visible.
    #[derive(Default)]
    struct CountingSource(std::sync::Mutex<(usize, u8)>);

    impl Randomness for CountingSource {
        fn fill(&self, dest: &mut [u8]) {
            let mut state = self.0.lock().unwrap();
            state.0 += 1;
            for byte in dest {
                *byte = state.1;
                state.1 = state.1.wrapping_add(1);
            }
        }
    }

    #[test]
    fn draws_come_from_a_pool_read_once_and_no_byte_is_handed_out_twice() {
        let source = CountingSource::default();
        let mut rng = RandomnessRng::new(&source);
        let words: Vec<u32> = (0..16).map(|_| rng.next_u32()).collect();
        assert_eq!(
            source.0.lock().unwrap().0,
            1,
            "16 draws of 4 bytes: one read"
        );
        assert_eq!(words[0], u32::from_le_bytes([0, 1, 2, 3]));
        assert_eq!(words[15], u32::from_le_bytes([60, 61, 62, 63]));
        // The pool is empty: the next draw reads again, and gets fresh bytes.
        assert_eq!(
            rng.next_u64(),
            u64::from_le_bytes([64, 65, 66, 67, 68, 69, 70, 71])
        );
        assert_eq!(source.0.lock().unwrap().0, 2);
        // A draw that does not fit what is left refills rather than reusing bytes.
        for _ in 0..13 {
            rng.next_u32();
        }
        assert_eq!(
            rng.next_u64(),
            u64::from_le_bytes(std::array::from_fn(|i| 128 + i as u8))
        );
        assert_eq!(source.0.lock().unwrap().0, 3);
    }

    #[test]
    fn a_six_digit_code_is_one_read_of_the_source() {
        let source = CountingSource::default();
        crate::domain::Code::generate(crate::domain::CodeSpec::default(), &source);
        assert_eq!(source.0.lock().unwrap().0, 1);
    }
}
