// callers.rs is --cpu's native target in Rust: two callers of one hot leaf
// at a known 3:1, in random order (as callers.c), a release build
// (-C opt-level=3: no frame pointers).
use std::ptr::{read_volatile, write_volatile};

static mut SINK: u64 = 0;

#[inline(never)]
fn leaf(n: u64) -> u64 {
    let mut x: u64 = 0;
    for i in 0..n {
        // read through a volatile load each round: the loop stays a loop
        x = x.wrapping_add(i.wrapping_mul(i) ^ (unsafe { read_volatile(&x) } >> 3));
    }
    x
}

#[inline(never)]
fn caller_a(n: u64) {
    unsafe { write_volatile(&mut SINK, read_volatile(&SINK).wrapping_add(leaf(n) + 1)) }
}

#[inline(never)]
fn caller_b(n: u64) {
    unsafe { write_volatile(&mut SINK, read_volatile(&SINK).wrapping_add(leaf(n) + 2)) }
}

fn main() {
    let rounds: i64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(-1);
    let mut r: u64 = 88172645463325252; // xorshift64
    let mut i = 0;
    while rounds < 0 || i < rounds {
        r ^= r << 13;
        r ^= r >> 7;
        r ^= r << 17;
        if r % 4 != 3 {
            caller_a(100_000); // three parts of the leaf's time
        } else {
            caller_b(100_000); // one part
        }
        i += 1;
    }
}
