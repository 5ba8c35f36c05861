//! The wasm post-processor: checks the `#[export]` descriptors against the real exports and
//! replaces them by one normalized manifest section.
//!
//! Input: a module as the linker wrote it, carrying one or more
//! [`DESCRIPTOR_SECTION`] custom sections (framed JSON
//! records, see [`wasmcore_schema::records`]). Output: the same module with
//!
//! * every function export checked: a runtime export ([`wasmcore_schema::RUNTIME_EXPORTS`])
//!   must have its fixed signature, any other export must have a descriptor whose lowered
//!   signature ([`FunctionDesc::signature`]) equals the export's wasm type;
//! * the linker's `__data_end` / `__heap_base` global exports removed;
//! * the `.debug*`, `name`, `producers`, `target_features` and descriptor sections stripped;
//! * exactly one [`MANIFEST_SECTION`] holding the manifest JSON (its keys are documented on
//!   [`MANIFEST_SECTION`] in `wasmcore-schema`).

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::fmt;

use serde_json::{Map, Value};
use walrus::{ExportItem, ImportKind, Module, ModuleConfig, RawCustomSection};
use wasmcore_schema::{
    ABI_VERSION, BadRecords, ClassDesc, DESCRIPTOR_SECTION, DROP_SIGNATURE, FunctionDesc,
    MANIFEST_SECTION, MethodDesc, Param, RESERVED_PREFIX, RUNTIME_EXPORTS, Return, Role, Type,
    ValType,
};

/// Global exports the linker adds that mean nothing to a host; removed from the output.
const LINKER_GLOBALS: [&str; 2] = ["__data_end", "__heap_base"];

/// Custom sections removed besides `.debug*` (and `name` / `producers`, which walrus parses
/// into its own structures and is configured not to emit).
const STRIPPED_SECTIONS: [&str; 5] = [
    "name",
    "producers",
    "target_features",
    DESCRIPTOR_SECTION,
    MANIFEST_SECTION,
];

/// Why a module could not be post-processed (or its manifest not read).
///
/// Every message names the offending export, descriptor or section.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The input is not a valid wasm module.
    InvalidWasm(String),
    /// The descriptor section is not a sequence of framed records.
    Records(BadRecords),
    /// A descriptor record is malformed (bad JSON, unknown kind or type, missing field...).
    BadRecord {
        /// 0-based position of the record in the (concatenated) descriptor section.
        index: usize,
        /// The `name` field of the record, when it has one.
        name: Option<String>,
        /// What is wrong.
        message: String,
    },
    /// Two descriptor records describe the same name.
    DuplicateDescriptor(String),
    /// A descriptor uses a name starting with [`RESERVED_PREFIX`].
    ReservedDescriptor(String),
    /// A function export's wasm type differs from the lowering of its descriptor.
    SignatureMismatch {
        /// The export name.
        export: String,
        /// The signature the descriptor lowers to, e.g. `(i32, i32) -> (i32)`.
        expected: String,
        /// The export's actual wasm signature.
        actual: String,
    },
    /// A runtime export ([`RUNTIME_EXPORTS`]) has the wrong wasm type.
    RuntimeSignature {
        /// The export name.
        export: String,
        /// The signature the ABI fixes.
        expected: String,
        /// The export's actual wasm signature.
        actual: String,
    },
    /// A function export uses the reserved prefix but is not a runtime export.
    ReservedExport(String),
    /// A function export has no descriptor.
    Undescribed(String),
    /// The module has no descriptors but a `wasmcore.abi` section: it was already processed
    /// (the descriptors are gone, so it cannot be checked again).
    AlreadyProcessed,
    /// A descriptor has no function export of that name.
    NotExported {
        /// The descriptor name.
        name: String,
        /// The kind of the export of that name, if there is one but it is not a function.
        other_kind: Option<&'static str>,
    },
    /// The module has descriptors but does not export its memory as `memory`.
    MissingMemoryExport,
    /// The `wasmcore.abi` section of a processed module is unusable.
    BadManifest(String),
    /// The version given for the manifest is not a semver version.
    BadVersion {
        /// The version as given.
        version: String,
        /// What is wrong with it.
        message: String,
    },
    /// A bug in the post-processor (its output broke one of its own guarantees).
    Internal(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidWasm(msg) => write!(f, "invalid wasm module: {msg}"),
            Error::Records(e) => write!(f, "{e}"),
            Error::BadRecord {
                index,
                name: Some(name),
                message,
            } => write!(
                f,
                "{DESCRIPTOR_SECTION} record #{index} ({name:?}): {message}"
            ),
            Error::BadRecord {
                index,
                name: None,
                message,
            } => write!(f, "{DESCRIPTOR_SECTION} record #{index}: {message}"),
            Error::DuplicateDescriptor(name) => write!(
                f,
                "{DESCRIPTOR_SECTION}: {name:?} is described twice (two exports with one name?)"
            ),
            Error::ReservedDescriptor(name) => write!(
                f,
                "descriptor {name:?}: names starting with {RESERVED_PREFIX:?} are reserved for \
                 the runtime exports"
            ),
            Error::SignatureMismatch {
                export,
                expected,
                actual,
            } => write!(
                f,
                "export {export:?}: descriptor says {expected} but the export is {actual}"
            ),
            Error::RuntimeSignature {
                export,
                expected,
                actual,
            } => write!(
                f,
                "runtime export {export:?}: the ABI fixes {expected} but the export is {actual}"
            ),
            Error::ReservedExport(name) => {
                let known: Vec<&str> = RUNTIME_EXPORTS.iter().map(|r| r.name).collect();
                write!(
                    f,
                    "function export {name:?} uses the reserved prefix {RESERVED_PREFIX:?} but \
                     is not a runtime export (those are: {})",
                    known.join(", ")
                )
            }
            Error::Undescribed(name) => write!(
                f,
                "function export {name:?} has no descriptor (every export other than the \
                 runtime exports must come from #[export])"
            ),
            Error::AlreadyProcessed => write!(
                f,
                "the module has a {MANIFEST_SECTION} section and no {DESCRIPTOR_SECTION} \
                 section: it was already post-processed; process the linker's output instead"
            ),
            Error::NotExported {
                name,
                other_kind: None,
            } => write!(f, "descriptor {name:?} has no function export of that name"),
            Error::NotExported {
                name,
                other_kind: Some(kind),
            } => write!(
                f,
                "descriptor {name:?} describes a function but the export of that name is a {kind}"
            ),
            Error::MissingMemoryExport => write!(
                f,
                "the module has {DESCRIPTOR_SECTION} descriptors but does not export its memory \
                 as \"memory\""
            ),
            Error::BadManifest(msg) => write!(f, "{MANIFEST_SECTION} section: {msg}"),
            Error::BadVersion { version, message } => write!(
                f,
                "module version {version:?} is not a semver version (like \"1.2.3\"): {message}"
            ),
            Error::Internal(msg) => write!(f, "internal error in the post-processor: {msg}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<BadRecords> for Error {
    fn from(e: BadRecords) -> Self {
        Error::Records(e)
    }
}

/// Checks `wasm` against its descriptors and returns the processed module and its manifest
/// (compact JSON; the same text as the module's `wasmcore.abi` section).
///
/// `module_name` is recorded as the manifest's `"module"`, `version` (the module's own
/// version, a semver string) as its `"version"`; without a version the key is left out.
pub fn postprocess(
    wasm: &[u8],
    module_name: &str,
    version: Option<&str>,
) -> Result<(Vec<u8>, String), Error> {
    if let Some(version) = version {
        semver::Version::parse(version).map_err(|e| Error::BadVersion {
            version: version.to_owned(),
            message: e.to_string(),
        })?;
    }
    // The section headers first: a plain message for what is not a module at all.
    custom_sections(wasm)?;
    let mut config = ModuleConfig::new();
    config
        .generate_name_section(false)
        .generate_producers_section(false)
        .generate_dwarf(false);
    let mut module = config
        .parse(wasm)
        .map_err(|e| Error::InvalidWasm(format!("{e:#}")))?;

    // The descriptors (several sections when several objects were linked without merging).
    let mut desc_bytes = Vec::new();
    while let Some(section) = module.customs.remove_raw(DESCRIPTOR_SECTION) {
        desc_bytes.extend_from_slice(&section.data);
    }
    let descriptors = Descriptors::parse(&desc_bytes)?;

    check_exports(&module, &descriptors).map_err(|e| match e {
        Error::Undescribed(_)
            if descriptors.is_empty()
                && module
                    .customs
                    .iter()
                    .any(|(_, s)| s.name() == MANIFEST_SECTION) =>
        {
            Error::AlreadyProcessed
        }
        e => e,
    })?;
    remove_linker_globals(&mut module);

    let manifest = manifest_json(&module, module_name, version, &descriptors)?;

    strip_custom_sections(&mut module);
    module.customs.add(RawCustomSection {
        name: MANIFEST_SECTION.to_owned(),
        data: manifest.clone().into_bytes(),
    });
    let out = module.emit_wasm();
    check_output(&out)?;
    Ok((out, manifest))
}

/// The text of the `wasmcore.abi` section of a processed module, or `None` if it has none.
///
/// Fails if `wasm` is not a well-formed module binary, if it has several such sections or if
/// the section is not UTF-8.
pub fn read_manifest(wasm: &[u8]) -> Result<Option<String>, Error> {
    let sections = custom_sections(wasm)?;
    let mut manifests = sections.iter().filter(|(n, _)| *n == MANIFEST_SECTION);
    let Some((_, data)) = manifests.next() else {
        return Ok(None);
    };
    let extra = manifests.count();
    if extra > 0 {
        return Err(Error::BadManifest(format!(
            "the module has {} such sections, expected one",
            extra + 1
        )));
    }
    let text =
        std::str::from_utf8(data).map_err(|e| Error::BadManifest(format!("not UTF-8: {e}")))?;
    Ok(Some(text.to_owned()))
}

/// The custom sections of a module binary, as (name, payload), in file order.
///
/// Only walks the section headers; does not validate the other sections' contents.
pub fn custom_sections(wasm: &[u8]) -> Result<Vec<(&str, &[u8])>, Error> {
    let bad = |msg: String| Error::InvalidWasm(msg);
    let Some(rest) = wasm.strip_prefix(b"\0asm") else {
        return Err(bad("missing the \\0asm magic number".to_owned()));
    };
    let Some(mut rest) = rest.strip_prefix(&[1, 0, 0, 0]) else {
        return Err(bad("not a version 1 core module (a component?)".to_owned()));
    };
    let mut out = Vec::new();
    while let Some((&id, after_id)) = rest.split_first() {
        let offset = wasm.len() - rest.len();
        let (size, after_size) = read_u32(after_id)
            .ok_or_else(|| bad(format!("bad size of the section at offset {offset}")))?;
        let size = size as usize;
        if after_size.len() < size {
            return Err(bad(format!(
                "section {id} at offset {offset} claims {size} bytes but only {} remain",
                after_size.len()
            )));
        }
        let (payload, next) = after_size.split_at(size);
        if id == 0 {
            let (name_len, after_len) = read_u32(payload).ok_or_else(|| {
                bad(format!(
                    "bad name length of the custom section at offset {offset}"
                ))
            })?;
            let name_len = name_len as usize;
            if after_len.len() < name_len {
                return Err(bad(format!(
                    "name of the custom section at offset {offset} overruns the section"
                )));
            }
            let (name, data) = after_len.split_at(name_len);
            let name = std::str::from_utf8(name).map_err(|_| {
                bad(format!(
                    "name of the custom section at offset {offset} is not UTF-8"
                ))
            })?;
            out.push((name, data));
        }
        rest = next;
    }
    Ok(out)
}

/// Reads an unsigned LEB128 `u32`.
fn read_u32(bytes: &[u8]) -> Option<(u32, &[u8])> {
    let mut value: u32 = 0;
    for (i, &b) in bytes.iter().enumerate().take(5) {
        let low = u32::from(b & 0x7f);
        if i == 4 && low > 0x0f {
            return None; // more than 32 bits
        }
        value |= low << (7 * i);
        if b & 0x80 == 0 {
            return Some((value, &bytes[i + 1..]));
        }
    }
    None
}

// ---------------------------------------------------------------------------------------------
// Descriptors

/// The parsed descriptor records, keyed (and so sorted) by name.
///
/// To add a record kind, add a variant to [`Record`], parse it in [`Record::parse`], give it
/// a map here and emit it in [`manifest_json`].
#[derive(Debug, Default)]
struct Descriptors {
    functions: BTreeMap<String, FunctionDesc>,
    classes: BTreeMap<String, ClassDesc>,
}

/// One descriptor record.
enum Record {
    Function(FunctionDesc),
    Class(ClassDesc),
}

impl Descriptors {
    fn parse(section: &[u8]) -> Result<Descriptors, Error> {
        let mut out = Descriptors::default();
        for (index, json) in wasmcore_schema::records(section)?.into_iter().enumerate() {
            let record = Record::parse(json).map_err(|(name, message)| Error::BadRecord {
                index,
                name,
                message,
            })?;
            match record {
                Record::Function(desc) => {
                    if desc.name.starts_with(RESERVED_PREFIX) {
                        return Err(Error::ReservedDescriptor(desc.name));
                    }
                    match out.functions.entry(desc.name.clone()) {
                        Entry::Occupied(_) => return Err(Error::DuplicateDescriptor(desc.name)),
                        Entry::Vacant(slot) => {
                            slot.insert(desc);
                        }
                    }
                }
                Record::Class(desc) => match out.classes.entry(desc.name.clone()) {
                    Entry::Occupied(_) => return Err(Error::DuplicateDescriptor(desc.name)),
                    Entry::Vacant(slot) => {
                        slot.insert(desc);
                    }
                },
            }
        }
        // Every export is described once: by a function or by one class's method or drop.
        let mut seen: Vec<&str> = out.functions.keys().map(String::as_str).collect();
        for class in out.classes.values() {
            for name in class.exports() {
                if name.starts_with(RESERVED_PREFIX) {
                    return Err(Error::ReservedDescriptor(name.to_owned()));
                }
                if seen.contains(&name) {
                    return Err(Error::DuplicateDescriptor(name.to_owned()));
                }
                seen.push(name);
            }
        }
        Ok(out)
    }

    fn is_empty(&self) -> bool {
        self.functions.is_empty() && self.classes.is_empty()
    }

    /// The wasm signature every described export must have, by export name.
    fn signatures(&self) -> BTreeMap<&str, (Vec<ValType>, Vec<ValType>)> {
        let mut out: BTreeMap<&str, _> = self
            .functions
            .iter()
            .map(|(name, d)| (name.as_str(), d.signature()))
            .collect();
        for class in self.classes.values() {
            for m in &class.methods {
                out.insert(m.func.name.as_str(), m.func.signature());
            }
            let (p, r) = DROP_SIGNATURE;
            out.insert(class.drop.as_str(), (p.to_vec(), r.to_vec()));
        }
        out
    }
}

impl Record {
    /// Parses one record; on error returns the record's name (if it has one) and a message.
    fn parse(json: &str) -> Result<Record, (Option<String>, String)> {
        let value: Value =
            serde_json::from_str(json).map_err(|e| (None, format!("invalid JSON: {e}")))?;
        let Value::Object(object) = value else {
            return Err((None, "not a JSON object".to_owned()));
        };
        let name = object
            .get("name")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let mut fields = Fields(object);
        let result = fields.string("kind").and_then(|kind| match kind.as_str() {
            "function" => parse_function(&mut fields, None).map(Record::Function),
            "class" => parse_class(&mut fields).map(Record::Class),
            other => Err(format!(
                "unknown record kind {other:?} (this post-processor knows \"function\" and \"class\")"
            )),
        });
        result
            .and_then(|record| fields.finish().map(|()| record))
            .map_err(|message| (name, message))
    }
}

/// Parses a function description; `name` overrides the `name` field (a method's export).
fn parse_function(fields: &mut Fields, name: Option<String>) -> Result<FunctionDesc, String> {
    let name = match name {
        Some(n) => n,
        None => fields.string("name")?,
    };
    if name.is_empty() {
        return Err("empty function name".to_owned());
    }
    let doc = fields.string("doc")?;
    let mut params: Vec<Param> = Vec::new();
    for (i, param) in fields.array("params")?.into_iter().enumerate() {
        let Value::Object(param) = param else {
            return Err(format!("params[{i}] is not a JSON object"));
        };
        let mut param = Fields(param);
        let pname = param
            .string("name")
            .map_err(|e| format!("params[{i}]: {e}"))?;
        let ty = param
            .string("type")
            .map_err(|e| format!("params[{i}]: {e}"))?;
        let default = param.0.remove("default").map(|v| v.to_string());
        param.finish().map_err(|e| format!("params[{i}]: {e}"))?;
        let ty = Type::parse(&ty).map_err(|e| format!("parameter {pname:?}: {e}"))?;
        if let Some(d) = &default {
            wasmcore_schema::check_default(ty, d)
                .map_err(|e| format!("parameter {pname:?}: {e}"))?;
        }
        if params.iter().any(|p| p.name == pname) {
            return Err(format!("duplicate parameter name {pname:?}"));
        }
        params.push(Param {
            name: pname,
            ty,
            default,
        });
    }
    let returns = fields.optional_string("returns")?;
    let returns = Return::parse(returns.as_deref()).map_err(|e| format!("returns: {e}"))?;
    let fallible = fields.boolean("fallible")?;
    // (absent: "release", as from a wasmcore-abi older than the hint)
    let hold_gil = match fields.0.remove("gil") {
        None => false,
        Some(Value::String(s)) if s == "release" => false,
        Some(Value::String(s)) if s == "hold" => true,
        Some(other) => {
            return Err(format!(
                "\"gil\" must be \"hold\" or \"release\", not {other}"
            ));
        }
    };
    Ok(FunctionDesc {
        name,
        doc,
        params,
        returns,
        fallible,
        hold_gil,
    })
}

fn parse_class(fields: &mut Fields) -> Result<ClassDesc, String> {
    let name = fields.string("name")?;
    if name.is_empty() {
        return Err("empty class name".to_owned());
    }
    let doc = fields.string("doc")?;
    let drop = fields.string("drop")?;
    let mut methods = Vec::new();
    for (i, method) in fields.array("methods")?.into_iter().enumerate() {
        let Value::Object(method) = method else {
            return Err(format!("methods[{i}] is not a JSON object"));
        };
        let mut m = Fields(method);
        let mname = m.string("name").map_err(|e| format!("methods[{i}]: {e}"))?;
        let export = m
            .string("export")
            .map_err(|e| format!("methods[{i}]: {e}"))?;
        let role = m.string("role").map_err(|e| format!("methods[{i}]: {e}"))?;
        let role =
            Role::parse(&role).ok_or_else(|| format!("methods[{i}]: unknown role {role:?}"))?;
        let func =
            parse_function(&mut m, Some(export)).map_err(|e| format!("method {mname:?}: {e}"))?;
        m.finish().map_err(|e| format!("method {mname:?}: {e}"))?;
        methods.push(MethodDesc {
            name: mname,
            role,
            func,
        });
    }
    let desc = ClassDesc {
        name,
        doc,
        drop,
        methods,
    };
    desc.check()?;
    Ok(desc)
}

/// The fields of a JSON object, taken one by one; [`Fields::finish`] rejects the leftovers.
struct Fields(Map<String, Value>);

impl Fields {
    fn take(&mut self, key: &str) -> Result<Value, String> {
        self.0
            .remove(key)
            .ok_or_else(|| format!("missing field {key:?}"))
    }

    fn string(&mut self, key: &str) -> Result<String, String> {
        match self.take(key)? {
            Value::String(s) => Ok(s),
            other => Err(format!("field {key:?} must be a string, not {other}")),
        }
    }

    fn optional_string(&mut self, key: &str) -> Result<Option<String>, String> {
        match self.take(key)? {
            Value::String(s) => Ok(Some(s)),
            Value::Null => Ok(None),
            other => Err(format!(
                "field {key:?} must be a string or null, not {other}"
            )),
        }
    }

    fn boolean(&mut self, key: &str) -> Result<bool, String> {
        match self.take(key)? {
            Value::Bool(b) => Ok(b),
            other => Err(format!("field {key:?} must be true or false, not {other}")),
        }
    }

    fn array(&mut self, key: &str) -> Result<Vec<Value>, String> {
        match self.take(key)? {
            Value::Array(a) => Ok(a),
            other => Err(format!("field {key:?} must be an array, not {other}")),
        }
    }

    fn finish(&mut self) -> Result<(), String> {
        match self.0.keys().next() {
            None => Ok(()),
            Some(key) => Err(format!("unknown field {key:?}")),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Export checks

fn check_exports(module: &Module, descriptors: &Descriptors) -> Result<(), Error> {
    let signatures = descriptors.signatures();
    for export in module.exports.iter() {
        let ExportItem::Function(func) = export.item else {
            continue;
        };
        let name = export.name.as_str();
        let ty = module.types.get(module.funcs.get(func).ty());
        let actual = match ty.as_function() {
            Some(f) => (f.params(), f.results()),
            None => (&[][..], &[][..]), // unreachable for a validated module
        };
        let matches = |params: &[ValType], results: &[ValType]| {
            same_types(params, actual.0) && same_types(results, actual.1)
        };
        if let Some(rt) = RUNTIME_EXPORTS.iter().find(|r| r.name == name) {
            if !matches(rt.params, rt.results) {
                return Err(Error::RuntimeSignature {
                    export: name.to_owned(),
                    expected: show(rt.params, rt.results),
                    actual: show(actual.0, actual.1),
                });
            }
        } else if name.starts_with(RESERVED_PREFIX) {
            return Err(Error::ReservedExport(name.to_owned()));
        } else {
            let Some((params, results)) = signatures.get(name) else {
                return Err(Error::Undescribed(name.to_owned()));
            };
            if !matches(params, results) {
                return Err(Error::SignatureMismatch {
                    export: name.to_owned(),
                    expected: show(params, results),
                    actual: show(actual.0, actual.1),
                });
            }
        }
    }

    for name in signatures.keys() {
        let export = module.exports.iter().find(|e| e.name == *name);
        match export.map(|e| &e.item) {
            Some(ExportItem::Function(_)) => {}
            other => {
                return Err(Error::NotExported {
                    name: (*name).to_owned(),
                    other_kind: other.map(export_kind),
                });
            }
        }
    }

    if !descriptors.is_empty()
        && !module
            .exports
            .iter()
            .any(|e| e.name == "memory" && matches!(e.item, ExportItem::Memory(_)))
    {
        return Err(Error::MissingMemoryExport);
    }
    Ok(())
}

fn same_types(ours: &[ValType], theirs: &[walrus::ValType]) -> bool {
    ours.len() == theirs.len()
        && ours.iter().zip(theirs).all(|(a, b)| {
            matches!(
                (a, b),
                (ValType::I32, walrus::ValType::I32)
                    | (ValType::I64, walrus::ValType::I64)
                    | (ValType::F32, walrus::ValType::F32)
                    | (ValType::F64, walrus::ValType::F64)
            )
        })
}

/// Formats a signature as `(i32, i32) -> (i32)`.
fn show<A: fmt::Display, B: fmt::Display>(params: &[A], results: &[B]) -> String {
    fn list<T: fmt::Display>(items: &[T]) -> String {
        let items: Vec<String> = items.iter().map(ToString::to_string).collect();
        format!("({})", items.join(", "))
    }
    format!("{} -> {}", list(params), list(results))
}

fn export_kind(item: &ExportItem) -> &'static str {
    match item {
        ExportItem::Function(_) => "function",
        ExportItem::Table(_) => "table",
        ExportItem::Memory(_) => "memory",
        ExportItem::Global(_) => "global",
        ExportItem::Tag(_) => "tag",
    }
}

// ---------------------------------------------------------------------------------------------
// Rewriting

fn remove_linker_globals(module: &mut Module) {
    let noise: Vec<_> = module
        .exports
        .iter()
        .filter(|e| {
            matches!(e.item, ExportItem::Global(_)) && LINKER_GLOBALS.contains(&e.name.as_str())
        })
        .map(|e| e.id())
        .collect();
    for id in noise {
        module.exports.delete(id);
    }
}

fn strip_custom_sections(module: &mut Module) {
    let doomed: Vec<_> = module
        .customs
        .iter()
        .filter(|(_, s)| s.name().starts_with(".debug") || STRIPPED_SECTIONS.contains(&s.name()))
        .map(|(id, _)| id)
        .collect();
    for id in doomed {
        module.customs.delete(id);
    }
}

/// The manifest as compact JSON, keys in the documented order.
fn manifest_json(
    module: &Module,
    module_name: &str,
    version: Option<&str>,
    descriptors: &Descriptors,
) -> Result<String, Error> {
    let functions = descriptors
        .functions
        .values()
        .map(|d| serde_json::from_str::<Value>(&d.to_json(false)))
        .collect::<Result<Vec<Value>, _>>()
        .map_err(|e| Error::Internal(format!("FunctionDesc::to_json gave invalid JSON: {e}")))?;
    let imports: Vec<Value> = module
        .imports
        .iter()
        .map(|import| {
            let kind = match import.kind {
                ImportKind::Function(_) => "func",
                ImportKind::Table(_) => "table",
                ImportKind::Memory(_) => "memory",
                ImportKind::Global(_) => "global",
                ImportKind::Tag(_) => "tag",
            };
            let mut object = Map::new();
            object.insert("module".to_owned(), import.module.clone().into());
            object.insert("name".to_owned(), import.name.clone().into());
            object.insert("kind".to_owned(), kind.into());
            Value::Object(object)
        })
        .collect();

    let mut manifest = Map::new();
    manifest.insert("abi_version".to_owned(), ABI_VERSION.into());
    manifest.insert("module".to_owned(), module_name.into());
    if let Some(version) = version {
        manifest.insert("version".to_owned(), version.into());
    }
    manifest.insert("functions".to_owned(), Value::Array(functions));
    let classes = descriptors
        .classes
        .values()
        .map(|d| serde_json::from_str::<Value>(&d.to_json(false)))
        .collect::<Result<Vec<Value>, _>>()
        .map_err(|e| Error::Internal(format!("ClassDesc::to_json gave invalid JSON: {e}")))?;
    manifest.insert("classes".to_owned(), Value::Array(classes));
    manifest.insert("imports".to_owned(), Value::Array(imports));
    serde_json::to_string(&Value::Object(manifest))
        .map_err(|e| Error::Internal(format!("cannot serialize the manifest: {e}")))
}

/// Checks the emitted module keeps this module's promises about its custom sections.
fn check_output(out: &[u8]) -> Result<(), Error> {
    let sections = custom_sections(out)?;
    let manifests = sections
        .iter()
        .filter(|(n, _)| *n == MANIFEST_SECTION)
        .count();
    if manifests != 1 {
        return Err(Error::Internal(format!(
            "output has {manifests} {MANIFEST_SECTION} sections"
        )));
    }
    if let Some((name, _)) = sections.iter().find(|(n, _)| {
        n.starts_with(".debug") || (*n != MANIFEST_SECTION && STRIPPED_SECTIONS.contains(n))
    }) {
        return Err(Error::Internal(format!(
            "output still has a {name:?} section"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
