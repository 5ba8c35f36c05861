;; Grows its memory 1 MiB at a time until the cap refuses, then traps as a Rust program does
;; when an allocation fails.
(module
  (memory (export "memory") 1)
  (func (export "run") (result i32)
    (loop $grow
      (br_if $grow (i32.ne (memory.grow (i32.const 16)) (i32.const -1))))
    unreachable)
  ;; a well-behaved export: the plugin still works after the failure
  (func (export "ok") (result i32) (i32.const 42)))
