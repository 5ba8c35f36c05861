//! What the integration tests share: where the build artefacts are, and one instance of a
//! wasmcore module under the `wasmtime` crate driven through the ABI (`wasmcore_alloc` /
//! `wasmcore_free`, the last-error accessors, the return-buffer protocol).

// Each test binary includes this module and uses a part of it.
#![allow(dead_code)]

use std::path::PathBuf;

use wasmtime::{Instance, Memory, Module, Store, TypedFunc, WasmParams, WasmResults};

/// `target/` of the workspace, honouring `CARGO_TARGET_DIR` (relative to the workspace).
pub fn target_dir() -> PathBuf {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .or_else(|| option_env!("CARGO_TARGET_DIR").map(PathBuf::from))
        .map(|t| manifest_dir.join(t)) // a relative target dir is relative to the workspace
        .unwrap_or_else(|| manifest_dir.join("target"))
}

/// The bytes of a file `cargo xtask dist` writes; panics saying how to build it.
pub fn read_artefact(path: &std::path::Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e}\nbuild it first with `just build` (`cargo xtask dist`; the example projects: `just examples`)",
            path.display()
        )
    })
}

/// A block of linear memory from `wasmcore_alloc`: (pointer, size, align).
#[derive(Clone, Copy)]
pub struct Block(pub i32, pub i32, pub i32);

/// A fresh store and instance of a module without imports, with its runtime exports.
pub struct AbiInstance {
    pub store: Store<()>,
    pub instance: Instance,
    pub memory: Memory,
    alloc: TypedFunc<(i32, i32), i32>,
    free: TypedFunc<(i32, i32, i32), ()>,
    last_error_ptr: TypedFunc<(), i32>,
    last_error_len: TypedFunc<(), i32>,
}

impl AbiInstance {
    pub fn new(module: &Module) -> AbiInstance {
        let mut store = Store::new(module.engine(), ());
        let instance = Instance::new(&mut store, module, &[]).expect("instantiate the module");
        let memory = instance
            .get_memory(&mut store, "memory")
            .expect("the module exports its memory as `memory`");
        AbiInstance {
            alloc: typed_func(&instance, &mut store, "wasmcore_alloc"),
            free: typed_func(&instance, &mut store, "wasmcore_free"),
            last_error_ptr: typed_func(&instance, &mut store, "wasmcore_last_error_ptr"),
            last_error_len: typed_func(&instance, &mut store, "wasmcore_last_error_len"),
            store,
            instance,
            memory,
        }
    }

    /// The export `name`, typed; panics when it is missing or has another type.
    pub fn func<P: WasmParams, R: WasmResults>(&mut self, name: &str) -> TypedFunc<P, R> {
        typed_func(&self.instance, &mut self.store, name)
    }

    pub fn memory_size(&self) -> usize {
        self.memory.data_size(&self.store)
    }

    pub fn alloc(&mut self, size: usize, align: usize) -> wasmtime::Result<Block> {
        let (size, align) = (i32::try_from(size)?, i32::try_from(align)?);
        let ptr = self.alloc.call(&mut self.store, (size, align))?;
        assert_ne!(ptr, 0, "wasmcore_alloc({size}, {align}) failed");
        assert_eq!(
            ptr % align,
            0,
            "wasmcore_alloc returned a misaligned pointer"
        );
        Ok(Block(ptr, size, align))
    }

    pub fn free(&mut self, b: Block) -> wasmtime::Result<()> {
        self.free.call(&mut self.store, (b.0, b.1, b.2))
    }

    pub fn write(&mut self, ptr: i32, bytes: &[u8]) {
        self.memory
            .write(&mut self.store, ptr as u32 as usize, bytes)
            .expect("write inside linear memory");
    }

    pub fn read<const N: usize>(&self, ptr: i32) -> [u8; N] {
        let mut buf = [0; N];
        self.memory
            .read(&self.store, ptr as u32 as usize, &mut buf)
            .expect("read inside linear memory");
        buf
    }

    /// Copies `items` (as little-endian bytes) into a fresh block.
    pub fn put<const N: usize>(
        &mut self,
        items: &[[u8; N]],
        align: usize,
    ) -> wasmtime::Result<Block> {
        let b = self.alloc(items.len() * N, align)?;
        if !items.is_empty() {
            self.write(b.0, items.as_flattened());
        }
        Ok(b)
    }

    pub fn last_error(&mut self) -> wasmtime::Result<String> {
        let ptr = self.last_error_ptr.call(&mut self.store, ())?;
        let len = self.last_error_len.call(&mut self.store, ())?;
        let mut buf = vec![0; usize::try_from(len)?];
        self.memory
            .read(&self.store, ptr as u32 as usize, &mut buf)?;
        Ok(String::from_utf8(buf)?)
    }

    /// The owned buffer of `elem_size`-byte elements an export handed over through the
    /// return-buffer protocol in the (pointer, length) slot at `slot`: its bytes, copied
    /// out, and the buffer freed as the protocol says (size `len * elem_size`, alignment
    /// `elem_size`).
    pub fn take_owned(&mut self, slot: i32, elem_size: usize) -> wasmtime::Result<Vec<u8>> {
        let ptr = i32::from_le_bytes(self.read(slot));
        let len = usize::try_from(u32::from_le_bytes(self.read(slot + 4)))?;
        let size = len * elem_size;
        let mut bytes = vec![0; size];
        self.memory
            .read(&self.store, ptr as u32 as usize, &mut bytes)?;
        self.free(Block(ptr, i32::try_from(size)?, i32::try_from(elem_size)?))?;
        Ok(bytes)
    }
}

fn typed_func<P: WasmParams, R: WasmResults>(
    instance: &Instance,
    store: &mut Store<()>,
    name: &str,
) -> TypedFunc<P, R> {
    instance
        .get_typed_func(&mut *store, name)
        .unwrap_or_else(|e| panic!("export `{name}`: {e:#}"))
}
