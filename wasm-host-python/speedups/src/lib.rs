//! `wasmcore_speedups`: wasmcore's optional compiled module (`pip install wasmcore[speedups]`).
//!
//! It holds one thing, [`BoundCall`]: a C function with every argument bound, called from Python
//! with no arguments. wasmcore binds each wasm export's one foreign call this way
//! (`wasmtime_func_call_unchecked` with the store context, the function, the raw value array,
//! its length and the trap slot, all fixed per callable and thread) and the per-call setters of
//! a plugin's limits. A call costs what calling a built-in costs, about 65 ns on the machine of
//! `docs/performance.md`, where ctypes takes about 155 ns for the same prebuilt call: ctypes
//! converts each argument and prepares the libffi call again on every call.
//!
//! Everything that decides whether a call is correct stays in wasmcore's Python: which function,
//! which addresses, and the checks of the error, the trap and the status after the call. This
//! module only makes the call, with the GIL released as ctypes does. Like a ctypes function
//! pointer, a `BoundCall` calls whatever address it is given: it is an internal tool, and
//! wasmcore gives it only the functions of the wasmtime library wasmtime-py has loaded.
//!
//! It also holds [`kernel::Kernel`], the compiled call of a kernel whose parameters are
//! numbers, `bytes` and `str` and whose result is a number: the argument checks, the copies into
//! linear memory, the writes into the raw value array, the call and the result's decoding in
//! one call of a built-in (see `kernel.rs`).

mod kernel;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyInt;

#[cfg(not(target_pointer_width = "64"))]
compile_error!("wasmcore-speedups passes pointers and 64-bit integers alike: 64-bit targets only");

/// The interface version wasmcore checks before using this module (a module of another
/// interface is ignored, and calls go through ctypes).
const INTERFACE: u32 = 1;

/// The most arguments a [`BoundCall`] binds (`wasmtime_func_call_unchecked` takes five).
const MAX_ARGS: usize = 6;

type F0 = unsafe extern "C" fn() -> usize;
type F1 = unsafe extern "C" fn(usize) -> usize;
type F2 = unsafe extern "C" fn(usize, usize) -> usize;
type F3 = unsafe extern "C" fn(usize, usize, usize) -> usize;
type F4 = unsafe extern "C" fn(usize, usize, usize, usize) -> usize;
type F5 = unsafe extern "C" fn(usize, usize, usize, usize, usize) -> usize;
type F6 = unsafe extern "C" fn(usize, usize, usize, usize, usize, usize) -> usize;

/// A C function of 0 to [`MAX_ARGS`] pointer-sized integer arguments returning one. Pointers,
/// `size_t` and `uint64_t` all travel in the same integer registers on the 64-bit ABIs, so one
/// signature per arity serves wasmtime's functions. (A `void` function's "result" is whatever
/// the register holds: [`BoundCall`] does not return it.)
#[derive(Clone, Copy)]
enum Target {
    A0(F0),
    A1(F1),
    A2(F2),
    A3(F3),
    A4(F4),
    A5(F5),
    A6(F6),
}

impl Target {
    /// The function at `address` taking `n` arguments, or None when `n` is more than
    /// [`MAX_ARGS`] or `address` is 0 (no function pointer is null).
    ///
    /// # Safety
    /// Calling the result is sound only if `address` is a C function taking `n` pointer-sized
    /// integer arguments (or fewer: the extra ones are ignored by the 64-bit C ABIs) and
    /// returning one or nothing.
    unsafe fn new(address: usize, n: usize) -> Option<Self> {
        if address == 0 {
            return None;
        }
        let p = address as *const ();
        // SAFETY: p is non-null (checked above); that it is a function of this signature is the
        // caller's promise (see the doc)
        unsafe {
            Some(match n {
                0 => Target::A0(std::mem::transmute::<*const (), F0>(p)),
                1 => Target::A1(std::mem::transmute::<*const (), F1>(p)),
                2 => Target::A2(std::mem::transmute::<*const (), F2>(p)),
                3 => Target::A3(std::mem::transmute::<*const (), F3>(p)),
                4 => Target::A4(std::mem::transmute::<*const (), F4>(p)),
                5 => Target::A5(std::mem::transmute::<*const (), F5>(p)),
                6 => Target::A6(std::mem::transmute::<*const (), F6>(p)),
                _ => return None,
            })
        }
    }

    /// Calls the function with the first arguments of `a` (as many as it takes).
    ///
    /// # Safety
    /// That of [`Target::new`], and whatever the function itself requires of its arguments.
    unsafe fn call(self, a: &[usize; MAX_ARGS]) -> usize {
        // SAFETY: the caller's promise (see the doc)
        unsafe {
            match self {
                Target::A0(f) => f(),
                Target::A1(f) => f(a[0]),
                Target::A2(f) => f(a[0], a[1]),
                Target::A3(f) => f(a[0], a[1], a[2]),
                Target::A4(f) => f(a[0], a[1], a[2], a[3]),
                Target::A5(f) => f(a[0], a[1], a[2], a[3], a[4]),
                Target::A6(f) => f(a[0], a[1], a[2], a[3], a[4], a[5]),
            }
        }
    }
}

/// `BoundCall(address, args, returns=True)`: the C function at `address` with the arguments
/// `args` (0 to 6 integers from 0 to 2**64 - 1: pointers, sizes, 64-bit values) bound.
/// Calling the object (no arguments) calls the function with the GIL released and returns its
/// result as an int (None when `returns` is false, for a function returning `void`).
///
/// Unsafe as a ctypes function pointer is: the address must be a C function taking those
/// integer arguments, and the arguments must be what it expects. wasmcore makes these objects
/// itself, for wasmtime's C API.
#[pyclass(frozen, module = "wasmcore_speedups")]
struct BoundCall {
    target: Target,
    args: [usize; MAX_ARGS],
    n: usize,
    returns: bool,
}

#[pymethods]
impl BoundCall {
    #[new]
    #[pyo3(signature = (address, args, returns = true))]
    fn new(
        address: &Bound<'_, PyAny>,
        args: Vec<Bound<'_, PyAny>>,
        returns: bool,
    ) -> PyResult<Self> {
        let address = integer(address, "address")?;
        if address == 0 {
            return Err(PyValueError::new_err(
                "BoundCall(): parameter 'address' must be a function's address, got 0",
            ));
        }
        let n = args.len();
        // SAFETY: whoever makes a BoundCall promises that address is such a function (the
        // class's doc); only the arity and the null address are checked here
        let Some(target) = (unsafe { Target::new(address, n) }) else {
            return Err(PyValueError::new_err(format!(
                "BoundCall(): parameter 'args' takes at most {MAX_ARGS} arguments, got {n}"
            )));
        };
        let mut bound = [0; MAX_ARGS];
        for (k, a) in args.iter().enumerate() {
            bound[k] = integer(a, &format!("args[{k}]"))?;
        }
        Ok(BoundCall {
            target,
            args: bound,
            n,
            returns,
        })
    }

    fn __call__(&self, py: Python<'_>) -> Option<usize> {
        let (target, args) = (self.target, self.args);
        // SAFETY: the constructor's contract (the class's doc); fn pointers and integers are
        // Send, and nothing here touches Python objects while the GIL is released
        let result = py.detach(move || unsafe { target.call(&args) });
        self.returns.then_some(result)
    }

    /// The address of the function.
    #[getter]
    fn address(&self) -> usize {
        match self.target {
            Target::A0(f) => f as usize,
            Target::A1(f) => f as usize,
            Target::A2(f) => f as usize,
            Target::A3(f) => f as usize,
            Target::A4(f) => f as usize,
            Target::A5(f) => f as usize,
            Target::A6(f) => f as usize,
        }
    }

    /// The bound arguments.
    #[getter]
    fn args(&self) -> Vec<usize> {
        self.args[..self.n].to_vec()
    }

    fn __repr__(&self) -> String {
        let args: Vec<String> = self.args[..self.n]
            .iter()
            .map(|a| format!("{a:#x}"))
            .collect();
        format!(
            "BoundCall({:#x}, [{}], returns={})",
            self.address(),
            args.join(", "),
            if self.returns { "True" } else { "False" }
        )
    }
}

/// `value` as an integer from 0 to 2**64 - 1, else a `TypeError` or `ValueError` naming the
/// parameter `name` and the value.
pub(crate) fn integer(value: &Bound<'_, PyAny>, name: &str) -> PyResult<usize> {
    if !value.is_instance_of::<PyInt>() {
        return Err(PyTypeError::new_err(format!(
            "BoundCall(): parameter '{name}' must be an int, got {}",
            value.get_type().name()?
        )));
    }
    value.extract::<usize>().map_err(|_| {
        PyValueError::new_err(format!(
            "BoundCall(): parameter '{name}' must be from 0 to 2**64 - 1, got {value}"
        ))
    })
}

#[pymodule]
fn wasmcore_speedups(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("INTERFACE", INTERFACE)?;
    m.add("KERNEL_INTERFACE", kernel::INTERFACE)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<BoundCall>()?;
    m.add_class::<kernel::Kernel>()?;
    m.add_class::<kernel::Scratch>()
}
