;; A WASI (preview 1) program that waits, floods and wanders, for the limits' tests: sleeps
;; through poll_oneoff (a duration, or until a time of the monotonic clock read with
;; clock_time_get), writes to stdout without end, grows its memory, recurses, and opens paths under a preopened
;; directory, with or without following symlinks.
(module
  (import "wasi_snapshot_preview1" "poll_oneoff"
    (func $poll (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "clock_time_get"
    (func $clock (param i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  ;; 0..96: two subscriptions; 128..192: two events; 192: event count; 200: a time;
  ;; 256..320: text; 1024..: a path written by the host
  (data (i32.const 256) "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\n")

  ;; a clock subscription at $at: userdata $id, clock $clock_id, $timeout, $flags
  (func $clock_sub (param $at i32) (param $id i64) (param $clock_id i32) (param $timeout i64)
                   (param $flags i32)
    (i64.store (local.get $at) (local.get $id))
    (i32.store8 offset=8 (local.get $at) (i32.const 0))
    (i32.store offset=16 (local.get $at) (local.get $clock_id))
    (i64.store offset=24 (local.get $at) (local.get $timeout))
    (i64.store offset=32 (local.get $at) (i64.const 0))
    (i32.store16 offset=40 (local.get $at) (local.get $flags)))

  ;; sleeps $ns nanoseconds; returns the errno
  (func (export "sleep") (param $ns i64) (result i32)
    (call $clock_sub (i32.const 0) (i64.const 7) (i32.const 1) (local.get $ns) (i32.const 0))
    (call $poll (i32.const 0) (i32.const 128) (i32.const 1) (i32.const 192)))

  ;; grows its memory by 100 pages (6.25 MiB), exiting with status 3 as C programs do
  ;; ("out of memory") when that is refused
  (func (export "grow_or_exit") (result i32)
    (if (i32.eq (memory.grow (i32.const 100)) (i32.const -1))
      (then (call $proc_exit (i32.const 3))))
    (i32.const 0))

  ;; recurses 20000 calls deep (a stack of a few hundred KiB): returns 20000
  (func $down (param $n i32) (result i32)
    (if (result i32) (i32.eqz (local.get $n))
      (then (i32.const 0))
      (else (i32.add (call $down (i32.sub (local.get $n) (i32.const 1))) (i32.const 1)))))
  (func (export "deep") (result i32) (call $down (i32.const 20000)))

  ;; sleeps an hour (an entry for a program's run)
  (func (export "nap") (result i32)
    (call $clock_sub (i32.const 0) (i64.const 7) (i32.const 1) (i64.const 3600000000000)
      (i32.const 0))
    (call $poll (i32.const 0) (i32.const 128) (i32.const 1) (i32.const 192)))

  ;; sleeps until $ns after now on the monotonic clock (an absolute deadline); returns the
  ;; errno, else the events' count times 1000 plus the first event's userdata
  (func (export "sleep_until") (param $ns i64) (result i32)
    (local $err i32)
    (local.set $err (call $clock (i32.const 1) (i64.const 1) (i32.const 200)))
    (if (local.get $err) (then (return (local.get $err))))
    (call $clock_sub (i32.const 0) (i64.const 9) (i32.const 1)
      (i64.add (i64.load (i32.const 200)) (local.get $ns)) (i32.const 1))
    (local.set $err (call $poll (i32.const 0) (i32.const 128) (i32.const 1) (i32.const 192)))
    (if (local.get $err) (then (return (local.get $err))))
    (i32.add (i32.mul (i32.load (i32.const 192)) (i32.const 1000))
             (i32.wrap_i64 (i64.load (i32.const 128)))))

  ;; waits on an hour's clock and on stdout being writable: returns at once, the events'
  ;; count times 1000 plus the first event's type
  (func (export "wait_fd") (result i32)
    (call $clock_sub (i32.const 0) (i64.const 1) (i32.const 1) (i64.const 3600000000000)
      (i32.const 0))
    (i64.store (i32.const 48) (i64.const 2))
    (i32.store8 (i32.const 56) (i32.const 2))  ;; fd_write
    (i32.store (i32.const 64) (i32.const 1))   ;; stdout
    (drop (call $poll (i32.const 0) (i32.const 128) (i32.const 2) (i32.const 192)))
    (i32.add (i32.mul (i32.load (i32.const 192)) (i32.const 1000))
             (i32.load8_u (i32.const 138))))

  ;; writes 64-byte lines to stdout until stopped
  (func (export "flood")
    (i32.store (i32.const 0) (i32.const 256))
    (i32.store (i32.const 4) (i32.const 64))
    (loop $again
      (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 192)))
      (br $again)))

  ;; opens the path at 1024..1024+len under the preopened directory $dir: created for writing
  ;; when $write is 1, following symlinks when $follow is 1; returns the errno (0 = opened)
  (func (export "open") (param $dir i32) (param $len i32) (param $write i32) (param $follow i32)
                        (result i32)
    (call $path_open
      (local.get $dir) (local.get $follow) (i32.const 1024) (local.get $len)
      (select (i32.const 1) (i32.const 0) (local.get $write))   ;; oflags: O_CREAT
      (select (i64.const 64) (i64.const 2) (local.get $write))  ;; rights: fd_write / fd_read
      (i64.const 0) (i32.const 0) (i32.const 192))))
