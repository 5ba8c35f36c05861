;; Recurses without end: a stack overflow trap.
(module
  (func $down (export "run") (param $n i32) (result i32)
    (i32.add (call $down (i32.add (local.get $n) (i32.const 1))) (i32.const 1)))
  ;; a well-behaved export: the plugin still works after the failure
  (func (export "ok") (result i32) (i32.const 42)))
