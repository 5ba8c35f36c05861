;; Reads far beyond its one-page memory: a memory_out_of_bounds trap.
(module
  (memory (export "memory") 1)
  (func (export "run") (param $addr i32) (result i32)
    (i32.load (local.get $addr)))
  ;; a well-behaved export: the plugin still works after the failure
  (func (export "ok") (result i32) (i32.const 42)))
