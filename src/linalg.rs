//! Linear algebra on float64 buffers: dot, norm, axpy, matmul, convolve.
