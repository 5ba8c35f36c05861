;; Spins forever: stopped by the timeout (epoch interruption) or by fuel.
(module
  (func (export "run") (loop $spin (br $spin)))
  ;; a well-behaved export: the plugin still works after the failure
  (func (export "ok") (result i32) (i32.const 42)))
