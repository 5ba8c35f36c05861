//! [`Kernel`]: the compiled call of a wasm export whose parameters and result are numbers.
//!
//! wasmcore's Python path (the generated callables of `wasmcore/_backends/wasm.py`) stays the
//! reference: a `Kernel` makes a call itself only when every argument is exactly of the type
//! the call takes (an `int` in range, a `float`, a `bool`), given by position, from the thread
//! whose instance it is bound to. Anything else (keywords, defaults, another thread, a numpy
//! scalar, a value out of range) goes, untouched, to the Python callable it was made from
//! (`_w_fallback`, an attribute of the Python subclass wasmcore makes), which checks, converts
//! and raises exactly as it always does. After a call, a wasmtime error, a trap or a kernel's
//! error status is handed to `_w_fail(error, status)`, the Python path's own failure handling
//! (which re-creates the instance after a trap), whose exception is raised. So the two paths
//! cannot disagree on an error: there is one code for each error, in Python.
//!
//! What a `Kernel` writes and reads is fixed when it is made: the raw value array's address,
//! each argument's byte offset and type, the result's type and, for a fallible kernel, the
//! address of the result slot in linear memory. The store context, the function and the
//! result slot are replaced by [`Kernel::rebind`] when wasmcore re-creates the instance.

use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use pyo3::{BoundObject, ffi, intern};
use wasmcore_schema::{Scalar, ValType};

/// The interface of [`Kernel`] that wasmcore checks before using it.
pub const INTERFACE: u32 = 1;

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
}

/// The most bytes and str arguments of a compiled call.
const MAX_BUFFERS: usize = 8;

/// The scratch area of an instance's linear memory, shared by its kernels: where its first
/// byte is in the host's memory and in wasm's, how many bytes it has (none until the Python
/// path first grows it) and how many bytes the kernels have copied into it so far. wasmcore
/// updates it whenever it replaces the area.
#[pyclass(frozen, module = "wasmcore_speedups")]
pub struct Scratch {
    host: AtomicUsize,
    ptr: AtomicUsize,
    cap: AtomicUsize,
    copied: AtomicU64,
}

#[pymethods]
impl Scratch {
    #[new]
    fn new() -> Self {
        Scratch {
            host: AtomicUsize::new(0),
            ptr: AtomicUsize::new(0),
            cap: AtomicUsize::new(0),
            copied: AtomicU64::new(0),
        }
    }

    /// The area is now `cap` bytes at `ptr` in linear memory, `host` in the host's memory
    /// (all 0: there is none).
    fn set(&self, host: usize, ptr: u32, cap: u32) -> PyResult<()> {
        if cap != 0 && host == 0 {
            return Err(PyValueError::new_err(
                "Scratch.set(): parameter 'host' is 0",
            ));
        }
        self.host.store(host, Relaxed);
        self.ptr.store(ptr as usize, Relaxed);
        self.cap.store(cap as usize, Relaxed);
        Ok(())
    }

    /// Bytes copied by the kernels.
    #[getter]
    fn copied(&self) -> u64 {
        self.copied.load(Relaxed)
    }
}

/// The scalar type named `name`, and the bytes its value takes in a slot.
fn scalar(name: &str) -> Option<(Scalar, usize)> {
    let t = *Scalar::ALL.iter().find(|t| t.as_str() == name)?;
    Some((
        t,
        if matches!(t.lower(), ValType::I64 | ValType::F64) {
            8
        } else {
            4
        },
    ))
}

/// `Kernel(call, raw, nslots, trap, tid, params, returns, fallible)`: the compiled call of one
/// export in one instance. `call` is the address of `wasmtime_func_call_unchecked`; `raw` the
/// address of the call's raw value array of `nslots` 16-byte slots; `trap` the address of the
/// pointer-sized trap slot; `tid` the ident (`threading.get_ident()`) of the instance's thread;
/// `params` a list of `(type, offset)`, each argument's type name (`i32`, `u32`, `i64`, `u64`,
/// `f32`, `f64`, `bool`) and byte offset in the raw array; `returns` the result's type name or
/// `None`; `fallible`: the export returns an i32 status and writes its result, if any, to the
/// result slot (see [`Kernel::rebind`]).
///
/// Calling it needs the attributes `_w_fallback` (the Python callable it stands for) and
/// `_w_fail` (`(error, status) -> exception`) on the object: wasmcore subclasses it. Unsafe as a
/// ctypes function pointer is: wasmcore makes these objects itself, with the addresses of the
/// wasmtime library wasmtime-py has loaded and of memory it keeps alive.
#[pyclass(frozen, subclass, module = "wasmcore_speedups")]
pub struct Kernel {
    call: CallUnchecked,
    raw: usize,
    nslots: usize,
    trap: usize,
    tid: std::os::raw::c_ulong,
    params: Vec<(Arg, usize)>,
    scratch: Option<Py<Scratch>>,
    returns: Option<Scalar>,
    fallible: bool,
    ctx: AtomicUsize,
    func: AtomicUsize,
    out: AtomicUsize,
}

#[pymethods]
impl Kernel {
    #[new]
    #[pyo3(signature = (call, raw, nslots, trap, tid, params, returns, fallible, scratch = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        call: usize,
        raw: usize,
        nslots: usize,
        trap: usize,
        tid: std::os::raw::c_ulong,
        params: Vec<(String, usize)>,
        returns: Option<String>,
        fallible: bool,
        scratch: Option<Py<Scratch>>,
    ) -> PyResult<Self> {
        if call == 0 || raw == 0 || trap == 0 {
            return Err(PyValueError::new_err(
                "Kernel(): parameters 'call', 'raw' and 'trap' must be addresses, got 0",
            ));
        }
        let kind = |name: &str| {
            scalar(name).ok_or_else(|| {
                PyValueError::new_err(format!("Kernel(): {name:?} is not a number type"))
            })
        };
        let mut ps = Vec::with_capacity(params.len());
        for (name, offset) in &params {
            let (arg, size) = match name.as_str() {
                "bytes" => (Arg::Bytes, 16 + 4),
                "str" => (Arg::Str, 16 + 4),
                _ => {
                    let (t, size) = kind(name)?;
                    (Arg::Num(t), size)
                }
            };
            if offset + size > nslots * 16 {
                return Err(PyValueError::new_err(format!(
                    "Kernel(): offset {offset} is outside the raw array of {nslots} slots"
                )));
            }
            ps.push((arg, *offset));
        }
        let buffers = ps.iter().filter(|(a, _)| !matches!(a, Arg::Num(_))).count();
        if buffers > MAX_BUFFERS || (buffers > 0 && scratch.is_none()) {
            return Err(PyValueError::new_err(format!(
                "Kernel(): {buffers} bytes or str parameters need a scratch area (at most \
                 {MAX_BUFFERS})"
            )));
        }
        let returns = returns.as_deref().map(kind).transpose()?.map(|(t, _)| t);
        if nslots == 0 || (returns.is_some() || fallible) && nslots * 16 < 8 {
            return Err(PyValueError::new_err("Kernel(): no slot for the result"));
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
            scratch,
            returns,
            fallible,
            ctx: AtomicUsize::new(0),
            func: AtomicUsize::new(0),
            out: AtomicUsize::new(0),
        })
    }

    /// Binds the call to the instance's store context `ctx` and function `func` (a
    /// `wasmtime_func_t *`); `out`: the host address of the result slot of a fallible kernel
    /// returning a value (0 otherwise).
    fn rebind(&self, ctx: usize, func: usize, out: usize) -> PyResult<()> {
        if ctx == 0 || func == 0 || (self.fallible && self.returns.is_some() && out == 0) {
            return Err(PyValueError::new_err("Kernel.rebind(): an address is 0"));
        }
        self.ctx.store(ctx, Relaxed);
        self.func.store(func, Relaxed);
        self.out.store(out, Relaxed);
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
        if ctx == 0
            || tid != k.tid
            || args.len() != k.params.len()
            || kwargs.is_some_and(|d| !d.is_empty())
        {
            return fallback(slf, args, kwargs);
        }
        // bytes to copy into the scratch area: (from, length, where in the area, raw offset)
        let mut copies = [(std::ptr::null::<u8>(), 0usize, 0usize, 0usize); MAX_BUFFERS];
        let (mut ncopies, mut used) = (0, 0);
        let (host, base, cap) = match &k.scratch {
            Some(s) => {
                let s = s.get();
                (
                    s.host.load(Relaxed),
                    s.ptr.load(Relaxed),
                    s.cap.load(Relaxed),
                )
            }
            None => (0, 0, 0),
        };
        for (i, &(arg, offset)) in k.params.iter().enumerate() {
            // SAFETY: i < args.len() (checked above)
            let a = unsafe { args.get_borrowed_item_unchecked(i) };
            let at = (k.raw + offset) as *mut u8;
            let t = match arg {
                Arg::Num(t) => t,
                // SAFETY: a is a live object
                _ => match unsafe { bytes_of(arg, a.as_ptr()) } {
                    // (the Python path grows the area, or converts or refuses the argument)
                    Some((from, n)) if used + n <= cap => {
                        copies[ncopies] = (from, n, used, offset);
                        ncopies += 1;
                        used += (n + 15) & !15;
                        continue;
                    }
                    _ => return fallback(slf, args, kwargs),
                },
            };
            // SAFETY: offset + the value's size is within the raw array (checked when made)
            if !unsafe { write(t, a.as_ptr(), at) } {
                return fallback(slf, args, kwargs);
            }
        }
        let mut copied = 0;
        for &(from, n, to, offset) in &copies[..ncopies] {
            // SAFETY: the bytes of a live bytes or str object (args holds them) into the
            // scratch area, within its cap (checked above); the address and length into the
            // two slots at offset (checked when made). A wasm address fits in a u32.
            unsafe {
                if n > 0 {
                    std::ptr::copy_nonoverlapping(from, (host + to) as *mut u8, n);
                }
                ((k.raw + offset) as *mut u32).write_unaligned((base + to) as u32);
                ((k.raw + offset + 16) as *mut u32).write_unaligned(n as u32);
            }
            copied += n as u64;
        }
        if let Some(s) = &k.scratch {
            s.get().copied.fetch_add(copied, Relaxed);
        }
        let (call, func, raw, nslots, trap) =
            (k.call, k.func.load(Relaxed), k.raw, k.nslots, k.trap);
        // SAFETY: the maker's promise (the class's doc): call is wasmtime_func_call_unchecked,
        // ctx and func those of a live instance of this thread, raw and trap live buffers of
        // the sizes given; nothing here touches Python objects while the GIL is released
        let err = py.detach(move || unsafe { call(ctx, func, raw, nslots, trap) });
        // SAFETY: raw and trap are live buffers (the maker's promise)
        let (status, trapped) = unsafe {
            (
                if k.fallible {
                    (raw as *const i32).read_unaligned()
                } else {
                    0
                },
                (trap as *const usize).read_unaligned() != 0,
            )
        };
        if err != 0 || trapped || status != 0 {
            let fail = slf.getattr(intern!(py, "_w_fail"))?;
            return Err(PyErr::from_value(fail.call1((err, status))?));
        }
        let Some(t) = k.returns else {
            return Ok(py.None());
        };
        let at = if k.fallible { k.out.load(Relaxed) } else { raw };
        // SAFETY: the result is in the raw array, or in the result slot of the instance's
        // linear memory (its address given by rebind)
        Ok(unsafe { read(py, t, at as *const u8) })
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
                    (at as *mut f32).write_unaligned(v as f32);
                } else {
                    (at as *mut f64).write_unaligned(v);
                }
            }
            _ => {
                if ffi::PyLong_CheckExact(a) == 0 {
                    return false;
                }
                let mut overflow = 0;
                let v = ffi::PyLong_AsLongLongAndOverflow(a, &mut overflow);
                match (t, overflow) {
                    (Scalar::I32, 0) if i32::try_from(v).is_ok() => {
                        (at as *mut i32).write_unaligned(v as i32)
                    }
                    (Scalar::U32, 0) if u32::try_from(v).is_ok() => {
                        (at as *mut u32).write_unaligned(v as u32)
                    }
                    (Scalar::I64, 0) => (at as *mut i64).write_unaligned(v),
                    (Scalar::U64, 0) if v >= 0 => (at as *mut u64).write_unaligned(v as u64),
                    (Scalar::U64, 1) => {
                        let u = ffi::PyLong_AsUnsignedLongLong(a);
                        if u == u64::MAX && !ffi::PyErr_Occurred().is_null() {
                            ffi::PyErr_Clear();
                            return false;
                        }
                        (at as *mut u64).write_unaligned(u);
                    }
                    _ => return false,
                }
            }
        }
    }
    true
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
            Scalar::F32 => obj(py, f64::from((at as *const f32).read_unaligned())),
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
