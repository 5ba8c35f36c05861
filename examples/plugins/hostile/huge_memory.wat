;; Declares an initial memory of 128 MiB: over the default cap of 64 MiB, refused up front.
(module
  (memory (export "memory") 2048)
  (func (export "run") (result i32) (memory.size)))
