//! [`Kernel`]: the compiled call of a wasm export whose parameters are numbers, `bytes`, `str`
//! and 1-D arrays, and whose result is a number, `bytes`, `str` or a 1-D array.
//!
//! wasmcore's Python path (the generated callables of `wasmcore/_backends/wasm.py`) stays the
//! reference: a `Kernel` makes a call itself only when every argument is exactly of the type
//! the call takes (an `int` in range, a `float`, a `bool`, a `bytes`, a `str`, a C-contiguous
//! aligned numpy array of the element type that is no view of other memory), given by
//! position, from the thread whose instance it is bound to, and fits the scratch area. Anything
//! else (keywords, defaults, another thread, a numpy scalar, a value out of range, a list, an
//! array of another dtype or in linear memory already) goes, untouched, to the Python callable
//! it was made from (`_w_fallback`, an attribute of the Python subclass wasmcore makes), which
//! checks, converts and raises exactly as it always does. After a call, a wasmtime error, a trap
//! or a kernel's error status is handed to `_w_fail(error, status)`, the Python path's own
//! failure handling (which re-creates the instance after a trap), whose exception is raised. So
//! the two paths cannot disagree on an error: there is one code for each error, in Python.
//!
//! What a `Kernel` writes and reads is fixed when it is made: the raw value array's address,
//! each argument's type (its byte offset follows from the ABI's lowering, `wasmcore-schema`),
//! the result's type. The store context, the function and the host address of the result slot
//! in linear memory are replaced by [`Kernel::rebind`] when wasmcore re-creates the instance;
//! where the scratch area and linear memory are, by [`Scratch`].

use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};

use numpy::npyffi::{self, NPY_ARRAY_ALIGNED, NPY_ARRAY_C_CONTIGUOUS};
use numpy::{Element, PyArray1, PyArrayDescr, PyArrayDescrMethods, dtype};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyTuple};
use pyo3::{BoundObject, ffi, intern};
use pyo3::{PyTraverseError, PyVisit};
use wasmcore_schema::{Dir, Elem, Return, Scalar, Type, ValType};

/// The interface of [`Kernel`] that wasmcore checks before using it.
pub const INTERFACE: u32 = 3;

/// `wasmtime_func_call_unchecked(context, func, args_and_results, nargs_and_results, trap)`.
type CallUnchecked = unsafe extern "C" fn(usize, usize, usize, usize, usize) -> usize;

/// How an argument crosses: a number in its slot, or bytes copied into the scratch area of
/// linear memory, their address and length in two slots.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Arg {
    Num(Scalar),
    /// exactly `bytes`
    Bytes,
    /// exactly `str`, as UTF-8
    Str,
    /// exactly a numpy array of the element's dtype (its length in elements)
    Array(Elem),
    /// a wasm value as it is (an export without a manifest): an `int` in the signed or the
    /// unsigned range of i32 or i64 (wasm's integers have no sign), or a number for f32, f64
    Raw(ValType),
}

/// What a call returns: nothing, a number (in the first slot, or in the result slot of a
/// fallible kernel), or an owned buffer the kernel wrote the address and length of to the
/// result slot, copied out and freed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ret {
    Unit,
    Num(Scalar),
    Bytes,
    Str,
    Array(Elem),
    /// wasm values as they are (see [`Kernel::new`]'s `returns`): None, one, or a tuple
    Raw,
}

/// The most `bytes`, `str` and array arguments of a compiled call.
const MAX_BUFFERS: usize = 8;

/// Where an instance's linear memory and its scratch area are, shared by its kernels: the
/// memory's first byte in the host's memory and how many bytes of it wasmcore knows of (it
/// only grows); the scratch area's address in linear memory and its size (none until the
/// Python path first grows it); and how many bytes the kernels have copied into it so far.
/// wasmcore updates it whenever these change.
#[pyclass(frozen, module = "wasmcore_speedups")]
pub struct Scratch {
    base: AtomicUsize,
    len: AtomicUsize,
    ptr: AtomicUsize,
    cap: AtomicUsize,
    copied: AtomicU64,
}

#[pymethods]
impl Scratch {
    #[new]
    fn new() -> Self {
        Scratch {
            base: AtomicUsize::new(0),
            len: AtomicUsize::new(0),
            ptr: AtomicUsize::new(0),
            cap: AtomicUsize::new(0),
            copied: AtomicU64::new(0),
        }
    }

    /// Linear memory starts at host address `base` and has (at least) `len` bytes.
    fn memory(&self, base: usize, len: usize) -> PyResult<()> {
        if base == 0 && len != 0 {
            return Err(PyValueError::new_err(
                "Scratch.memory(): parameter 'base' is 0",
            ));
        }
        self.base.store(base, Relaxed);
        self.len.store(len, Relaxed);
        Ok(())
    }

    /// The area is now `cap` bytes at `ptr` in linear memory (0 and 0: there is none); it
    /// must lie in the memory given by [`Scratch::memory`].
    fn set(&self, ptr: u32, cap: u32) -> PyResult<()> {
        let (ptr, cap) = (ptr as usize, cap as usize);
        if cap != 0 && (self.base.load(Relaxed) == 0 || ptr + cap > self.len.load(Relaxed)) {
            return Err(PyValueError::new_err(
                "Scratch.set(): the area is outside linear memory",
            ));
        }
        self.ptr.store(ptr, Relaxed);
        self.cap.store(cap, Relaxed);
        Ok(())
    }

    /// Bytes copied by the kernels.
    #[getter]
    fn copied(&self) -> u64 {
        self.copied.load(Relaxed)
    }
}

/// `Kernel(call, raw, nslots, trap, tid, params, returns, fallible, scratch=None, free=None,
/// defaults=[], armed=False, hold_gil=False, keep_max=0)`:
/// the compiled call of one export in one instance. `call` is the address of
/// `wasmtime_func_call_unchecked`; `raw` the address of the call's raw value array of `nslots`
/// 16-byte slots; `trap` the address of the pointer-sized trap slot; `tid` the ident
/// (`threading.get_ident()`) of the instance's thread; `params` the manifest's names of the
/// parameter types (`u64`, `str`, `f64[]`, ..., `handle`: a `u32` here); `returns` the
/// result's (or `None`); `fallible`: the export returns an i32 status. `scratch` (a
/// [`Scratch`]) is needed for `bytes`, `str` and array parameters and owned results; `free`
/// (the instance's `wasmcore_free(ptr, size, align)` kernel) for owned results. `defaults`:
/// the values of the last parameters when a call leaves them out; `armed`: `_w_arm()` runs
/// before each call; `hold_gil`: the GIL is kept through the wasm call, else released;
/// `keep_max`: owned results of at most this many bytes are left to the module (which keeps
/// each until its next), larger ones freed.
///
/// Calling it needs the attributes `_w_fallback` (the Python callable it stands for), `_w_fail`
/// (`(error, status) -> exception`) and, with an owned result, `_w_take` (the Python path's
/// copy and free of the result) on the object: wasmcore subclasses it. Unsafe as a ctypes
/// function pointer is: wasmcore makes these objects itself, with the addresses of the wasmtime
/// library wasmtime-py has loaded and of memory it keeps alive.
#[pyclass(frozen, subclass, module = "wasmcore_speedups")]
pub struct Kernel {
    call: CallUnchecked,
    raw: usize,
    nslots: usize,
    trap: usize,
    tid: std::os::raw::c_ulong,
    /// each argument's type, its offset in the raw array and, for an array, its dtype
    params: Vec<(Arg, usize, Option<Py<PyArrayDescr>>)>,
    /// the default values of the last parameters
    defaults: Vec<Py<PyAny>>,
    ret: Ret,
    /// the value types of a raw result ([`Ret::Raw`]), in its slots
    raw_results: Vec<ValType>,
    fallible: bool,
    /// `_w_arm()` runs before each call (a plugin's limits)
    armed: bool,
    /// the GIL is kept through the wasm call (`#[export(gil = "hold")]`: short calls)
    hold_gil: bool,
    /// owned results of at most this many bytes are not freed (the module keeps them)
    keep_max: usize,
    scratch: Option<Py<Scratch>>,
    free: Option<Py<Kernel>>,
    ctx: AtomicUsize,
    func: AtomicUsize,
    out: AtomicUsize,
    /// false: every call goes to the Python path (see [`Kernel::rebind`])
    direct: AtomicBool,
}

#[pymethods]
impl Kernel {
    /// The objects this kernel holds, for the cyclic garbage collector: another kernel (the
    /// instance's `wasmcore_free`) leads back to the instance through its Python callable, so
    /// a cycle through this one must be seen to be collected. (Breaking it is left to the
    /// attributes of wasmcore's subclass, which the collector clears.)
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        for (_, _, descr) in &self.params {
            if let Some(d) = descr {
                visit.call(d)?;
            }
        }
        for d in &self.defaults {
            visit.call(d)?;
        }
        if let Some(s) = &self.scratch {
            visit.call(s)?;
        }
        if let Some(f) = &self.free {
            visit.call(f)?;
        }
        Ok(())
    }

    /// Whether the GIL is kept through the wasm call (`hold_gil` when made).
    #[getter]
    fn hold_gil(&self) -> bool {
        self.hold_gil
    }

    #[new]
    #[pyo3(signature = (call, raw, nslots, trap, tid, params, returns, fallible, scratch = None, free = None, defaults = Vec::new(), armed = false, hold_gil = false, keep_max = 0))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        call: usize,
        raw: usize,
        nslots: usize,
        trap: usize,
        tid: std::os::raw::c_ulong,
        params: Vec<String>,
        returns: Option<String>,
        fallible: bool,
        scratch: Option<Py<Scratch>>,
        free: Option<Py<Kernel>>,
        defaults: Vec<Py<PyAny>>,
        armed: bool,
        hold_gil: bool,
        keep_max: usize,
    ) -> PyResult<Self> {
        if call == 0 || raw == 0 || trap == 0 {
            return Err(PyValueError::new_err(
                "Kernel(): parameters 'call', 'raw' and 'trap' must be addresses, got 0",
            ));
        }
        let refused =
            |what: &str| PyValueError::new_err(format!("Kernel(): {what} is not compiled here"));
        let arrays = params.iter().any(|p| p.ends_with("[]"))
            || returns.as_deref().is_some_and(|r| r.ends_with("[]"));
        if arrays {
            // (numpy's C API, which rust-numpy imports when first used, needs numpy)
            py.import("numpy")?;
        }
        let mut ps = Vec::with_capacity(params.len());
        let mut types = Vec::with_capacity(params.len());
        let mut offset = 0;
        let mut raw_params = Vec::new();
        for name in &params {
            if let Some(v) = name.strip_prefix("raw ") {
                let v = val_type(v).ok_or_else(|| refused(name))?;
                ps.push((Arg::Raw(v), offset, None));
                raw_params.push(v);
                offset += 16;
                continue;
            }
            let t = Type::parse(name).map_err(|e| PyValueError::new_err(e.to_string()))?;
            let (arg, descr) = match t {
                Type::Scalar(s) => (Arg::Num(s), None),
                Type::Handle => (Arg::Num(Scalar::U32), None),
                Type::Bytes => (Arg::Bytes, None),
                Type::Str => (Arg::Str, None),
                Type::Buffer(e, Dir::In) => (Arg::Array(e), Some(descr_of(py, e))),
                _ => return Err(refused(name)),
            };
            ps.push((arg, offset, descr));
            types.push(t);
            offset += 16 * t.lower().len();
        }
        let mut raw_results = Vec::new();
        let ret = if let Some(names) = returns.as_deref().and_then(|r| r.strip_prefix("raw")) {
            // an export without a manifest: its wasm types, as they are
            for v in names.split_whitespace() {
                raw_results.push(val_type(v).ok_or_else(|| refused(v))?);
            }
            if !types.is_empty()
                || fallible
                || nslots < raw_params.len().max(raw_results.len()).max(1)
            {
                return Err(refused(
                    "a raw export with other parameters or too few slots",
                ));
            }
            Ret::Raw
        } else {
            if !raw_params.is_empty() {
                return Err(refused("a raw parameter of a function with a manifest"));
            }
            let r = Return::parse(returns.as_deref())
                .map_err(|e| PyValueError::new_err(e.to_string()))?;
            // the raw array holds the arguments (the result pointer last) and the results
            let (lowered, results) = wasmcore_schema::signature(&types, r, fallible);
            if nslots < lowered.len().max(results.len()).max(1) {
                return Err(PyValueError::new_err(format!(
                    "Kernel(): {nslots} slots do not hold the call's values"
                )));
            }
            match r {
                Return::Unit => Ret::Unit,
                Return::Scalar(s) => Ret::Num(s),
                Return::Handle => Ret::Num(Scalar::U32),
                Return::OwnedStr => Ret::Str,
                Return::Owned(_) if returns.as_deref() == Some("bytes") => Ret::Bytes,
                Return::Owned(e) => Ret::Array(e),
                Return::OwnedMatrix(_) => return Err(refused("a 2-D result")),
            }
        };
        if defaults.len() > ps.len() {
            return Err(PyValueError::new_err(
                "Kernel(): more defaults than parameters",
            ));
        }
        let buffers = (ps.iter())
            .filter(|p| matches!(p.0, Arg::Bytes | Arg::Str | Arg::Array(_)))
            .count();
        let owned = matches!(ret, Ret::Bytes | Ret::Str | Ret::Array(_));
        if buffers > MAX_BUFFERS
            || ((buffers > 0 || owned) && scratch.is_none())
            || (owned && free.is_none())
        {
            return Err(PyValueError::new_err(format!(
                "Kernel(): {buffers} buffer parameters (at most {MAX_BUFFERS}) and an owned \
                 result need a scratch area, an owned result the free function"
            )));
        }
        // SAFETY: call is non-null (checked above); that it is wasmtime_func_call_unchecked is
        // the maker's promise (the class's doc)
        let call = unsafe { std::mem::transmute::<usize, CallUnchecked>(call) };
        Ok(Kernel {
            call,
            raw,
            nslots,
            trap,
            tid,
            params: ps,
            defaults,
            ret,
            raw_results,
            fallible,
            armed,
            hold_gil,
            keep_max,
            scratch,
            free,
            ctx: AtomicUsize::new(0),
            func: AtomicUsize::new(0),
            out: AtomicUsize::new(0),
            direct: AtomicBool::new(true),
        })
    }

    /// Binds the call to the instance's store context `ctx` and function `func` (a
    /// `wasmtime_func_t *`); `out`: the host address of the result slot, for a fallible kernel
    /// returning a value and an owned result (0 otherwise).
    /// `direct`: false where each call must take the Python path (a plugin whose calls go
    /// through a guard holding signals back, see wasmcore's `PluginInstance.guard`).
    #[pyo3(signature = (ctx, func, out, direct = true))]
    fn rebind(&self, ctx: usize, func: usize, out: usize, direct: bool) -> PyResult<()> {
        let slot = matches!(self.ret, Ret::Bytes | Ret::Str | Ret::Array(_))
            || (self.fallible && self.ret != Ret::Unit);
        if ctx == 0 || func == 0 || (slot && out == 0) {
            return Err(PyValueError::new_err("Kernel.rebind(): an address is 0"));
        }
        self.ctx.store(ctx, Relaxed);
        self.func.store(func, Relaxed);
        self.out.store(out, Relaxed);
        self.direct.store(direct, Relaxed);
        Ok(())
    }

    /// A kernel read from a class is itself (as a built-in function is): the kernels of a
    /// core are attributes of its class, called without the core. (Being a descriptor, it is
    /// also what `inspect.ismethoddescriptor` calls a function of C code.)
    fn __get__<'py>(
        slf: &Bound<'py, Self>,
        _obj: Option<&Bound<'py, PyAny>>,
        _owner: Option<&Bound<'py, PyAny>>,
    ) -> Bound<'py, Self> {
        slf.clone()
    }

    #[pyo3(signature = (*args, **kwargs))]
    fn __call__(
        slf: &Bound<'_, Self>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        let k = slf.get();
        let py = slf.py();
        let ctx = k.ctx.load(Relaxed);
        // SAFETY: no precondition (it reads the calling thread's ident)
        let tid = unsafe { ffi::PyThread_get_thread_ident() };
        let (given, all) = (args.len(), k.params.len());
        let first_default = all - k.defaults.len();
        if ctx == 0
            || !k.direct.load(Relaxed)
            || tid != k.tid
            || given > all
            || given < first_default
            || kwargs.is_some_and(|d| !d.is_empty())
        {
            return fallback(slf, args, kwargs);
        }
        // bytes to copy into the scratch area: (from, bytes, where in the area, raw offset,
        // the length the call gets)
        let mut copies = [(std::ptr::null::<u8>(), 0usize, 0usize, 0usize, 0usize); MAX_BUFFERS];
        let (mut ncopies, mut used) = (0, 0);
        let (base, ptr, cap) = match &k.scratch {
            Some(s) => {
                let s = s.get();
                (
                    s.base.load(Relaxed),
                    s.ptr.load(Relaxed),
                    s.cap.load(Relaxed),
                )
            }
            None => (0, 0, 0),
        };
        for (i, (arg, offset, descr)) in k.params.iter().enumerate() {
            let a = if i < given {
                // SAFETY: i < args.len()
                unsafe { args.get_borrowed_item_unchecked(i) }
            } else {
                k.defaults[i - first_default].bind_borrowed(py) // (i >= first_default)
            };
            let found = match *arg {
                Arg::Num(t) => {
                    // SAFETY: offset + the value's size is within the raw array (checked
                    // when made)
                    if unsafe { write(t, a.as_ptr(), (k.raw + offset) as *mut u8) } {
                        continue;
                    }
                    None
                }
                Arg::Raw(v) => {
                    // SAFETY: as for a number (a slot holds any wasm value)
                    if unsafe { write_raw(v, a.as_ptr(), (k.raw + offset) as *mut u8) } {
                        continue;
                    }
                    None
                }
                Arg::Array(e) => descr.as_ref().and_then(|d| array_of(py, &a, e, d.bind(py))),
                // SAFETY: a is a live object
                _ => unsafe { bytes_of(*arg, a.as_ptr()) }.map(|(p, n)| (p, n, n)),
            };
            match found {
                // (the Python path grows the area, or converts or refuses the argument)
                Some((from, n, len)) if used + n <= cap => {
                    copies[ncopies] = (from, n, used, *offset, len);
                    ncopies += 1;
                    used += (n + 15) & !15;
                }
                _ => return fallback(slf, args, kwargs),
            }
        }
        if k.armed {
            // the limits of this call, once its arguments are known good (as the Python path
            // arms them). It may re-create the instance after a failure, which re-binds this
            // kernel (the context and function are read after it) and resets the scratch
            // area: then the Python path places the arguments, in the new one.
            slf.getattr(intern!(py, "_w_arm"))?.call0()?;
            if let Some(s) = &k.scratch {
                let s = s.get();
                if ncopies > 0
                    && (
                        s.base.load(Relaxed),
                        s.ptr.load(Relaxed),
                        s.cap.load(Relaxed),
                    ) != (base, ptr, cap)
                {
                    return fallback(slf, args, kwargs);
                }
            }
        }
        let mut copied = 0;
        for &(from, n, to, offset, len) in &copies[..ncopies] {
            // SAFETY: the bytes of a live object (args holds it) into the scratch area, within
            // its cap (checked above) and linear memory (Scratch::set); the address and length
            // into the two slots at offset (checked when made). A wasm address and a length
            // that fits in the area fit in a u32.
            unsafe {
                if n > 0 {
                    std::ptr::copy_nonoverlapping(from, (base + ptr + to) as *mut u8, n);
                }
                ((k.raw + offset) as *mut u32).write_unaligned((ptr + to) as u32);
                ((k.raw + offset + 16) as *mut u32).write_unaligned(len as u32);
            }
            copied += n as u64;
        }
        if let Some(s) = &k.scratch {
            s.get().copied.fetch_add(copied, Relaxed);
        }
        let (call, ctx, func, raw, nslots, trap) = (
            k.call,
            k.ctx.load(Relaxed),
            k.func.load(Relaxed),
            k.raw,
            k.nslots,
            k.trap,
        );
        // (with the GIL held: a short call, its author says; releasing and taking back the
        // GIL, ~45 ns, would be most of its cost)
        let err = if k.hold_gil {
            // SAFETY: the maker's promise (the class's doc): call is
            // wasmtime_func_call_unchecked, ctx and func those of a live instance of this
            // thread, raw and trap live buffers of the sizes given
            unsafe { call(ctx, func, raw, nslots, trap) }
        } else {
            // SAFETY: as above; nothing here touches Python objects while the GIL is released
            py.detach(move || unsafe { call(ctx, func, raw, nslots, trap) })
        };
        if let Some(failed) = k.check(slf, err)? {
            return Ok(failed); // (a raw export's: a WASI program's exit with status 0)
        }
        let out = k.out.load(Relaxed);
        match k.ret {
            Ret::Unit => Ok(py.None()),
            Ret::Num(t) => {
                let at = if k.fallible { out } else { raw };
                // SAFETY: the result is in the raw array, or in the result slot of the
                // instance's linear memory (its address given by rebind)
                Ok(unsafe { read(py, t, at as *const u8) })
            }
            Ret::Raw => k.raw_values(py),
            _ => k.take(slf, out),
        }
    }
}

impl Kernel {
    /// The exception of a failed call (an error, a trap, an error status), from the Python
    /// path's failure handling (`_w_fail`); or, when that returns None rather than an
    /// exception (a raw export's failure that is a normal end), the call's result: None.
    fn check(&self, slf: &Bound<'_, Kernel>, err: usize) -> PyResult<Option<Py<PyAny>>> {
        // SAFETY: raw and trap are live buffers (the maker's promise)
        let (status, trapped) = unsafe {
            (
                if self.fallible {
                    (self.raw as *const i32).read_unaligned()
                } else {
                    0
                },
                (self.trap as *const usize).read_unaligned() != 0,
            )
        };
        if err != 0 || trapped || status != 0 {
            let fail = slf.getattr(intern!(slf.py(), "_w_fail"))?;
            let e = fail.call1((err, status))?;
            if e.is_none() {
                return Ok(Some(e.unbind()));
            }
            return Err(PyErr::from_value(e));
        }
        Ok(None)
    }

    /// A raw export's results, as the Python path reads them: None, the one value, or a tuple.
    fn raw_values(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let values: Vec<Py<PyAny>> = self
            .raw_results
            .iter()
            .enumerate()
            .map(|(k, &v)| {
                let at = (self.raw + 16 * k) as *const u8;
                // SAFETY: slot k of the raw array (checked when made: there are enough)
                unsafe {
                    match v {
                        ValType::I32 => obj(py, (at as *const i32).read_unaligned()),
                        ValType::I64 => obj(py, (at as *const i64).read_unaligned()),
                        ValType::F32 => obj(py, widen((at as *const u32).read_unaligned())),
                        ValType::F64 => obj(py, (at as *const f64).read_unaligned()),
                    }
                }
            })
            .collect();
        Ok(match values.len() {
            0 => py.None(),
            1 => values.into_iter().next().unwrap_or_else(|| py.None()),
            _ => PyTuple::new(py, values)?.into_any().unbind(),
        })
    }

    /// The owned result whose address and length (in elements) the call wrote to the result
    /// slot at host address `out`: copied out, then freed with the module's `wasmcore_free`.
    /// A buffer beyond the part of linear memory wasmcore knows of, or not aligned for its
    /// elements, is the Python path's to take (`_w_take`).
    fn take(&self, slf: &Bound<'_, Kernel>, out: usize) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        // SAFETY: out is the result slot in linear memory (rebind; two u32 words)
        let (at, n) = unsafe {
            let slot = out as *const u32;
            (
                slot.read_unaligned() as usize,
                slot.add(1).read_unaligned() as usize,
            )
        };
        let item = match self.ret {
            Ret::Array(e) => e.size(),
            _ => 1,
        };
        let (base, len) = match &self.scratch {
            Some(s) => (s.get().base.load(Relaxed), s.get().len.load(Relaxed)),
            None => (0, 0),
        };
        let size = n
            .checked_mul(item)
            .filter(|size| at.checked_add(*size).is_some_and(|end| end <= len));
        let aligned = base != 0 && (base + at) % item == 0;
        let (Some(size), Some(free), true) = (size, &self.free, aligned) else {
            return Ok(slf.getattr(intern!(py, "_w_take"))?.call0()?.unbind());
        };
        // SAFETY: size bytes at address `at` of linear memory, inside the part wasmcore knows
        // of (checked above; memory never moves nor shrinks), aligned for the elements
        let data = unsafe { std::slice::from_raw_parts((base + at) as *const u8, size) };
        let result = match self.ret {
            Ret::Bytes => Ok(PyBytes::new(py, data).into_any().unbind()),
            Ret::Str => {
                // as str(data, "utf-8"): the same error for bytes that are no UTF-8
                // SAFETY: data is a live slice of size bytes
                let s = unsafe {
                    ffi::PyUnicode_DecodeUTF8(
                        data.as_ptr().cast(),
                        size as ffi::Py_ssize_t,
                        c"strict".as_ptr(),
                    )
                };
                // SAFETY: a new reference, or null with an exception set
                unsafe { Bound::from_owned_ptr_or_err(py, s) }.map(Bound::unbind)
            }
            Ret::Array(e) => Ok(array_from(py, e, data)),
            Ret::Unit | Ret::Num(_) | Ret::Raw => {
                Err(PyValueError::new_err("Kernel: no owned result to take"))
            }
        };
        if size > self.keep_max {
            let free = free.bind(py);
            free.get()
                .call_numbers(free, &[at as u64, size as u64, item as u64])?;
        }
        result
    }

    /// Calls this kernel (one of numbers: the module's `wasmcore_free`) with `values` and the
    /// GIL held: for a call with nothing to wait for, run by another kernel.
    fn call_numbers(&self, slf: &Bound<'_, Kernel>, values: &[u64]) -> PyResult<()> {
        let ctx = self.ctx.load(Relaxed);
        if ctx == 0 || values.len() != self.params.len() {
            return Err(PyValueError::new_err(
                "Kernel: an internal call of the wrong shape",
            ));
        }
        for (&v, (arg, offset, _)) in values.iter().zip(&self.params) {
            let Arg::Num(t) = *arg else {
                return Err(PyValueError::new_err(
                    "Kernel: an internal call of the wrong shape",
                ));
            };
            let at = (self.raw + offset) as *mut u8;
            // SAFETY: offset + the value's size is within the raw array (checked when made)
            unsafe {
                match t {
                    Scalar::I64 | Scalar::U64 => (at as *mut u64).write_unaligned(v),
                    _ => (at as *mut u32).write_unaligned(v as u32),
                }
            }
        }
        // SAFETY: as in __call__ (the maker's promise)
        let err = unsafe {
            (self.call)(
                ctx,
                self.func.load(Relaxed),
                self.raw,
                self.nslots,
                self.trap,
            )
        };
        self.check(slf, err).map(|_| ())
    }
}

/// The wasm value type named `name`.
fn val_type(name: &str) -> Option<ValType> {
    [ValType::I32, ValType::I64, ValType::F32, ValType::F64]
        .into_iter()
        .find(|v| v.as_str() == name)
}

/// Writes raw argument `a` as a wasm `v` at `at` when it is exactly an `int` in the signed or
/// unsigned range of an integer type (stored as its two's complement), or a `float` or an `int`
/// for a float type: false (nothing written) for anything the Python path must check.
///
/// # Safety
/// `a` is a live object; `at` is writable for 8 bytes.
unsafe fn write_raw(v: ValType, a: *mut ffi::PyObject, at: *mut u8) -> bool {
    // SAFETY: the caller's promise; every function here takes any live object of its type
    unsafe {
        match v {
            ValType::F32 => write(Scalar::F32, a, at),
            ValType::F64 => write(Scalar::F64, a, at),
            ValType::I32 => match exact_int(a) {
                // (two's complement: -2**31 to 2**32 - 1 fit, signed or unsigned)
                Some(x) if (-(1i128 << 31)..(1i128 << 32)).contains(&x) => {
                    (at as *mut u32).write_unaligned(x as u32);
                    true
                }
                _ => false,
            },
            ValType::I64 => match exact_int(a) {
                Some(x) => {
                    (at as *mut u64).write_unaligned(x as u64); // (exact_int's range fits)
                    true
                }
                None => false,
            },
        }
    }
}

/// The value of `a` when it is exactly an `int` from -2**63 to 2**64 - 1 (the integers a
/// slot can hold, signed or unsigned); None, with no exception left set, for anything else.
///
/// # Safety
/// `a` is a live object.
unsafe fn exact_int(a: *mut ffi::PyObject) -> Option<i128> {
    // SAFETY: the caller's promise; the functions take any live int
    unsafe {
        if ffi::PyLong_CheckExact(a) == 0 {
            return None;
        }
        let mut overflow = 0;
        let x = ffi::PyLong_AsLongLongAndOverflow(a, &mut overflow);
        match overflow {
            0 => Some(i128::from(x)),
            1 => {
                let u = ffi::PyLong_AsUnsignedLongLong(a);
                if u == u64::MAX && !ffi::PyErr_Occurred().is_null() {
                    ffi::PyErr_Clear(); // beyond 2**64 - 1
                    return None;
                }
                Some(i128::from(u))
            }
            _ => None,
        }
    }
}

/// The numpy dtype of an element type.
fn descr_of(py: Python<'_>, e: Elem) -> Py<PyArrayDescr> {
    match e {
        Elem::F64 => dtype::<f64>(py),
        Elem::F32 => dtype::<f32>(py),
        Elem::I64 => dtype::<i64>(py),
        Elem::U32 => dtype::<u32>(py),
        Elem::U8 => dtype::<u8>(py),
    }
    .unbind()
}

/// The bytes of argument `a` (their address, size and the array's length in elements) when it
/// is exactly a numpy array of dtype `descr`, 1-D, C-contiguous and aligned, and not a view of
/// other memory (a view may be of linear memory itself: the Python path passes those as they
/// are).
fn array_of(
    py: Python<'_>,
    a: &Borrowed<'_, '_, PyAny>,
    e: Elem,
    descr: &Bound<'_, PyArrayDescr>,
) -> Option<(*const u8, usize, usize)> {
    // SAFETY: a is a live object
    if unsafe { npyffi::PyArray_CheckExact(py, a.as_ptr()) } == 0 {
        return None;
    }
    // SAFETY: a is exactly a numpy array (checked above): its fields are those of
    // PyArrayObject, and its descr a live dtype
    unsafe {
        let arr = &(*(a.as_ptr() as *const npyffi::PyArrayObject)).fields;
        let flags = NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED;
        if arr.nd != 1 || arr.flags & flags != flags || !arr.base.is_null() {
            return None;
        }
        let own =
            Bound::from_borrowed_ptr(py, arr.descr.cast()).cast_into_unchecked::<PyArrayDescr>();
        if !own.is(descr) && !own.is_equiv_to(descr) {
            return None;
        }
        let n = usize::try_from(*arr.dimensions).ok()?;
        Some((arr.data as *const u8, n.checked_mul(e.size())?, n))
    }
}

/// A new numpy array of element type `e` holding a copy of `data` (aligned for it).
fn array_from(py: Python<'_>, e: Elem, data: &[u8]) -> Py<PyAny> {
    fn typed<T: Element + Copy>(py: Python<'_>, data: &[u8]) -> Py<PyAny> {
        // SAFETY: data is aligned for T (the caller checks) and holds whole elements
        let values = unsafe {
            std::slice::from_raw_parts(data.as_ptr().cast::<T>(), data.len() / size_of::<T>())
        };
        PyArray1::from_slice(py, values).into_any().unbind()
    }
    match e {
        Elem::F64 => typed::<f64>(py, data),
        Elem::F32 => typed::<f32>(py, data),
        Elem::I64 => typed::<i64>(py, data),
        Elem::U32 => typed::<u32>(py, data),
        Elem::U8 => typed::<u8>(py, data),
    }
}

/// The Python callable the kernel stands for, called with the arguments as given.
fn fallback(
    slf: &Bound<'_, Kernel>,
    args: &Bound<'_, PyTuple>,
    kwargs: Option<&Bound<'_, PyDict>>,
) -> PyResult<Py<PyAny>> {
    let f = slf.getattr(intern!(slf.py(), "_w_fallback"))?;
    Ok(f.call(args, kwargs)?.unbind())
}

/// The bytes of argument `a` (its address and length) when it is exactly a `bytes` (for
/// [`Arg::Bytes`]) or a `str` whose UTF-8 form Python has or can make (for [`Arg::Str`]).
///
/// # Safety
/// `a` is a live object. The bytes live as long as it does.
unsafe fn bytes_of(arg: Arg, a: *mut ffi::PyObject) -> Option<(*const u8, usize)> {
    let mut n: ffi::Py_ssize_t = 0;
    // SAFETY: the caller's promise; the functions take any live object of their type
    unsafe {
        let p = match arg {
            Arg::Bytes if ffi::PyBytes_CheckExact(a) != 0 => {
                let mut p: *mut std::os::raw::c_char = std::ptr::null_mut();
                if ffi::PyBytes_AsStringAndSize(a, &mut p, &mut n) != 0 {
                    ffi::PyErr_Clear();
                    return None;
                }
                p as *const u8
            }
            Arg::Str if ffi::PyUnicode_CheckExact(a) != 0 => {
                let p = ffi::PyUnicode_AsUTF8AndSize(a, &mut n);
                if p.is_null() {
                    ffi::PyErr_Clear(); // (a lone surrogate: the Python path words the error)
                    return None;
                }
                p as *const u8
            }
            _ => return None,
        };
        Some((p, usize::try_from(n).ok()?))
    }
}

/// Writes argument `a` as a `t` at `at`, when it is exactly of a type the call takes as it is:
/// false (nothing written) for anything the Python path must check or convert.
///
/// # Safety
/// `a` is a live object; `at` is writable for the size of `t`.
unsafe fn write(t: Scalar, a: *mut ffi::PyObject, at: *mut u8) -> bool {
    // SAFETY: the caller's promise; every function here takes any live object of its type
    unsafe {
        match t {
            Scalar::Bool => {
                let v = if a == ffi::Py_True() {
                    1
                } else if a == ffi::Py_False() {
                    0
                } else {
                    return false;
                };
                (at as *mut i32).write_unaligned(v);
            }
            Scalar::F32 | Scalar::F64 => {
                let v = if ffi::PyFloat_CheckExact(a) != 0 {
                    ffi::PyFloat_AsDouble(a)
                } else if ffi::PyLong_CheckExact(a) != 0 {
                    let v = ffi::PyLong_AsDouble(a);
                    if v == -1.0 && !ffi::PyErr_Occurred().is_null() {
                        ffi::PyErr_Clear(); // too large: the Python path words the error
                        return false;
                    }
                    v
                } else {
                    return false;
                };
                if t == Scalar::F32 {
                    (at as *mut u32).write_unaligned(narrow(v));
                } else {
                    (at as *mut f64).write_unaligned(v);
                }
            }
            _ => {
                let Some(v) = exact_int(a) else {
                    return false;
                };
                match t {
                    Scalar::I32 if i32::try_from(v).is_ok() => {
                        (at as *mut i32).write_unaligned(v as i32)
                    }
                    Scalar::U32 if u32::try_from(v).is_ok() => {
                        (at as *mut u32).write_unaligned(v as u32)
                    }
                    Scalar::I64 if i64::try_from(v).is_ok() => {
                        (at as *mut i64).write_unaligned(v as i64)
                    }
                    Scalar::U64 if u64::try_from(v).is_ok() => {
                        (at as *mut u64).write_unaligned(v as u64)
                    }
                    _ => return false,
                }
            }
        }
    }
    true
}

/// The bits of f64 `v` as an f32, as the Python path stores it (`convert.f32_write`): rounded
/// to nearest, and a NaN's sign and the top 23 bits of its payload carried as they are (a
/// signalling NaN stays one; a cast would set its quiet bit), the quiet bit alone where those
/// are all 0.
fn narrow(v: f64) -> u32 {
    if !v.is_nan() {
        return (v as f32).to_bits();
    }
    let b = v.to_bits();
    let payload = (b >> 29) as u32 & 0x7F_FFFF;
    (b >> 32) as u32 & 0x8000_0000 | 0x7F80_0000 | if payload == 0 { 0x40_0000 } else { payload }
}

/// The f64 of f32 bits `b`, exact (a NaN's sign and payload carried: `convert.f32_nan`).
fn widen(b: u32) -> f64 {
    let v = f32::from_bits(b);
    if !v.is_nan() {
        return f64::from(v);
    }
    let b = u64::from(b);
    f64::from_bits((b & 0x8000_0000) << 32 | 0x7FF << 52 | (b & 0x7F_FFFF) << 29)
}

/// The value of type `t` at `at`, as Python makes it from a typed memoryview.
///
/// # Safety
/// `at` is readable for the size of `t`.
unsafe fn read(py: Python<'_>, t: Scalar, at: *const u8) -> Py<PyAny> {
    // SAFETY: the caller's promise
    unsafe {
        match t {
            Scalar::I32 => obj(py, (at as *const i32).read_unaligned()),
            Scalar::U32 => obj(py, (at as *const u32).read_unaligned()),
            Scalar::I64 => obj(py, (at as *const i64).read_unaligned()),
            Scalar::U64 => obj(py, (at as *const u64).read_unaligned()),
            Scalar::F32 => obj(py, widen((at as *const u32).read_unaligned())),
            Scalar::F64 => obj(py, (at as *const f64).read_unaligned()),
            Scalar::Bool => obj(py, (at as *const i32).read_unaligned() != 0),
        }
    }
}

/// A number as a Python object (ints, floats and bools always convert).
fn obj<'py, T: IntoPyObject<'py, Error = Infallible>>(py: Python<'py>, v: T) -> Py<PyAny> {
    let Ok(o) = v.into_pyobject(py);
    o.into_any().into_bound().unbind()
}
