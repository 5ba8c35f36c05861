;; Asks for 1 GiB in one growth (a Vec far over the cap) and traps when refused.
(module
  (memory (export "memory") 1)
  (func (export "run") (result i32)
    (if (i32.eq (memory.grow (i32.const 16384)) (i32.const -1)) (then unreachable))
    (memory.size))
  ;; a well-behaved export: the plugin still works after the failure
  (func (export "ok") (result i32) (i32.const 42)))
