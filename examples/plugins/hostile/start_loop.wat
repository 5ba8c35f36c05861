;; Loops forever in its start function, i.e. during instantiation.
(module
  (func $start (loop $spin (br $spin)))
  (start $start)
  (func (export "run") (result i32) (i32.const 1)))
