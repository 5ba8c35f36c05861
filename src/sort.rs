//! Sorting float64 buffers: sort (NaN last) and stable argsort.
