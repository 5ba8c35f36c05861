//! The Rust guest of the example component plugin: the world `demo:plugin/plugin` of
//! `../wit/plugin.wit`. Built for `wasm32-unknown-unknown` and turned into a component with
//! `wasm-tools component new` (`scripts/components.sh`); the Python guest (`../python/app.py`)
//! implements the same world with the same results.

use std::cell::Cell;
use std::hint::black_box;

wit_bindgen::generate!({
    world: "plugin",
    path: "../wit",
});

use demo::plugin::host;
use exports::demo::plugin::counters::{Guest as CountersGuest, GuestCounter};
use exports::demo::plugin::hostile::Guest as HostileGuest;

struct Plugin;

impl Guest for Plugin {
    fn add(a: u32, b: u32) -> u32 {
        a.wrapping_add(b)
    }

    fn process(text: String, opts: Options) -> Result<String, String> {
        if opts.scale == 0 {
            return Err("scale must be positive".to_string());
        }
        let mut s = text.repeat(opts.scale as usize);
        if opts.reverse {
            s = s.chars().rev().collect();
        }
        Ok(match opts.tag {
            Some(tag) => format!("[{tag}]{s}"),
            None => s,
        })
    }

    fn echo(data: Vec<u8>) -> Vec<u8> {
        data
    }

    fn sum(xs: Vec<u32>) -> u64 {
        xs.iter().map(|&x| u64::from(x)).sum()
    }

    fn range(n: u32) -> Vec<u32> {
        (0..n).collect()
    }

    fn area(s: Shape) -> f64 {
        match s {
            Shape::Circle(r) => std::f64::consts::PI * r * r,
            Shape::Rect((w, h)) => w * h,
            Shape::Empty => 0.0,
        }
    }

    fn describe(text: String, m: Mode) -> Stats {
        let mut count = 0u32;
        let mut max_len = 0u32;
        for word in text.split_whitespace() {
            count += 1;
            max_len = max_len.max(word.chars().count() as u32);
        }
        Stats {
            count,
            max_len,
            mode: m,
        }
    }

    fn toggle(p: Perms) -> Perms {
        p ^ Perms::EXEC
    }

    fn scaled(x: u32) -> u32 {
        x.wrapping_mul(host::get_factor())
    }

    fn shout(text: String) -> String {
        host::log(&text);
        text.to_ascii_uppercase()
    }

    fn divide(a: i32, b: i32) -> Result<i32, String> {
        if b == 0 {
            return Err("division by zero".to_string());
        }
        a.checked_div(b).ok_or_else(|| "overflow".to_string())
    }

    fn first_word(text: String) -> Option<String> {
        text.split_whitespace().next().map(str::to_string)
    }
}

/// A `counters.counter` resource: a wrapping u32 counter.
struct Counter {
    value: Cell<u32>,
}

impl CountersGuest for Plugin {
    type Counter = Counter;
}

impl GuestCounter for Counter {
    fn new(start: u32) -> Self {
        Counter {
            value: Cell::new(start),
        }
    }

    fn inc(&self) -> u32 {
        let v = self.value.get().wrapping_add(1);
        self.value.set(v);
        v
    }

    fn value(&self) -> u32 {
        self.value.get()
    }
}

impl HostileGuest for Plugin {
    fn spin() {
        // the optimizer cannot prove anything about `black_box`'s result: a real loop
        let mut i = 0u64;
        while black_box(true) {
            i = black_box(i.wrapping_add(1));
        }
    }

    fn bomb() -> u32 {
        // 1 MiB buffers, every page written, all kept alive: ends when memory.grow is
        // refused (the allocation error aborts, which traps)
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        loop {
            hoard.push(black_box(vec![1u8; 1 << 20]));
            if black_box(hoard.len()) == usize::MAX {
                return hoard.len() as u32;
            }
        }
    }

    fn crash() {
        // on wasm32-unknown-unknown, the `unreachable` instruction: a trap
        std::process::abort()
    }
}

export!(Plugin);
