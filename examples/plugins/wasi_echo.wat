;; A small WASI (preview 1) program for the sandbox tests: it writes to stdout and stderr,
;; reports its argument and environment counts, echoes stdin, and opens files through the
;; first preopened directory (fd 3) so tests can see what it was (not) given.
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read"
    (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_sizes_get"
    (func $args_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_sizes_get"
    (func $environ_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; 0..8: iovec; 16: counts / fd out; 64..: scratch text; 1024..: read buffer
  (data (i32.const 64) "hello from wasi\n")
  (data (i32.const 96) "oops\n")

  ;; writes `len` bytes at `ptr` to `fd`; returns the errno
  (func $write (param $fd i32) (param $ptr i32) (param $len i32) (result i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (call $fd_write (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 16)))

  (func (export "hello") (result i32)
    (drop (call $write (i32.const 1) (i32.const 64) (i32.const 16)))
    (call $write (i32.const 2) (i32.const 96) (i32.const 5)))

  (func (export "argc") (result i32)
    (drop (call $args_sizes_get (i32.const 16) (i32.const 20)))
    (i32.load (i32.const 16)))

  (func (export "envc") (result i32)
    (drop (call $environ_sizes_get (i32.const 16) (i32.const 20)))
    (i32.load (i32.const 16)))

  ;; reads up to 4096 bytes of stdin to 1024 and writes them to stdout; returns the count
  (func (export "echo") (result i32)
    (i32.store (i32.const 0) (i32.const 1024))
    (i32.store (i32.const 4) (i32.const 4096))
    (drop (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 16)))
    (drop (call $write (i32.const 1) (i32.const 1024) (i32.load (i32.const 16))))
    (i32.load (i32.const 16)))

  ;; opens the path at 1024..1024+len (written by the host) under fd 3: for reading, or
  ;; created for writing when $write is 1; returns the errno (0 = opened)
  (func (export "open") (param $len i32) (param $write i32) (result i32)
    (call $path_open
      (i32.const 3) (i32.const 0) (i32.const 1024) (local.get $len)
      (select (i32.const 1) (i32.const 0) (local.get $write))   ;; oflags: O_CREAT
      (select (i64.const 64) (i64.const 2) (local.get $write))  ;; rights: fd_write / fd_read
      (i64.const 0) (i32.const 0) (i32.const 16)))

  ;; opens the file as above and reads up to 4096 bytes of it to 8192; returns the count
  (func (export "read_file") (param $len i32) (result i32)
    (if (call $path_open (i32.const 3) (i32.const 0) (i32.const 1024) (local.get $len)
          (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 16))
      (then (return (i32.const -1))))
    (i32.store (i32.const 0) (i32.const 8192))
    (i32.store (i32.const 4) (i32.const 4096))
    (drop (call $fd_read (i32.load (i32.const 16)) (i32.const 0) (i32.const 1) (i32.const 20)))
    (i32.load (i32.const 20))))
