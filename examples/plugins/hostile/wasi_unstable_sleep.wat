;; Sleeps through wasi_unstable's poll_oneoff (a clock subscription of WASI's first snapshot,
;; whose layout has an identifier before the clock id).
(module
  (import "wasi_unstable" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; sleeps $ns nanoseconds; returns the errno
  (func (export "sleep") (param $ns i64) (result i32)
    (i64.store (i32.const 0) (i64.const 7))            ;; userdata
    (i32.store8 (i32.const 8) (i32.const 0))           ;; clock
    (i64.store (i32.const 16) (i64.const 0))           ;; identifier
    (i32.store (i32.const 24) (i32.const 1))           ;; monotonic
    (i64.store (i32.const 32) (local.get $ns))         ;; timeout
    (i64.store (i32.const 40) (i64.const 0))           ;; precision
    (i32.store16 (i32.const 48) (i32.const 0))         ;; relative
    (call $poll (i32.const 0) (i32.const 64) (i32.const 1) (i32.const 128))))
