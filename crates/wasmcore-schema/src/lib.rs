//! The wasmcore ABI schema.
//!
//! This crate is the single owner of the ABI contract shared by the `#[export]` macro, the
//! runtime support in `wasmcore-abi`, the post-processor (`wasmcore-post`) and the integration
//! tests:
//!
//! * [`ABI_VERSION`] and the names of the custom sections;
//! * the logical types a manifest may name ([`Type`], [`Return`]) and their spelling;
//! * how each logical type lowers to wasm value types ([`signature`]);
//! * the runtime exports every module carries ([`RUNTIME_EXPORTS`]) and the status codes;
//! * the framing of descriptor records ([`frame`], [`records`]).
//!
//! It has no dependencies so that the proc-macro crate can use it at compile time.
//! The Python host mirrors [`signature`] in `wasmcore/_abi/manifest.py`; its tests check both agree.

use std::fmt;

// The README's examples are doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// Version of the ABI described here. Bump on any incompatible change.
pub const ABI_VERSION: u32 = 1;

/// Custom section holding the normalized manifest (UTF-8 JSON), written by the
/// post-processor (`wasmcore-post`; `cargo xtask dist` / `cargo xtask postprocess`).
///
/// The manifest is one compact JSON object whose keys come in this order:
///
/// * `"abi_version"` — [`ABI_VERSION`] of the module's ABI; a host refuses other versions;
/// * `"module"` — the module's name (for a crate, its lib name);
/// * `"version"` — optional: the module's own version, a semver string such as `"0.1.0"`
///   (the crate version); absent when the post-processor was given none;
/// * `"functions"` — the exported functions sorted by name, each a [`FunctionDesc`] object
///   ([`FunctionDesc::to_json`] without `kind`);
/// * `"classes"` — the exported types sorted by name, each a [`ClassDesc`] object
///   ([`ClassDesc::to_json`] without `kind`);
/// * `"imports"` — every import of the module in order, as
///   `{"module": ..., "name": ..., "kind": "func" | "table" | "memory" | "global" | "tag"}`.
///
/// For example (one function, no imports):
///
/// ```json
/// {"abi_version":1,"module":"words","version":"0.1.0","functions":[{"name":"count_words",
///  "doc":"Number of words in text.","params":[{"name":"text","type":"bytes"}],
///  "returns":"u32","fallible":false}],"classes":[],"imports":[]}
/// ```
///
/// A host ignores keys it does not know, so optional keys can be added without a new
/// [`ABI_VERSION`].
pub const MANIFEST_SECTION: &str = "wasmcore.abi";

/// Custom section into which `#[export]` places one descriptor record per exported item.
/// The linker concatenates the records of all objects; the post-processor replaces the
/// section by [`MANIFEST_SECTION`].
pub const DESCRIPTOR_SECTION: &str = "wasmcore.abi.desc";

/// Prefix reserved for the runtime exports of [`RUNTIME_EXPORTS`].
pub const RESERVED_PREFIX: &str = "wasmcore_";

/// Status returned by a fallible export: success.
pub const STATUS_OK: i32 = 0;
/// Status: an argument had a bad value (Python `ValueError`).
pub const STATUS_VALUE_ERROR: i32 = 1;
/// Status: an argument had the wrong kind (Python `TypeError`).
pub const STATUS_TYPE_ERROR: i32 = 2;
/// Status: the kernel panicked; the native build caught the unwind (Python `wasmcore.Error`).
pub const STATUS_PANIC: i32 = 3;

/// A wasm MVP value type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ValType {
    I32,
    I64,
    F32,
    F64,
}

impl ValType {
    pub const fn as_str(self) -> &'static str {
        match self {
            ValType::I32 => "i32",
            ValType::I64 => "i64",
            ValType::F32 => "f32",
            ValType::F64 => "f64",
        }
    }
}

impl fmt::Display for ValType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A scalar logical type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scalar {
    I32,
    U32,
    I64,
    U64,
    F32,
    F64,
    Bool,
}

impl Scalar {
    pub const ALL: [Scalar; 7] = [
        Scalar::I32,
        Scalar::U32,
        Scalar::I64,
        Scalar::U64,
        Scalar::F32,
        Scalar::F64,
        Scalar::Bool,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Scalar::I32 => "i32",
            Scalar::U32 => "u32",
            Scalar::I64 => "i64",
            Scalar::U64 => "u64",
            Scalar::F32 => "f32",
            Scalar::F64 => "f64",
            Scalar::Bool => "bool",
        }
    }

    /// The wasm value type a scalar crosses as.
    pub const fn lower(self) -> ValType {
        match self {
            Scalar::I32 | Scalar::U32 | Scalar::Bool => ValType::I32,
            Scalar::I64 | Scalar::U64 => ValType::I64,
            Scalar::F32 => ValType::F32,
            Scalar::F64 => ValType::F64,
        }
    }
}

/// Element type of a buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Elem {
    F64,
    F32,
    I64,
    U32,
    U8,
}

impl Elem {
    pub const ALL: [Elem; 5] = [Elem::F64, Elem::F32, Elem::I64, Elem::U32, Elem::U8];

    pub const fn as_str(self) -> &'static str {
        match self {
            Elem::F64 => "f64",
            Elem::F32 => "f32",
            Elem::I64 => "i64",
            Elem::U32 => "u32",
            Elem::U8 => "u8",
        }
    }

    /// Size of one element in bytes (also its alignment).
    pub const fn size(self) -> usize {
        match self {
            Elem::F64 | Elem::I64 => 8,
            Elem::F32 | Elem::U32 => 4,
            Elem::U8 => 1,
        }
    }
}

/// Direction of a buffer parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dir {
    /// Read by the callee (`&[T]`).
    In,
    /// Read and written in place by the callee (`&mut [T]`).
    InOut,
}

/// The logical type of a parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Type {
    Scalar(Scalar),
    /// `f64[]` (in) or `inout f64[]`; crosses as (pointer, length in elements).
    Buffer(Elem, Dir),
    /// `f64[,]`: a 2-D C-contiguous (row-major) array, read by the callee; crosses as
    /// (pointer, rows, columns).
    Matrix(Elem),
    /// Any bytes-like object; crosses as (pointer, length).
    Bytes,
    /// A Python `str`, UTF-8 encoded; crosses as (pointer, length).
    Str,
    /// An opaque handle to an exported Rust object.
    Handle,
}

/// Error from parsing a type name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownType(pub String);

impl fmt::Display for UnknownType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown logical type {:?}", self.0)
    }
}

impl std::error::Error for UnknownType {}

impl Type {
    /// Parses the manifest spelling of a parameter type.
    pub fn parse(s: &str) -> Result<Type, UnknownType> {
        let unknown = || UnknownType(s.to_owned());
        let (dir, rest) = match s.strip_prefix("inout ") {
            Some(rest) => (Dir::InOut, rest),
            None => (Dir::In, s),
        };
        if let Some(elem) = rest.strip_suffix("[,]")
            && dir == Dir::In
        {
            let elem = Elem::ALL
                .into_iter()
                .find(|e| e.as_str() == elem)
                .ok_or_else(unknown)?;
            return Ok(Type::Matrix(elem));
        }
        if let Some(elem) = rest.strip_suffix("[]") {
            let elem = Elem::ALL
                .into_iter()
                .find(|e| e.as_str() == elem)
                .ok_or_else(unknown)?;
            return Ok(Type::Buffer(elem, dir));
        }
        if dir != Dir::In {
            return Err(unknown());
        }
        match s {
            "bytes" => Ok(Type::Bytes),
            "str" => Ok(Type::Str),
            "handle" => Ok(Type::Handle),
            _ => Scalar::ALL
                .into_iter()
                .find(|t| t.as_str() == s)
                .map(Type::Scalar)
                .ok_or_else(unknown),
        }
    }

    /// The wasm value types this parameter lowers to, in order.
    pub fn lower(self) -> &'static [ValType] {
        match self {
            Type::Scalar(s) => match s.lower() {
                ValType::I32 => &[ValType::I32],
                ValType::I64 => &[ValType::I64],
                ValType::F32 => &[ValType::F32],
                ValType::F64 => &[ValType::F64],
            },
            Type::Buffer(..) | Type::Bytes | Type::Str => &[ValType::I32, ValType::I32],
            Type::Matrix(_) => &[ValType::I32, ValType::I32, ValType::I32],
            Type::Handle => &[ValType::I32],
        }
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Scalar(s) => f.write_str(s.as_str()),
            Type::Buffer(e, Dir::In) => write!(f, "{}[]", e.as_str()),
            Type::Buffer(e, Dir::InOut) => write!(f, "inout {}[]", e.as_str()),
            Type::Matrix(e) => write!(f, "{}[,]", e.as_str()),
            Type::Bytes => f.write_str("bytes"),
            Type::Str => f.write_str("str"),
            Type::Handle => f.write_str("handle"),
        }
    }
}

/// The logical return type of a function (`null` in the manifest for [`Return::Unit`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Return {
    Unit,
    Scalar(Scalar),
    Handle,
    /// A variable-size buffer (`bytes`, `str`, `f64[]`, ...), returned through the
    /// return-buffer protocol: the export takes a trailing pointer to an 8-byte slot where it
    /// writes (pointer, length in elements); the host copies the data out and frees it with
    /// `wasmcore_free(pointer, length * element size, element size)`.
    Owned(Elem),
    OwnedStr,
    /// A 2-D result (`f64[,]`): as [`Return::Owned`], but the slot holds four words
    /// (pointer, length in elements, rows, columns).
    OwnedMatrix(Elem),
}

impl Return {
    /// Parses the manifest spelling of a return type (`None` stands for JSON `null`).
    pub fn parse(s: Option<&str>) -> Result<Return, UnknownType> {
        let Some(s) = s else { return Ok(Return::Unit) };
        match Type::parse(s)? {
            Type::Scalar(sc) => Ok(Return::Scalar(sc)),
            Type::Handle => Ok(Return::Handle),
            Type::Bytes => Ok(Return::Owned(Elem::U8)),
            Type::Str => Ok(Return::OwnedStr),
            Type::Buffer(e, Dir::In) => Ok(Return::Owned(e)),
            Type::Matrix(e) => Ok(Return::OwnedMatrix(e)),
            Type::Buffer(_, Dir::InOut) => Err(UnknownType(s.to_owned())),
        }
    }

    /// The manifest spelling; `None` for unit.
    pub fn name(self) -> Option<String> {
        match self {
            Return::Unit => None,
            Return::Scalar(s) => Some(s.as_str().to_owned()),
            Return::Handle => Some("handle".to_owned()),
            Return::Owned(Elem::U8) => Some("bytes".to_owned()),
            Return::Owned(e) => Some(format!("{}[]", e.as_str())),
            Return::OwnedStr => Some("str".to_owned()),
            Return::OwnedMatrix(e) => Some(format!("{}[,]", e.as_str())),
        }
    }
}

/// The wasm signature `(params, results)` of an export with the given logical signature.
///
/// * every parameter lowers by [`Type::lower`];
/// * an infallible function returning a scalar or handle returns it directly;
/// * a fallible function returns an `i32` status ([`STATUS_OK`] = 0) and, when it has a
///   scalar or handle result, takes a trailing `i32` pointer to which it writes the result;
/// * a function returning an owned buffer takes a trailing `i32` pointer to the result slot
///   (two words: pointer, length; four for a matrix: pointer, length, rows, columns), and
///   returns the status only when fallible.
///
/// The result pointer comes last so that it never shares the first raw slot, which a call
/// overwrites with its result: a host can write it once when it binds the export.
pub fn signature(params: &[Type], ret: Return, fallible: bool) -> (Vec<ValType>, Vec<ValType>) {
    let mut p: Vec<ValType> = params
        .iter()
        .flat_map(|t| t.lower().iter().copied())
        .collect();
    let mut r = Vec::new();
    if has_result_pointer(ret, fallible) {
        p.push(ValType::I32);
    }
    match ret {
        Return::Scalar(s) if !fallible => r.push(s.lower()),
        Return::Handle if !fallible => r.push(ValType::I32),
        _ => {}
    }
    if fallible {
        r.push(ValType::I32);
    }
    (p, r)
}

/// True when [`signature`] adds a trailing result pointer (see there).
pub fn has_result_pointer(ret: Return, fallible: bool) -> bool {
    match ret {
        Return::Unit => false,
        Return::Scalar(_) | Return::Handle => fallible,
        Return::Owned(_) | Return::OwnedStr | Return::OwnedMatrix(_) => true,
    }
}

/// A runtime export every module built with `wasmcore-abi` carries.
#[derive(Clone, Copy, Debug)]
pub struct RuntimeExport {
    pub name: &'static str,
    pub params: &'static [ValType],
    pub results: &'static [ValType],
}

/// The runtime exports, with their wasm signatures (wasm32: pointers and sizes are `i32`).
pub const RUNTIME_EXPORTS: &[RuntimeExport] = &[
    // wasmcore_alloc(size, align) -> ptr (0 on failure)
    RuntimeExport {
        name: "wasmcore_alloc",
        params: &[ValType::I32, ValType::I32],
        results: &[ValType::I32],
    },
    // wasmcore_free(ptr, size, align)
    RuntimeExport {
        name: "wasmcore_free",
        params: &[ValType::I32, ValType::I32, ValType::I32],
        results: &[],
    },
    // pointer to / length of the UTF-8 message of the calling thread's last error
    RuntimeExport {
        name: "wasmcore_last_error_ptr",
        params: &[],
        results: &[ValType::I32],
    },
    RuntimeExport {
        name: "wasmcore_last_error_len",
        params: &[],
        results: &[ValType::I32],
    },
    // status of the calling thread's last caught panic in an infallible export (0 = none),
    // cleared by the call; the message is the last error.
    RuntimeExport {
        name: "wasmcore_take_panic",
        params: &[],
        results: &[ValType::I32],
    },
    // frees the owned result the module keeps (the last one it handed over); its presence
    // says owned results are kept, so a host need not free each one. (Newer than the others:
    // a module built before it lacks it, and a host must then free every owned result.)
    RuntimeExport {
        name: "wasmcore_release_result",
        params: &[],
        results: &[],
    },
];

/// Frames one descriptor record: a 4-byte little-endian length, then the UTF-8 JSON.
///
/// `N` must be `json.len() + 4`; used in const context by the `#[export]` macro.
pub const fn frame<const N: usize>(json: &str) -> [u8; N] {
    let bytes = json.as_bytes();
    assert!(N == bytes.len() + 4, "descriptor length mismatch");
    let len = (bytes.len() as u32).to_le_bytes();
    let mut out = [0u8; N];
    let mut i = 0;
    while i < 4 {
        out[i] = len[i];
        i += 1;
    }
    while i < N {
        out[i] = bytes[i - 4];
        i += 1;
    }
    out
}

/// Error from splitting a descriptor section into records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadRecords(pub String);

impl fmt::Display for BadRecords {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed {DESCRIPTOR_SECTION} section: {}", self.0)
    }
}

impl std::error::Error for BadRecords {}

/// Splits the contents of a [`DESCRIPTOR_SECTION`] into its JSON records.
pub fn records(mut section: &[u8]) -> Result<Vec<&str>, BadRecords> {
    let mut out = Vec::new();
    while !section.is_empty() {
        let Some((len, rest)) = section.split_first_chunk::<4>() else {
            return Err(BadRecords(format!("{} trailing bytes", section.len())));
        };
        let len = u32::from_le_bytes(*len) as usize;
        if rest.len() < len {
            return Err(BadRecords(format!(
                "record of {len} bytes but only {} left",
                rest.len()
            )));
        }
        let (json, rest) = rest.split_at(len);
        let json = std::str::from_utf8(json).map_err(|e| BadRecords(e.to_string()))?;
        out.push(json);
        section = rest;
    }
    Ok(out)
}

/// Appends `s` to `out` as a JSON string literal.
pub fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// One parameter of an exported function.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Param {
    pub name: String,
    pub ty: Type,
    /// The default value as a JSON literal (`0`, `1.5`, `true`), if the parameter has one.
    pub default: Option<String>,
}

impl Param {
    pub fn new(name: impl Into<String>, ty: Type) -> Param {
        Param {
            name: name.into(),
            ty,
            default: None,
        }
    }
}

/// Checks that `literal` is a JSON literal a parameter of type `ty` may default to:
/// an integer for integer types, a number for floats, `true`/`false` for bool.
pub fn check_default(ty: Type, literal: &str) -> Result<(), String> {
    let is_int = |t: &str| {
        let t = t.strip_prefix('-').unwrap_or(t);
        !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) && (t == "0" || !t.starts_with('0'))
    };
    let is_number = |t: &str| {
        let (mantissa, exp) = match t.find(['e', 'E']) {
            Some(i) => (&t[..i], Some(&t[i + 1..])),
            None => (t, None),
        };
        let (int, frac) = match mantissa.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (mantissa, None),
        };
        is_int(int)
            && frac.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
            && exp.is_none_or(|e| is_int(e.strip_prefix('+').unwrap_or(e)))
    };
    let ok = match ty {
        Type::Scalar(Scalar::Bool) => literal == "true" || literal == "false",
        Type::Scalar(Scalar::F32 | Scalar::F64) => is_number(literal),
        Type::Scalar(s) => {
            is_int(literal) && !(literal.starts_with('-') && matches!(s, Scalar::U32 | Scalar::U64))
        }
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{literal:?} is not a valid default for a parameter of type {ty}"
        ))
    }
}

/// The logical description of one exported function, as it appears in a descriptor record
/// (with `"kind": "function"`) and in the manifest's `functions` list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionDesc {
    pub name: String,
    pub doc: String,
    pub params: Vec<Param>,
    pub returns: Return,
    pub fallible: bool,
    /// `#[export(gil = "hold")]`: a hint that calls are short, so a host may keep Python's GIL
    /// through them (`"gil":"hold"` in the JSON, absent otherwise: a runtime that ignores it
    /// still calls correctly, releasing the GIL).
    pub hold_gil: bool,
}

impl FunctionDesc {
    /// The wasm signature this description lowers to.
    pub fn signature(&self) -> (Vec<ValType>, Vec<ValType>) {
        let params: Vec<Type> = self.params.iter().map(|p| p.ty).collect();
        signature(&params, self.returns, self.fallible)
    }

    /// The JSON object of this description; with `kind`, the descriptor record form.
    pub fn to_json(&self, kind: bool) -> String {
        let mut s = String::from("{");
        if kind {
            s.push_str("\"kind\":\"function\",");
        }
        s.push_str("\"name\":");
        json_string(&mut s, &self.name);
        self.write_fields(&mut s);
        s.push('}');
        s
    }

    /// `,"doc":...,"params":[...],"returns":...,"fallible":...` (and `,"gil":"hold"`)
    fn write_fields(&self, s: &mut String) {
        s.push_str(",\"doc\":");
        json_string(s, &self.doc);
        s.push_str(",\"params\":[");
        for (i, p) in self.params.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            s.push_str("{\"name\":");
            json_string(s, &p.name);
            s.push_str(",\"type\":");
            json_string(s, &p.ty.to_string());
            if let Some(d) = &p.default {
                s.push_str(",\"default\":");
                s.push_str(d);
            }
            s.push('}');
        }
        s.push_str("],\"returns\":");
        match self.returns.name() {
            Some(r) => json_string(s, &r),
            None => s.push_str("null"),
        }
        s.push_str(",\"fallible\":");
        s.push_str(if self.fallible { "true" } else { "false" });
        if self.hold_gil {
            s.push_str(",\"gil\":\"hold\"");
        }
    }
}

/// What a method of an exported class is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Creates an object: returns a handle (Python: the class's `__init__`).
    Constructor,
    /// Takes the object's handle first (parameter `self`).
    Method,
    /// A method with no parameter but `self`, shown in Python as a read-only property.
    Getter,
}

impl Role {
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Constructor => "constructor",
            Role::Method => "method",
            Role::Getter => "getter",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        [Role::Constructor, Role::Method, Role::Getter]
            .into_iter()
            .find(|r| r.as_str() == s)
    }
}

/// One method of an exported class. `func.name` is the name of its export
/// (`<class in snake_case>_<method>`), `name` the method's name in the class.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MethodDesc {
    pub name: String,
    pub role: Role,
    pub func: FunctionDesc,
}

/// An exported Rust type, crossing as a handle (a record with `"kind": "class"` and an
/// entry of the manifest's `classes` list). Objects are freed by the export `drop`,
/// of wasm type `(i32) -> ()`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClassDesc {
    pub name: String,
    pub doc: String,
    pub drop: String,
    pub methods: Vec<MethodDesc>,
}

/// The wasm signature of a class's `drop` export.
pub const DROP_SIGNATURE: (&[ValType], &[ValType]) = (&[ValType::I32], &[]);

impl ClassDesc {
    /// The JSON object of this description; with `kind`, the descriptor record form.
    pub fn to_json(&self, kind: bool) -> String {
        let mut s = String::from("{");
        if kind {
            s.push_str("\"kind\":\"class\",");
        }
        s.push_str("\"name\":");
        json_string(&mut s, &self.name);
        s.push_str(",\"doc\":");
        json_string(&mut s, &self.doc);
        s.push_str(",\"drop\":");
        json_string(&mut s, &self.drop);
        s.push_str(",\"methods\":[");
        for (i, m) in self.methods.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            s.push_str("{\"name\":");
            json_string(&mut s, &m.name);
            s.push_str(",\"export\":");
            json_string(&mut s, &m.func.name);
            s.push_str(",\"role\":");
            json_string(&mut s, m.role.as_str());
            m.func.write_fields(&mut s);
            s.push('}');
        }
        s.push_str("]}");
        s
    }

    /// The names of the exports this class describes: its methods', then `drop`.
    pub fn exports(&self) -> impl Iterator<Item = &str> {
        self.methods
            .iter()
            .map(|m| m.func.name.as_str())
            .chain([self.drop.as_str()])
    }

    /// Checks the shape rules: at least one constructor; constructors return
    /// a handle, methods and getters take `self: handle` first and are fallible (a stale handle
    /// is an error), getters take nothing else and return a value; names are unique.
    pub fn check(&self) -> Result<(), String> {
        if !self.methods.iter().any(|m| m.role == Role::Constructor) {
            return Err(format!("class {} has no constructor", self.name));
        }
        let mut seen = Vec::new();
        for m in &self.methods {
            if seen.contains(&&m.name) {
                return Err(format!("duplicate method {:?}", m.name));
            }
            seen.push(&m.name);
            let f = &m.func;
            let takes_self = f
                .params
                .first()
                .is_some_and(|p| p.name == "self" && p.ty == Type::Handle);
            let problem = match m.role {
                Role::Constructor if f.returns != Return::Handle => "must return a handle",
                Role::Constructor if takes_self => "must not take self",
                Role::Method | Role::Getter if !takes_self => "must take self: handle first",
                Role::Method | Role::Getter if !f.fallible => "must be fallible",
                Role::Getter if f.params.len() != 1 => "must take no parameter but self",
                Role::Getter if f.returns == Return::Unit => "must return a value",
                _ => "",
            };
            if !problem.is_empty() {
                return Err(format!(
                    "{} {}.{} {problem}",
                    m.role.as_str(),
                    self.name,
                    m.name
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_name_round_trips() {
        let mut all: Vec<Type> = Scalar::ALL.into_iter().map(Type::Scalar).collect();
        for e in Elem::ALL {
            all.push(Type::Buffer(e, Dir::In));
            all.push(Type::Buffer(e, Dir::InOut));
        }
        all.extend(Elem::ALL.map(Type::Matrix));
        all.extend([Type::Bytes, Type::Str, Type::Handle]);
        for t in all {
            assert_eq!(Type::parse(&t.to_string()), Ok(t), "{t}");
        }
    }

    #[test]
    fn unknown_types_are_rejected() {
        for bad in [
            "",
            "u16",
            "f64[][]",
            "inout u32",
            "inout bytes",
            "out f64[]",
            "inout f64[,]",
            "f64[,,]",
            "F64",
        ] {
            assert!(Type::parse(bad).is_err(), "{bad:?} parsed");
        }
        assert!(Return::parse(Some("inout f64[]")).is_err());
    }

    #[test]
    fn lowering_follows_the_contract() {
        use ValType::*;
        let u32_ = Type::Scalar(Scalar::U32);
        let f64s = Type::Buffer(Elem::F64, Dir::In);
        assert_eq!(
            signature(&[u32_], Return::Scalar(Scalar::U64), false),
            (vec![I32], vec![I64])
        );
        assert_eq!(
            signature(&[u32_], Return::Scalar(Scalar::U64), true),
            (vec![I32, I32], vec![I32])
        );
        assert_eq!(
            signature(&[f64s], Return::Scalar(Scalar::F64), false),
            (vec![I32, I32], vec![F64])
        );
        assert_eq!(
            signature(&[Type::Bytes], Return::Owned(Elem::U8), true),
            (vec![I32, I32, I32], vec![I32])
        );
        assert_eq!(
            signature(&[f64s], Return::Unit, false),
            (vec![I32, I32], vec![])
        );
        // the result pointer trails
        assert_eq!(
            signature(
                &[Type::Scalar(Scalar::F64)],
                Return::Scalar(Scalar::U64),
                true
            ),
            (vec![F64, I32], vec![I32])
        );
        assert!(has_result_pointer(Return::Scalar(Scalar::U64), true));
        assert!(!has_result_pointer(Return::Scalar(Scalar::U64), false));
        let m = Type::Matrix(Elem::F64);
        assert_eq!(
            signature(&[m, m], Return::OwnedMatrix(Elem::F64), true),
            (vec![I32, I32, I32, I32, I32, I32, I32], vec![I32])
        );
        assert_eq!(
            Return::parse(Some("u32[,]")),
            Ok(Return::OwnedMatrix(Elem::U32))
        );
    }

    #[test]
    fn defaults_are_checked_against_the_type() {
        let t = |s| Type::Scalar(s);
        for (ty, lit) in [
            (t(Scalar::U32), "0"),
            (t(Scalar::I64), "-3"),
            (t(Scalar::F64), "1.5e-3"),
            (t(Scalar::F64), "2"),
            (t(Scalar::Bool), "false"),
        ] {
            assert_eq!(check_default(ty, lit), Ok(()), "{lit}");
        }
        for (ty, lit) in [
            (t(Scalar::U32), "-1"),
            (t(Scalar::U32), "1.0"),
            (t(Scalar::I32), "01"),
            (t(Scalar::F64), "1."),
            (t(Scalar::F64), "nan"),
            (t(Scalar::Bool), "1"),
            (Type::Bytes, "0"),
        ] {
            assert!(check_default(ty, lit).is_err(), "{lit}");
        }
    }

    #[test]
    fn classes_serialize_and_check() {
        let handle = Param::new("self", Type::Handle);
        let func = |name: &str, params: Vec<Param>, returns, fallible| FunctionDesc {
            name: name.to_owned(),
            doc: String::new(),
            params,
            returns,
            fallible,
            hold_gil: false,
        };
        let mut class = ClassDesc {
            name: "Counter".to_owned(),
            doc: "counts".to_owned(),
            drop: "counter_drop".to_owned(),
            methods: vec![
                MethodDesc {
                    name: "new".to_owned(),
                    role: Role::Constructor,
                    func: func("counter_new", vec![], Return::Handle, false),
                },
                MethodDesc {
                    name: "value".to_owned(),
                    role: Role::Getter,
                    func: func(
                        "counter_value",
                        vec![handle.clone()],
                        Return::Scalar(Scalar::U64),
                        true,
                    ),
                },
            ],
        };
        assert_eq!(class.check(), Ok(()));
        assert_eq!(
            class.to_json(true),
            "{\"kind\":\"class\",\"name\":\"Counter\",\"doc\":\"counts\",\"drop\":\"counter_drop\",\
             \"methods\":[{\"name\":\"new\",\"export\":\"counter_new\",\"role\":\"constructor\",\"doc\":\"\",\
             \"params\":[],\"returns\":\"handle\",\"fallible\":false},{\"name\":\"value\",\
             \"export\":\"counter_value\",\"role\":\"getter\",\"doc\":\"\",\"params\":[{\"name\":\"self\",\
             \"type\":\"handle\"}],\"returns\":\"u64\",\"fallible\":true}]}"
        );
        class.methods[1].func.fallible = false;
        assert!(class.check().unwrap_err().contains("fallible"));
        class.methods[1].func.fallible = true;
        class.methods[1]
            .func
            .params
            .push(Param::new("n", Type::Scalar(Scalar::U32)));
        assert!(class.check().unwrap_err().contains("no parameter but self"));
    }

    #[test]
    fn records_round_trip_and_reject_truncation() {
        let a: [u8; 6] = frame("{}");
        let b: [u8; 11] = frame("{\"a\":1}");
        let joined = [&a[..], &b[..]].concat();
        assert_eq!(records(&joined).unwrap(), vec!["{}", "{\"a\":1}"]);
        assert!(records(&joined[..joined.len() - 1]).is_err());
        assert!(records(&[1, 0]).is_err());
    }

    #[test]
    fn json_escapes() {
        let mut s = String::new();
        json_string(&mut s, "a\"b\\c\nd\u{1}é");
        assert_eq!(s, "\"a\\\"b\\\\c\\nd\\u0001é\"");
    }
}
