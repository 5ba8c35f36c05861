;; Declares a table of 2^28 elements (about 2 GiB of host memory): refused up front.
(module
  (table 268435456 funcref)
  (func (export "run") (result i32) (i32.const 1)))
