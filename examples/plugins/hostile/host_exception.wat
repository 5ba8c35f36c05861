;; Calls the host function env.fail, which raises; then would return 7.
(module
  (import "env" "fail" (func $fail (param i32)))
  (func (export "run") (param $x i32) (result i32)
    (call $fail (local.get $x))
    (i32.const 7))
  ;; a well-behaved export: the plugin still works after the failure
  (func (export "ok") (result i32) (i32.const 42)))
