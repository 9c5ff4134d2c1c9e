use std::sync::Mutex;

use rand::rngs::{OsRng, StdRng};
use rand::{RngCore, SeedableRng, TryRngCore};

use crate::crypto::Randomness;

/// The operating system's CSPRNG (getrandom), read directly for every draw.
#[derive(Debug, Clone, Copy, Default)]
pub struct OsRandomness;

impl Randomness for OsRandomness {
    fn fill(&self, dest: &mut [u8]) {
        // getrandom does not fail on a working Linux kernel; without it there is no safe code to issue.
        OsRng
            .try_fill_bytes(dest)
            .expect("the operating system's random source is unavailable");
    }
}

/// A seeded ChaCha stream: reproducible draws for tests. Never for production.
#[derive(Debug)]
pub struct SeededRandomness(Mutex<StdRng>);

impl SeededRandomness {
    pub fn new(seed: u64) -> Self {
        Self(Mutex::new(StdRng::seed_from_u64(seed)))
    }
}

impl Randomness for SeededRandomness {
    fn fill(&self, dest: &mut [u8]) {
        self.0.lock().expect("rng lock").fill_bytes(dest);
    }
}
