//! Byte kernels: checksums, hashes (including the streaming `Sha256` object) and base64.
