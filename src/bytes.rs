//! Byte kernels: checksums, hashes (including the streaming `Sha256` object) and base64.

use base64::Engine as _;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::{DecodeError, DecodeSliceError};
use sha2::Digest as _;
use wasmcore_abi::{Error, export, try_vec};

/// CRC-32 (the zlib polynomial) of `data`, continuing from the running checksum `value`
/// (0 to start); equals `zlib.crc32(data, value)`.
#[export]
pub fn crc32(data: &[u8], #[default(0)] value: u32) -> u32 {
    let mut hasher = crc32fast::Hasher::new_with_initial(value);
    hasher.update(data);
    hasher.finalize()
}

/// SHA-256 digest of `data` (32 bytes), as `hashlib.sha256(data).digest()`.
#[export]
pub fn sha256(data: &[u8]) -> Vec<u8> {
    sha2::Sha256::digest(data).to_vec()
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a 64-bit hash of `data` (offset basis 0xcbf29ce484222325, prime 0x100000001b3).
#[export]
pub fn fnv1a64(data: &[u8]) -> u64 {
    data.iter().fold(FNV_OFFSET, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(FNV_PRIME)
    })
}

/// Base64 encoding of `data` (standard alphabet, `=` padding), as `base64.b64encode(data)`.
#[export]
pub fn base64_encode(data: &[u8]) -> Vec<u8> {
    STANDARD.encode(data).into_bytes()
}

/// Decodes the stripped body (only alphabet characters, length % 4 != 1): no padding expected,
/// non-zero bits in the last character ignored (as binascii does).
const DECODER: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone),
);

/// `IS_B64[b]`: `b` is in the standard alphabet `[A-Za-z0-9+/]`.
const IS_B64: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = b.is_ascii_alphanumeric() || b == b'+' || b == b'/';
        i += 1;
    }
    t
};

fn not_base64(what: impl std::fmt::Display) -> Error {
    Error::value("data", format!("is not valid base64: {what}"))
}

/// Decodes standard base64 with canonical padding (RFC 4648: `=` exactly as the encoder writes
/// it), ignoring stray low bits in the last character; raises ValueError on anything else.
/// Accepts exactly what `base64.b64decode(data, validate=True)` accepts on Python >= 3.13
/// (older Pythons also accept some over-padded input), with the same result.
#[export]
pub fn base64_decode(data: &[u8]) -> Result<Vec<u8>, Error> {
    let body_len = data.len() - data.iter().rev().take_while(|&&b| b == b'=').count();
    let (body, pads) = data.split_at(body_len);
    if let Some(i) = body.iter().position(|&b| !IS_B64[usize::from(b)]) {
        return Err(not_base64(format_args!("invalid character at offset {i}")));
    }
    let n = body.len();
    let wanted = match n % 4 {
        1 => {
            return Err(not_base64(format_args!(
                "{n} data characters is 1 more than a multiple of 4"
            )));
        }
        0 => 0,
        r => 4 - r,
    };
    if pads.len() != wanted {
        return Err(not_base64("incorrect padding"));
    }
    // Exact decoded size: 3 bytes per full quad, 1 or 2 for a final partial quad of 2 or 3.
    let len = n / 4 * 3 + (n % 4).saturating_sub(1);
    let mut out = try_vec(len, 0u8, "data")?;
    match DECODER.decode_slice(body, &mut out) {
        Ok(written) => {
            out.truncate(written);
            Ok(out)
        }
        // Unreachable after the checks above; mapped to the nearest message rather than a panic.
        Err(DecodeSliceError::DecodeError(DecodeError::InvalidByte(i, _))) => {
            Err(not_base64(format_args!("invalid character at offset {i}")))
        }
        Err(_) => Err(not_base64("incorrect padding")),
    }
}

/// Streaming SHA-256, like `hashlib.sha256()`: feed chunks with `update`, read the digest of
/// everything so far with `digest`/`hexdigest` (which do not reset the stream).
#[derive(Clone, Default)]
pub struct Sha256 {
    inner: sha2::Sha256,
}

/// Streaming SHA-256, like `hashlib.sha256()`: `update(data)` with chunks, then `digest()` /
/// `hexdigest()` of everything so far (they do not end the stream); `copy()` forks it.
#[export]
impl Sha256 {
    /// A new hasher over the empty message.
    pub fn new() -> Sha256 {
        Sha256::default()
    }

    /// Appends `data` to the hashed message.
    pub fn update(&mut self, data: &[u8]) {
        self.inner.update(data);
    }

    /// The 32-byte SHA-256 digest of everything passed to `update` so far (the stream continues).
    pub fn digest(&self) -> Vec<u8> {
        self.inner.clone().finalize().to_vec()
    }

    /// The digest as 64 lowercase hexadecimal characters.
    pub fn hexdigest(&self) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let d = self.inner.clone().finalize();
        let mut s = String::with_capacity(2 * d.len());
        for &b in d.iter() {
            s.push(char::from(HEX[usize::from(b >> 4)]));
            s.push(char::from(HEX[usize::from(b & 0xf)]));
        }
        s
    }

    /// An independent copy of the hasher's current state.
    pub fn copy(&self) -> Sha256 {
        self.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pattern(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i % 256) as u8).collect()
    }

    fn msg(r: Result<Vec<u8>, Error>) -> String {
        r.expect_err("should be rejected").message().to_string()
    }

    #[test]
    fn crc32_matches_zlib() {
        // /work/main/.venv/bin/python -c "import zlib; print(zlib.crc32(b''), zlib.crc32(b'hello world'), zlib.crc32(b'hello world', 12345), zlib.crc32(b'', 0xdeadbeef), zlib.crc32(bytes(range(256))*1000), zlib.crc32(b'123456789'), zlib.crc32(b'\xff'*7, 0xffffffff))"
        assert_eq!(crc32(b"", 0), 0);
        assert_eq!(crc32(b"hello world", 0), 222957957);
        assert_eq!(crc32(b"hello world", 12345), 916383268);
        assert_eq!(crc32(b"", 0xdeadbeef), 3735928559);
        assert_eq!(crc32(&pattern(256_000), 0), 4235243290);
        assert_eq!(crc32(b"123456789", 0), 3421780262);
        assert_eq!(crc32(&[0xff; 7], 0xffffffff), 2647849324);
        // Chaining through `value` equals one pass.
        let d = pattern(10_000);
        for cut in [0, 1, 15, 16, 17, 4096, 9999, 10_000] {
            let (a, b) = d.split_at(cut);
            assert_eq!(crc32(b, crc32(a, 0)), crc32(&d, 0));
        }
    }

    #[test]
    fn fnv1a64_known_values() {
        // /work/main/.venv/bin/python -c "exec('def fnv(d):\n h=0xcbf29ce484222325\n for b in d: h=((h^b)*0x100000001b3)%2**64\n return h'); print([hex(fnv(d)) for d in (b'', b'a', b'foobar', bytes(range(256)))])"
        assert_eq!(fnv1a64(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a64(b"a"), 0xaf63dc4c8601ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x85944171f73967e8);
        assert_eq!(fnv1a64(&pattern(256)), 0x4242dc5249c33625);
    }

    // /work/main/.venv/bin/python -c "import hashlib; print(hashlib.sha256(b'').hexdigest()); print(hashlib.sha256(b'abc').hexdigest()); print(hashlib.sha256(bytes(range(256))*1000).hexdigest())"
    const SHA_EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    const SHA_ABC: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    const SHA_PATTERN: &str = "b57b64b198d5d59ce5a22a9b9f25e72a7d081476d432051aa923f3dbebb90934";

    fn hex(d: &[u8]) -> String {
        d.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn sha256_matches_hashlib() {
        assert_eq!(hex(&sha256(b"")), SHA_EMPTY);
        assert_eq!(hex(&sha256(b"abc")), SHA_ABC);
        assert_eq!(hex(&sha256(&pattern(256_000))), SHA_PATTERN);
        assert_eq!(sha256(b"abc").len(), 32);
    }

    #[test]
    fn streaming_sha256_is_hashlib_like() {
        let mut h = Sha256::new();
        assert_eq!(h.hexdigest(), SHA_EMPTY);
        h.update(b"a");
        let snapshot = h.copy();
        h.update(b"");
        h.update(b"bc");
        assert_eq!(hex(&h.digest()), SHA_ABC);
        // digest does not reset: asking twice gives the same, and update continues the stream.
        assert_eq!(h.hexdigest(), SHA_ABC);
        h.update(b"d");
        assert_eq!(h.digest(), sha256(b"abcd"));
        // The copy is independent of later updates.
        assert_eq!(snapshot.digest(), sha256(b"a"));
        let d = pattern(256_000);
        let mut s = Sha256::default();
        for chunk in d.chunks(1000 - 37) {
            s.update(chunk);
        }
        assert_eq!(s.hexdigest(), SHA_PATTERN);
    }

    #[test]
    fn base64_known_values() {
        // /work/main/.venv/bin/python -c "import base64; print(base64.b64encode(b'\x00\xff\xfe\x80'))"
        assert_eq!(base64_encode(b"\x00\xff\xfe\x80"), b"AP/+gA==");
        assert_eq!(base64_encode(b""), b"");
        assert_eq!(base64_encode(b"f"), b"Zg==");
        assert_eq!(base64_encode(b"fo"), b"Zm8=");
        assert_eq!(base64_encode(b"foo"), b"Zm9v");
        assert_eq!(base64_decode(b"AP/+gA==").unwrap(), b"\x00\xff\xfe\x80");
        assert_eq!(base64_decode(b"").unwrap(), b"");
        assert_eq!(base64_decode(b"Zm8=").unwrap(), b"fo");
        // Non-zero trailing bits are ignored.
        assert_eq!(base64_decode(b"Zh==").unwrap(), b"f");
        assert_eq!(base64_decode(b"Zm9=").unwrap(), b"fo");
    }

    #[test]
    fn base64_error_messages() {
        let p = "parameter 'data' is not valid base64: ";
        for over_padded in [&b"="[..], b"==", b"Zm9v=", b"Zm9v===", b"Zm8==", b"Zg==="] {
            assert_eq!(
                msg(base64_decode(over_padded)),
                format!("{p}incorrect padding")
            );
        }
        assert_eq!(
            msg(base64_decode(b"Zm 9v")),
            format!("{p}invalid character at offset 2")
        );
        assert_eq!(
            msg(base64_decode(b"Zm9v\n")),
            format!("{p}invalid character at offset 4")
        );
        assert_eq!(
            msg(base64_decode(b"Zg=A")),
            format!("{p}invalid character at offset 2")
        );
        assert_eq!(
            msg(base64_decode(b"-_")),
            format!("{p}invalid character at offset 0")
        );
        assert_eq!(
            msg(base64_decode(b"\xff")),
            format!("{p}invalid character at offset 0")
        );
        assert_eq!(
            msg(base64_decode(b"Zm9vY")),
            format!("{p}5 data characters is 1 more than a multiple of 4")
        );
        assert_eq!(
            msg(base64_decode(b"Q==")),
            format!("{p}1 data characters is 1 more than a multiple of 4")
        );
        assert_eq!(msg(base64_decode(b"Zg")), format!("{p}incorrect padding"));
        assert_eq!(msg(base64_decode(b"Zg=")), format!("{p}incorrect padding"));
        assert_eq!(msg(base64_decode(b"Zm8")), format!("{p}incorrect padding"));
    }

    /// Every string up to length 6 over `QUJD=Y!` and up to length 5 over `Az+/=\n`, fed to
    /// `base64_decode`, recorded as `[len] s` then `O [len] output` or `E` (rejected): the
    /// SHA-256 of the record equals the one Python 3.13's `b64decode(s, validate=True)` gives.
    #[test]
    fn base64_decode_matches_python_exhaustively() {
        // /root/.pyenv/versions/3.13.0/bin/python -c "exec('import base64, binascii, hashlib, itertools\nh = hashlib.sha256()\nfor alpha, maxlen in ((b\'QUJD=Y!\', 6), (b\'Az+/=\\\\n\', 5)):\n for L in range(maxlen + 1):\n  for t in itertools.product(alpha, repeat=L):\n   s = bytes(t); h.update(bytes([L]) + s)\n   try:\n    o = base64.b64decode(s, validate=True); h.update(b\'O\' + bytes([len(o)]) + o)\n   except binascii.Error:\n    h.update(b\'E\')\nprint(h.hexdigest())')"
        const WANT: &str = "d3824a74c36571cb08dd8752f87b01931401ec5c9f68e862ca73f755c8aae364";
        let mut h = Sha256::new();
        let mut s = Vec::new();
        for (alpha, maxlen) in [(&b"QUJD=Y!"[..], 6u32), (&b"Az+/=\n"[..], 5)] {
            let k = alpha.len();
            for len in 0..=maxlen {
                for mut idx in 0..k.pow(len) {
                    s.clear();
                    for _ in 0..len {
                        s.push(alpha[idx % k]);
                        idx /= k;
                    }
                    s.reverse(); // itertools.product order: the last position varies fastest
                    h.update(&[len as u8]);
                    h.update(&s);
                    match base64_decode(&s) {
                        Ok(out) => {
                            h.update(b"O");
                            h.update(&[out.len() as u8]);
                            h.update(&out);
                        }
                        Err(_) => h.update(b"E"),
                    }
                }
            }
        }
        assert_eq!(h.hexdigest(), WANT);
    }

    #[test]
    fn base64_round_trip_lengths() {
        for n in 0..200 {
            let d = pattern(n);
            let e = base64_encode(&d);
            assert_eq!(e.len(), n.div_ceil(3) * 4);
            assert_eq!(base64_decode(&e).unwrap(), d);
        }
    }

    proptest! {
        #[test]
        fn base64_round_trip(d in proptest::collection::vec(any::<u8>(), 0..300)) {
            let e = base64_encode(&d);
            prop_assert_eq!(base64_decode(&e).unwrap(), d);
        }

        #[test]
        fn base64_decode_never_panics(d in proptest::collection::vec(any::<u8>(), 0..40)) {
            let _ = base64_decode(&d);
        }

        #[test]
        fn base64_decode_noise_over_alphabet(d in proptest::collection::vec(
            proptest::sample::select(b"AQgw/+9=".to_vec()), 0..24)) {
            // Accepted input re-encodes to itself up to padding and trailing bits.
            if let Ok(out) = base64_decode(&d) {
                let body: Vec<u8> = d.iter().copied().filter(|&b| b != b'=').collect();
                let e = base64_encode(&out);
                let e_body: Vec<u8> = e.iter().copied().filter(|&b| b != b'=').collect();
                prop_assert_eq!(e_body.len(), body.len());
                let keep = body.len().saturating_sub(1);
                prop_assert_eq!(&e_body[..keep], &body[..keep]);
            }
        }

        #[test]
        fn crc32_chaining(d in proptest::collection::vec(any::<u8>(), 0..500), cut in 0usize..500) {
            let cut = cut.min(d.len());
            prop_assert_eq!(crc32(&d[cut..], crc32(&d[..cut], 0)), crc32(&d, 0));
        }

        #[test]
        fn streaming_equals_one_shot(
            d in proptest::collection::vec(any::<u8>(), 0..500),
            step in 1usize..70,
        ) {
            let mut h = Sha256::new();
            for c in d.chunks(step) {
                h.update(c);
            }
            prop_assert_eq!(h.digest(), sha256(&d));
        }
    }
}
