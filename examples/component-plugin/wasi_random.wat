;; A component (WebAssembly component text) that imports one WASI preview 2 interface,
;; wasi:random: test_component.py checks it is refused unless wasi=True (or a host function)
;; provides it.
(component
  (import "wasi:random/random@0.2.0" (instance $r
    (export "get-random-u64" (func (result u64)))))
  (core func $get (canon lower (func $r "get-random-u64")))
  (core module $m
    (import "r" "get" (func $get (result i64)))
    (func (export "roll") (result i64) call $get))
  (core instance $ri (export "get" (func $get)))
  (core instance $i (instantiate $m (with "r" (instance $ri))))
  (func (export "roll") (result u64) (canon lift (core func $i "roll")))
)
