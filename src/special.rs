//! Special functions, elementwise over float64 buffers: gamma, lgamma, erf.
