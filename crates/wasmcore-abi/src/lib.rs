//! What a wasmcore module depends on: the core itself and every third-party plugin.
//!
//! * [`export`] — `#[export]` on a plain Rust function makes it a C-ABI export (callable
//!   from the Python host on all backends) and embeds its descriptor in the module;
//! * [`Error`] — what a fallible export returns for bad input (a Python `ValueError` or
//!   `TypeError` naming the function and the parameter);
//! * the runtime exports every module carries: `wasmcore_alloc` / `wasmcore_free` (so the
//!   host can place data in linear memory), `wasmcore_last_error_ptr` / `_len` and
//!   `wasmcore_take_panic`;
//! * [`schema`] — the ABI schema (version, logical types, lowering), re-exported.
//!
//! ```ignore
//! use wasmcore_abi::{export, Error};
//!
//! /// Number of words in `text`.
//! #[export]
//! pub fn count_words(text: &[u8]) -> u64 {
//!     text.split(|b| b.is_ascii_whitespace()).filter(|w| !w.is_empty()).count() as u64
//! }
//! ```
//!
//! Nothing panics across the boundary: in the native build every export catches unwinding
//! and turns it into [`schema::STATUS_PANIC`]; in wasm a panic is a trap.

use std::alloc::Layout;
use std::cell::{Cell, RefCell};
use std::fmt;

pub use wasmcore_macros::export;
pub use wasmcore_schema as schema;

// The README's examples are doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// The kind of a kernel error; decides the Python exception class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// A parameter has a bad value: Python `ValueError`.
    Value,
    /// A parameter has the wrong kind: Python `TypeError`.
    Type,
}

/// An error returned by a fallible export. Its message names the parameter; the host adds
/// the function name (`fib(): parameter 'n' must be <= 93, got 94`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

impl Error {
    /// A bad value for parameter `param`; `what` completes "parameter 'param' ...".
    pub fn value(param: &str, what: impl fmt::Display) -> Error {
        Error {
            kind: ErrorKind::Value,
            message: format!("parameter '{param}' {what}"),
        }
    }

    /// A wrong kind of argument for parameter `param`.
    pub fn type_(param: &str, what: impl fmt::Display) -> Error {
        Error {
            kind: ErrorKind::Type,
            message: format!("parameter '{param}' {what}"),
        }
    }

    /// A bad value that no single parameter is to blame for (e.g. `RunningStats.mean` before
    /// anything was pushed); the message is `what` as given.
    pub fn invalid(what: impl fmt::Display) -> Error {
        Error {
            kind: ErrorKind::Value,
            message: what.to_string(),
        }
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    /// The status code a fallible export returns for this error.
    pub fn status(&self) -> i32 {
        match self.kind {
            ErrorKind::Value => schema::STATUS_VALUE_ERROR,
            ErrorKind::Type => schema::STATUS_TYPE_ERROR,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// A borrowed 2-D C-contiguous (row-major) array: the Rust side of an `f64[,]` parameter.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MatrixRef<'a, T> {
    data: &'a [T],
    rows: usize,
    cols: usize,
}

impl<'a, T> MatrixRef<'a, T> {
    /// A view of `data` as `rows` x `cols`; `None` unless `rows * cols == data.len()`.
    pub fn new(data: &'a [T], rows: usize, cols: usize) -> Option<Self> {
        (rows.checked_mul(cols) == Some(data.len())).then_some(MatrixRef { data, rows, cols })
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn cols(&self) -> usize {
        self.cols
    }

    /// All elements, row after row.
    pub fn data(&self) -> &'a [T] {
        self.data
    }

    /// Row `i` (panics when out of range, like slice indexing).
    pub fn row(&self, i: usize) -> &'a [T] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }
}

/// An owned 2-D C-contiguous (row-major) array: the Rust side of an `f64[,]` result.
#[derive(Clone, Debug, PartialEq)]
pub struct Matrix<T> {
    data: Vec<T>,
    rows: usize,
    cols: usize,
}

impl<T> Matrix<T> {
    /// `data` as `rows` x `cols`; `None` unless `rows * cols == data.len()`.
    pub fn new(data: Vec<T>, rows: usize, cols: usize) -> Option<Self> {
        (rows.checked_mul(cols) == Some(data.len())).then_some(Matrix { data, rows, cols })
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn cols(&self) -> usize {
        self.cols
    }

    pub fn data(&self) -> &[T] {
        &self.data
    }

    /// The elements (row after row) and the shape `(rows, cols)`.
    pub fn into_parts(self) -> (Vec<T>, usize, usize) {
        (self.data, self.rows, self.cols)
    }
}

/// A vector of `len` copies of `value`, or a `ValueError` naming `param` when that much
/// memory cannot be had (a failed allocation would abort the process, so kernels that size
/// their output from an argument allocate through this).
pub fn try_vec<T: Clone>(len: usize, value: T, param: &str) -> Result<Vec<T>, Error> {
    let mut v = Vec::new();
    v.try_reserve_exact(len).map_err(|_| {
        Error::value(
            param,
            format!("asks for {len} elements, more memory than is available"),
        )
    })?;
    v.resize(len, value);
    Ok(v)
}

/// The live objects of one exported class (`#[export] impl T` keeps one in a static).
///
/// A handle is a `u32`: the slot index + 1 in the low [`Objects::INDEX_BITS`] bits and the
/// slot's generation above them, so a handle that was dropped (or never issued) is refused
/// with a `ValueError` instead of reaching another object or freed memory.
pub struct Objects<T> {
    slots: std::sync::Mutex<Slots<T>>,
}

struct Slots<T> {
    items: Vec<(u32, Option<T>)>, // (generation, object)
    free: Vec<u32>,
}

impl<T> Objects<T> {
    /// Bits of a handle that hold the slot index (+1); at most `2^20 - 1` live objects.
    pub const INDEX_BITS: u32 = 20;
    const INDEX_MASK: u32 = (1 << Self::INDEX_BITS) - 1;
    const GENERATIONS: u32 = 1 << (32 - Self::INDEX_BITS);

    pub const fn new() -> Self {
        Objects {
            slots: std::sync::Mutex::new(Slots {
                items: Vec::new(),
                free: Vec::new(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Slots<T>> {
        // A panic while an object was borrowed (caught natively) leaves it as the panic left
        // it; the registry itself stays consistent, so poisoning is ignored.
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stores `value` and returns its handle; an error when `2^20 - 1` objects are alive.
    pub fn insert(&self, value: T, class: &str) -> Result<u32, Error> {
        let mut s = self.lock();
        let index = match s.free.pop() {
            Some(i) => i,
            None => {
                let i = s.items.len() as u32;
                if i >= Self::INDEX_MASK {
                    return Err(Error::invalid(format!(
                        "too many live {class} objects (at most {})",
                        Self::INDEX_MASK
                    )));
                }
                s.items.push((0, None));
                i
            }
        };
        let slot = &mut s.items[index as usize];
        slot.1 = Some(value);
        Ok((slot.0 << Self::INDEX_BITS) | (index + 1))
    }

    fn index(handle: u32) -> Option<usize> {
        (handle & Self::INDEX_MASK)
            .checked_sub(1)
            .map(|i| i as usize)
    }

    /// Runs `f` on the object behind `handle`; a `ValueError` for parameter `self` when the
    /// handle is not a live object of this class.
    pub fn with<R>(
        &self,
        handle: u32,
        class: &str,
        f: impl FnOnce(&mut T) -> R,
    ) -> Result<R, Error> {
        let mut s = self.lock();
        let generation = handle >> Self::INDEX_BITS;
        match Self::index(handle).and_then(|i| s.items.get_mut(i)) {
            Some((g, Some(obj))) if *g == generation => Ok(f(obj)),
            _ => Err(Error::value(
                "self",
                format!("is not a live {class} object"),
            )),
        }
    }

    /// Removes and returns the object behind `handle` (`None` when it is not live, so a
    /// second drop is harmless).
    pub fn remove(&self, handle: u32) -> Option<T> {
        let mut s = self.lock();
        let generation = handle >> Self::INDEX_BITS;
        let index = Self::index(handle)?;
        let slot = s.items.get_mut(index)?;
        if slot.0 != generation || slot.1.is_none() {
            return None;
        }
        let value = slot.1.take();
        slot.0 = (slot.0 + 1) % Self::GENERATIONS;
        s.free.push(index as u32);
        value
    }

    /// The number of live objects.
    pub fn len(&self) -> usize {
        let s = self.lock();
        s.items.len() - s.free.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T> Default for Objects<T> {
    fn default() -> Self {
        Self::new()
    }
}

thread_local! {
    static LAST_ERROR: RefCell<String> = const { RefCell::new(String::new()) };
    static PANICKED: Cell<i32> = const { Cell::new(0) };
    /// The owned result last handed to the host (its allocation's address, size and
    /// alignment), kept for the host to read: freed when the next one is handed over, by
    /// [`wasmcore_free`] of its address or by [`wasmcore_release_result`].
    static KEPT: Cell<(usize, usize, usize)> = const { Cell::new((0, 0, 0)) };
}

/// Frees an allocation of `size` bytes aligned to `align` at `addr`; nothing for a zero size.
fn dealloc(addr: usize, size: usize, align: usize) {
    if addr == 0 || size == 0 {
        return;
    }
    if let Ok(layout) = Layout::from_size_align(size, align) {
        // SAFETY: every caller passes an allocation of this module's allocator with this
        // layout (a kept result, or what the host's contract says it frees)
        unsafe { std::alloc::dealloc(std::ptr::with_exposed_provenance_mut(addr), layout) }
    }
}

/// Keeps an owned result handed to the host, freeing the one kept before.
fn keep(addr: usize, size: usize, align: usize) {
    let (a, s, al) = KEPT.replace((addr, size, align));
    dealloc(a, s, al);
}

fn set_last_error(message: &str) {
    LAST_ERROR.with_borrow_mut(|s| {
        s.clear();
        s.push_str(message);
    });
}

/// Allocates `size` bytes aligned to `align` in this module's memory; 0 when the request is
/// invalid or memory is exhausted. A zero-size request returns a dangling, aligned pointer.
#[unsafe(no_mangle)]
pub extern "C" fn wasmcore_alloc(size: usize, align: usize) -> *mut u8 {
    let Ok(layout) = Layout::from_size_align(size, align) else {
        return std::ptr::null_mut();
    };
    if size == 0 {
        return std::ptr::without_provenance_mut(align);
    }
    // SAFETY: the layout has a non-zero size.
    unsafe { std::alloc::alloc(layout) }
}

/// Frees memory from [`wasmcore_alloc`] (or a buffer returned through the return-buffer
/// protocol) with the same size and alignment. Null pointers and zero sizes are ignored.
///
/// An owned result is kept by the module until the next one (or [`wasmcore_release_result`]),
/// so a host need not free it; freeing it here is still right (a host that does not know it is
/// kept, or that wants a large one's memory back now): it is then no longer kept.
///
/// # Safety
/// `ptr` must come from this module's allocator with exactly this size and alignment.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasmcore_free(ptr: *mut u8, size: usize, align: usize) {
    let addr = ptr.expose_provenance();
    if addr != 0 && KEPT.get().0 == addr {
        KEPT.set((0, 0, 0));
    }
    dealloc(addr, size, align);
}

/// Frees the owned result the module keeps (the last one handed to the host), if any: the
/// memory of a large result back before the next call. Its presence also tells a host that
/// owned results are kept, so that it need not free each one (`docs/abi.md`).
#[unsafe(no_mangle)]
pub extern "C" fn wasmcore_release_result() {
    let (addr, size, align) = KEPT.replace((0, 0, 0));
    dealloc(addr, size, align);
}

/// Pointer to the UTF-8 message of the calling thread's last error.
#[unsafe(no_mangle)]
pub extern "C" fn wasmcore_last_error_ptr() -> *const u8 {
    LAST_ERROR.with_borrow(|s| s.as_ptr())
}

/// Length in bytes of the calling thread's last error message.
#[unsafe(no_mangle)]
pub extern "C" fn wasmcore_last_error_len() -> usize {
    LAST_ERROR.with_borrow(|s| s.len())
}

/// Returns and clears the calling thread's caught-panic status: [`schema::STATUS_PANIC`]
/// after an infallible export panicked (native build; the message is the last error), else 0.
#[unsafe(no_mangle)]
pub extern "C" fn wasmcore_take_panic() -> i32 {
    PANICKED.replace(0)
}

/// Support for the code `#[export]` generates. Not a stable API.
#[doc(hidden)]
pub mod __private {
    use super::*;
    use std::panic::{AssertUnwindSafe, catch_unwind};

    /// Runs an export's body, catching a panic (native build) as [`schema::STATUS_PANIC`]
    /// with the panic message as the last error.
    #[inline(always)]
    pub fn guard<R>(f: impl FnOnce() -> R) -> Result<R, i32> {
        catch_unwind(AssertUnwindSafe(f)).map_err(|payload| {
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_owned());
            set_last_error(&format!("panic in kernel: {msg}"));
            schema::STATUS_PANIC
        })
    }

    /// Records `e` as the last error and returns its status.
    #[cold]
    pub fn fail(e: &Error) -> i32 {
        set_last_error(e.message());
        e.status()
    }

    /// Marks a caught panic in an infallible export (see [`wasmcore_take_panic`]).
    #[cold]
    pub fn note_panic(status: i32) {
        PANICKED.set(status);
    }

    /// Unwraps a parameter conversion in an infallible export (the panic is caught).
    #[inline(always)]
    pub fn expect<T>(r: Result<T, Error>) -> T {
        match r {
            Ok(v) => v,
            Err(e) => panic!("{e}"),
        }
    }

    fn check<T>(ptr: *const T, len: usize, param: &str) -> Result<(), Error> {
        if ptr.is_null() {
            return Err(Error::value(param, "is a null pointer"));
        }
        if !ptr.cast::<u8>().addr().is_multiple_of(align_of::<T>()) {
            return Err(Error::value(param, "is a misaligned pointer"));
        }
        if len
            .checked_mul(size_of::<T>())
            .is_none_or(|n| n > isize::MAX as usize)
        {
            return Err(Error::value(param, "is too long"));
        }
        Ok(())
    }

    /// A slice from an export's (pointer, length) pair; any pointer is fine when `len` is 0.
    ///
    /// # Safety
    /// When `len > 0`, `ptr` must point to `len` initialised `T`s that stay valid and
    /// unaliased by writers for `'a`.
    #[inline(always)]
    pub unsafe fn slice<'a, T>(ptr: *const T, len: usize, param: &str) -> Result<&'a [T], Error> {
        if len == 0 {
            return Ok(&[]);
        }
        check(ptr, len, param)?;
        // SAFETY: non-null, aligned, size checked; validity is the caller's contract.
        Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
    }

    /// A mutable slice from an export's (pointer, length) pair.
    ///
    /// # Safety
    /// As [`slice`], and no other reference to the memory may exist for `'a`.
    #[inline(always)]
    pub unsafe fn slice_mut<'a, T>(
        ptr: *mut T,
        len: usize,
        param: &str,
    ) -> Result<&'a mut [T], Error> {
        if len == 0 {
            return Ok(&mut []);
        }
        check(ptr, len, param)?;
        // SAFETY: as above, plus exclusivity from the caller.
        Ok(unsafe { std::slice::from_raw_parts_mut(ptr, len) })
    }

    /// A `&str` from an export's (pointer, length) pair; invalid UTF-8 is a `ValueError`.
    ///
    /// # Safety
    /// As [`slice`].
    #[inline(always)]
    pub unsafe fn str<'a>(ptr: *const u8, len: usize, param: &str) -> Result<&'a str, Error> {
        // SAFETY: forwarded contract.
        let bytes = unsafe { slice(ptr, len, param)? };
        std::str::from_utf8(bytes).map_err(|e| Error::value(param, format!("is not UTF-8: {e}")))
    }

    /// A 2-D view from an export's (pointer, rows, columns) triple.
    ///
    /// # Safety
    /// As [`slice`] for `rows * cols` elements.
    #[inline(always)]
    pub unsafe fn matrix<'a, T>(
        ptr: *const T,
        rows: usize,
        cols: usize,
        param: &str,
    ) -> Result<MatrixRef<'a, T>, Error> {
        let Some(len) = rows.checked_mul(cols) else {
            return Err(Error::value(param, "is too large"));
        };
        // SAFETY: forwarded contract.
        let data = unsafe { slice(ptr, len, param)? };
        MatrixRef::new(data, rows, cols).ok_or_else(|| Error::value(param, "is too large"))
    }

    /// Hands an owned 2-D result to the host: writes (pointer, length, rows, columns) to
    /// `out`; the host frees the data as for [`put_owned`].
    ///
    /// # Safety
    /// As [`put`] for a `[usize; 4]`.
    #[inline(always)]
    pub unsafe fn put_matrix<T>(out: *mut [usize; 4], m: Matrix<T>) -> Result<(), Error> {
        if out.is_null() {
            return Err(Error::value("<result>", "is a null pointer"));
        }
        let (data, rows, cols) = m.into_parts();
        let (addr, len) = hand_over(data);
        // SAFETY: as `put`.
        unsafe { out.write_unaligned([addr, len, rows, cols]) };
        Ok(())
    }

    /// Writes a scalar result through the caller's out pointer.
    ///
    /// # Safety
    /// `out` must be null or valid for a write of `T` (any alignment).
    #[inline(always)]
    pub unsafe fn put<T>(out: *mut T, v: T) -> Result<(), Error> {
        if out.is_null() {
            return Err(Error::value("<result>", "is a null pointer"));
        }
        // SAFETY: non-null; validity is the caller's contract.
        unsafe { out.write_unaligned(v) };
        Ok(())
    }

    /// Hands an owned buffer to the host through the return-buffer protocol: writes
    /// (pointer, length in elements) to `out`. The module keeps it until the next owned
    /// result (the host may free it sooner with `wasmcore_free`).
    ///
    /// # Safety
    /// As [`put`] for a `[usize; 2]`.
    #[inline(always)]
    pub unsafe fn put_owned<T>(out: *mut [usize; 2], v: Vec<T>) -> Result<(), Error> {
        if out.is_null() {
            return Err(Error::value("<result>", "is a null pointer"));
        }
        let (addr, len) = hand_over(v);
        // SAFETY: as `put`.
        unsafe { out.write_unaligned([addr, len]) };
        Ok(())
    }

    /// The address and length of `v`'s data, now kept for the host (see `KEPT`).
    fn hand_over<T>(v: Vec<T>) -> (usize, usize) {
        let b = v.into_boxed_slice();
        let len = b.len();
        let addr = Box::into_raw(b).cast::<T>().expose_provenance();
        super::keep(addr, len * size_of::<T>(), align_of::<T>());
        (addr, len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alloc_free_round_trip() {
        let p = wasmcore_alloc(24, 8);
        assert!(!p.is_null() && p.addr().is_multiple_of(8));
        // SAFETY: from wasmcore_alloc with this layout.
        unsafe { wasmcore_free(p, 24, 8) };
        let z = wasmcore_alloc(0, 16);
        assert_eq!(z.addr(), 16);
        // SAFETY: zero size is a no-op.
        unsafe { wasmcore_free(z, 0, 16) };
        assert!(wasmcore_alloc(8, 3).is_null(), "bad alignment must fail");
    }

    #[test]
    fn owned_results_are_kept_until_the_next_one() {
        let mut out = [0usize; 2];
        // SAFETY: out is a live [usize; 2]
        unsafe { __private::put_owned(&mut out, vec![1.5f64, 2.5, 3.5]).unwrap() };
        let first = out;
        assert_eq!(KEPT.get(), (first[0], 24, 8));
        // SAFETY: the kept result: 3 f64 at that address, alive until the next one
        let data = unsafe { std::slice::from_raw_parts(first[0] as *const f64, first[1]) };
        assert_eq!(data, [1.5, 2.5, 3.5]);
        // the next result frees it and is kept in its place
        // SAFETY: as above
        unsafe { __private::put_owned(&mut out, vec![7u32; 5]).unwrap() };
        assert_eq!(KEPT.get(), (out[0], 20, 4));
        // a host that frees it (one that does not know, or a large result): no longer kept,
        // so the next one does not free it again
        // SAFETY: the kept result, with its size and alignment
        unsafe { wasmcore_free(std::ptr::with_exposed_provenance_mut(out[0]), 20, 4) };
        assert_eq!(KEPT.get(), (0, 0, 0));
        // SAFETY: as above
        unsafe { __private::put_owned(&mut out, Vec::<u8>::new()).unwrap() };
        assert_eq!(out[1], 0);
        // SAFETY: as above
        unsafe { __private::put_owned(&mut out, b"abc".to_vec()).unwrap() };
        wasmcore_release_result();
        assert_eq!(KEPT.get(), (0, 0, 0));
        wasmcore_release_result(); // (nothing kept: nothing to do)
        // freeing other memory leaves the kept result alone
        // SAFETY: as above
        unsafe { __private::put_owned(&mut out, vec![1i64]).unwrap() };
        let p = wasmcore_alloc(16, 8);
        // SAFETY: from wasmcore_alloc with this layout
        unsafe { wasmcore_free(p, 16, 8) };
        assert_eq!(KEPT.get(), (out[0], 8, 8));
        wasmcore_release_result();
    }

    #[test]
    fn errors_reach_the_last_error_accessor() {
        let st = __private::fail(&Error::value("n", "must be <= 93, got 94"));
        assert_eq!(st, schema::STATUS_VALUE_ERROR);
        let len = wasmcore_last_error_len();
        // SAFETY: pointer/len from the accessor, valid until the next error.
        let msg = unsafe { std::slice::from_raw_parts(wasmcore_last_error_ptr(), len) };
        assert_eq!(msg, b"parameter 'n' must be <= 93, got 94");
    }

    #[test]
    fn guard_catches_panics() {
        let r = __private::guard(|| -> u32 { panic!("boom") });
        assert_eq!(r, Err(schema::STATUS_PANIC));
        let len = wasmcore_last_error_len();
        // SAFETY: as above.
        let msg = unsafe { std::slice::from_raw_parts(wasmcore_last_error_ptr(), len) };
        assert_eq!(msg, b"panic in kernel: boom");
    }

    #[test]
    fn handles_are_checked_and_never_reused_stale() {
        let objects: Objects<String> = Objects::new();
        let a = objects.insert("a".to_owned(), "S").unwrap();
        let b = objects.insert("b".to_owned(), "S").unwrap();
        assert_ne!(a, b);
        assert_eq!(objects.with(a, "S", |s| s.clone()).unwrap(), "a");
        assert_eq!(objects.remove(a).as_deref(), Some("a"));
        assert_eq!(objects.remove(a), None, "second drop is a no-op");
        let e = objects.with(a, "S", |_| ()).unwrap_err();
        assert_eq!(e.message(), "parameter 'self' is not a live S object");
        // the slot is reused with a new generation: the stale handle stays dead
        let c = objects.insert("c".to_owned(), "S").unwrap();
        assert_ne!(c, a);
        assert!(objects.with(a, "S", |_| ()).is_err());
        assert_eq!(objects.with(c, "S", |s| s.clone()).unwrap(), "c");
        for forged in [0, u32::MAX, 12345] {
            assert!(objects.with(forged, "S", |_| ()).is_err());
            assert_eq!(objects.remove(forged), None);
        }
        assert_eq!(objects.len(), 2);
    }

    #[test]
    fn slices_check_pointers() {
        let v = [1.0f64, 2.0];
        // SAFETY: valid pointer and length.
        assert_eq!(unsafe { __private::slice(v.as_ptr(), 2, "x") }.unwrap(), &v);
        // SAFETY: zero length never dereferences.
        assert!(unsafe { __private::slice::<f64>(std::ptr::null(), 0, "x") }.is_ok());
        // SAFETY: null is rejected before use.
        let e = unsafe { __private::slice::<f64>(std::ptr::null(), 1, "x") }.unwrap_err();
        assert!(e.message().contains("'x'"));
        let bad = v.as_ptr().cast::<u8>().wrapping_add(1).cast::<f64>();
        // SAFETY: misalignment is rejected before use.
        assert!(unsafe { __private::slice(bad, 1, "x") }.is_err());
    }
}
