;; A stateful module (a global counter) with a numeric API, for per-thread instance tests.
(module
  (global $n (mut i64) (i64.const 0))
  (func (export "inc") (param $by i64) (result i64)
    (global.set $n (i64.add (global.get $n) (local.get $by)))
    (global.get $n))
  (func (export "spin") (param $iters i64) (result i64)
    (local $i i64)
    (loop $l
      (local.set $i (i64.add (local.get $i) (i64.const 1)))
      (br_if $l (i64.lt_u (local.get $i) (local.get $iters))))
    (local.get $i)))
