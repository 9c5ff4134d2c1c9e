//! Heap allocations on the hot paths, counted by a global allocator that counts per thread (the test
//! harness runs tests on several threads). Counts, unlike timings, are exact and repeatable, so they
//! are asserted: a change that makes a verify allocate fails here.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::hint::black_box;

use otp_shared::ServiceSecret;
use otp_shared::adapters::SeededRandomness;
use otp_shared::crypto::Keys;
use otp_shared::crypto::TotpSecret;
use otp_shared::domain::{ChallengeId, CodeAttempt};
use otp_shared::totp::{Authenticator, TotpParams};

struct CountingAllocator;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded unchanged to the system allocator; the counter is a const-initialised
// thread-local Cell, which itself never allocates.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// The heap allocations (and reallocations) `work` makes on this thread.
fn allocations<T>(work: impl FnOnce() -> T) -> (usize, T) {
    let before = ALLOCATIONS.with(Cell::get);
    let result = black_box(work());
    (ALLOCATIONS.with(Cell::get) - before, result)
}

fn keys() -> Keys {
    Keys::derive(&ServiceSecret::parse("an allocation test's service secret, 32+ bytes").unwrap())
}

#[test]
fn the_counter_sees_an_allocation() {
    // Guards the guard: a counter that never counts would pass every other test here.
    let (count, boxed) = allocations(|| Box::new(black_box(7u64)));
    assert_eq!(*boxed, 7);
    assert_eq!(count, 1);
    let (count, text) = allocations(|| format!("{}{}", black_box("a"), black_box(1)));
    assert_eq!(text, "a1");
    assert!(count >= 1);
}

#[test]
fn a_code_hash_and_its_comparison_allocate_at_most_once() {
    let keys = keys();
    let id = ChallengeId::generate(&SeededRandomness::new(1));
    let stored = keys.code_hash(id.as_str(), "493817");

    for (attempt, expected) in [("493817", true), ("493818", false)] {
        let (count, matched) =
            allocations(|| keys.code_hash(id.as_str(), black_box(attempt)) == stored);
        assert_eq!(matched, expected);
        assert!(
            count <= 1,
            "hash + compare of {attempt}: {count} allocations"
        );
        println!("ALLOCATIONS code_hash_and_compare({expected}) = {count}");
    }

    // With the parse of what the user typed (normalised into its own zeroized string): one more.
    let (count, matched) = allocations(|| {
        let attempt = CodeAttempt::parse(black_box(" 493 817 ")).unwrap();
        keys.code_hash(id.as_str(), attempt.expose()) == stored
    });
    assert!(matched);
    assert!(count <= 2, "parse + hash + compare: {count} allocations");
    println!("ALLOCATIONS parse_hash_and_compare = {count}");
}

#[test]
fn checking_totp_steps_allocates_nothing() {
    let secret = TotpSecret::from_bytes(*b"12345678901234567890");
    let authenticator = Authenticator::for_checking(&secret, TotpParams::default());
    // RFC 6238 appendix B: at T = 59 the SHA1 8-digit code is 94287082, so the 6-digit one is 287082.
    let now = 59;
    let (count, step) = allocations(|| authenticator.matching_step(black_box("287082"), now));
    assert_eq!(step, Some(1));
    assert_eq!(count, 0, "right code, current step: {count} allocations");

    // A wrong code is checked against every step in the window (−1, 0, +1): still nothing.
    let (count, step) = allocations(|| authenticator.matching_step(black_box("000000"), now));
    assert_eq!(step, None);
    assert_eq!(count, 0, "wrong code, three steps: {count} allocations");
    println!("ALLOCATIONS totp_matching_step = {count}");

    // Building the authenticator from the stored secret (each verify does) is where TOTP allocates.
    let (count, _) = allocations(|| Authenticator::for_checking(&secret, TotpParams::default()));
    println!("ALLOCATIONS totp_authenticator_for_checking = {count}");
}
