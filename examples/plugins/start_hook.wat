;; Calls the host's env.started from its start function, so a test can make a later
;; instantiation fail (and then succeed again).
(module
  (import "env" "started" (func $started))
  (start $started)
  (func (export "ok") (result i32) (i32.const 42))
  (func (export "boom") unreachable))
