;; A small WASI (preview 1) command for the Program tests: its _start writes its arguments,
;; then its environment, one per line, then stdin to stdout, a line to stderr, and exits with
;; the number of its arguments after the program's name (returning from _start when there are
;; none: status 0).
(module
  (import "wasi_snapshot_preview1" "args_sizes_get"
    (func $args_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_sizes_get"
    (func $environ_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_get"
    (func $environ_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 2)
  ;; 0..8: iovec; 8, 12: counts; 16: "\n"; 24: "done\n"; 1024..: pointers; 8192..: strings;
  ;; 65536..: stdin
  (data (i32.const 16) "\n")
  (data (i32.const 24) "done\n")

  (func $write (param $fd i32) (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $fd_write (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8))))

  ;; writes the $n NUL-terminated strings whose pointers are at 1024, one per line
  (func $lines (param $n i32) (local $k i32) (local $s i32) (local $e i32)
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $k) (local.get $n)))
      (local.set $s (i32.load (i32.add (i32.const 1024) (i32.shl (local.get $k) (i32.const 2)))))
      (local.set $e (local.get $s))
      (block $end (loop $scan
        (br_if $end (i32.eqz (i32.load8_u (local.get $e))))
        (local.set $e (i32.add (local.get $e) (i32.const 1)))
        (br $scan)))
      (call $write (i32.const 1) (local.get $s) (i32.sub (local.get $e) (local.get $s)))
      (call $write (i32.const 1) (i32.const 16) (i32.const 1))
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (br $next))))

  (func (export "_start") (local $argc i32) (local $n i32)
    (drop (call $args_sizes_get (i32.const 8) (i32.const 12)))
    (local.set $argc (i32.load (i32.const 8)))
    (drop (call $args_get (i32.const 1024) (i32.const 8192)))
    (call $lines (local.get $argc))
    (drop (call $environ_sizes_get (i32.const 8) (i32.const 12)))
    (local.set $n (i32.load (i32.const 8)))
    (drop (call $environ_get (i32.const 1024) (i32.const 8192)))
    (call $lines (local.get $n))
    (block $eof (loop $copy
      (i32.store (i32.const 0) (i32.const 65536))
      (i32.store (i32.const 4) (i32.const 4096))
      (drop (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)))
      (br_if $eof (i32.eqz (i32.load (i32.const 8))))
      (call $write (i32.const 1) (i32.const 65536) (i32.load (i32.const 8)))
      (br $copy)))
    (call $write (i32.const 2) (i32.const 24) (i32.const 5))
    (if (i32.gt_u (local.get $argc) (i32.const 1))
      (then (call $proc_exit (i32.sub (local.get $argc) (i32.const 1)))))))
