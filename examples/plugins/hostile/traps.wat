;; One export per trap kind, and a plain one to show the plugin still works afterwards.
(module
  (func (export "divide") (param $a i32) (param $b i32) (result i32)
    (i32.div_s (local.get $a) (local.get $b)))
  (func (export "overflow") (result i32)
    (i32.div_s (i32.const -2147483648) (i32.const -1)))
  (func (export "unreachable") unreachable)
  (func (export "to_int") (param $x f64) (result i32) (i32.trunc_f64_s (local.get $x)))
  (func (export "add") (param $a i64) (param $b f64) (result f64)
    (f64.add (f64.convert_i64_s (local.get $a)) (local.get $b))))
