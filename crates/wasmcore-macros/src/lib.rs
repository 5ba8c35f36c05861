//! The `#[export]` attribute (use it through `wasmcore_abi::export`).
//!
//! **On `fn name(params) -> R`** it keeps the function as written and adds, in an anonymous
//! `const` block:
//!
//! * a C-ABI function exported under `name`, which lowers each parameter as the schema says
//!   (scalars as themselves, slices / bytes / `&str` as pointer + length, matrices as
//!   pointer + rows + columns), calls the function, and catches unwinding (native build) so
//!   nothing panics across the boundary;
//! * a descriptor record (`wasmcore_schema::frame` of the function's JSON description) in
//!   the custom section `wasmcore.abi.desc`, which `cargo xtask dist` checks against the
//!   real export and turns into the module's manifest.
//!
//! Parameter types: `i32 u32 i64 u64 f32 f64 bool`, `&[T]` / `&mut [T]` for `T` in
//! `f64 f32 i64 u32 u8` (`&[u8]` is `bytes`), `MatrixRef<T>` (2-D), `&str`. A scalar
//! parameter may carry a default for Python: `#[default(0)] ddof: u32`. Return types:
//! nothing, a scalar, `Vec<T>` / `String` (an owned buffer), `Matrix<T>` (an owned 2-D
//! array), and `Result<T, wasmcore_abi::Error>` of those (a fallible export).
//!
//! **On `impl Type { ... }`** it exports the type as a class whose objects cross as handles:
//! every `pub fn` becomes an export `<type_in_snake_case>_<method>`. A `pub fn` without a
//! receiver that returns `Self` is a constructor (`new` is the Python `__init__`); methods
//! take `&self` or `&mut self`; `#[export(getter)]` on a method without parameters makes it
//! a Python property. A method may return `Self` (a new object, e.g. `copy`). The export
//! `<type>_drop` frees an object. Handles are checked, so a stale or forged handle is a
//! `ValueError`, never a crash; for that reason every method export is fallible.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{format_ident, quote};
use syn::spanned::Spanned;
use syn::{
    Attribute, FnArg, GenericArgument, ImplItem, Item, ItemFn, ItemImpl, Pat, PathArguments,
    ReturnType, Signature, Type as SynType,
};
use wasmcore_schema::{
    ClassDesc, Dir, Elem, FunctionDesc, MethodDesc, Param, Return, Role, Scalar, Type,
};

// The README's examples are doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// Exports a function, or a type's methods, through the wasmcore ABI. See the crate docs.
#[proc_macro_attribute]
pub fn export(attr: TokenStream, item: TokenStream) -> TokenStream {
    let result = options(attr.into(), false).and_then(|opts| match syn::parse::<Item>(item)? {
        Item::Fn(f) => expand_fn(f, opts.hold_gil.unwrap_or(false)),
        Item::Impl(i) => expand_impl(i, opts.hold_gil.unwrap_or(false)),
        other => err(other.span(), "put #[export] on a fn or an impl block"),
    });
    match result {
        Ok(ts) => ts.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

/// The arguments of an `#[export(...)]`.
#[derive(Default)]
struct Options {
    /// `getter` (a method inside an `#[export]` impl only)
    getter: bool,
    /// `gil = "hold"` / `gil = "release"`, if given
    hold_gil: Option<bool>,
}

/// Parses the arguments of an `#[export(...)]`: `gil = "hold"` or `"release"`, and `getter`
/// where `method` (a method inside an `#[export]` impl).
fn options(tokens: TokenStream2, method: bool) -> syn::Result<Options> {
    let mut opts = Options::default();
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("getter") && method {
            opts.getter = true;
            Ok(())
        } else if meta.path.is_ident("gil") {
            let value: syn::LitStr = meta.value()?.parse()?;
            opts.hold_gil = Some(match value.value().as_str() {
                "hold" => true,
                "release" => false,
                _ => return err(value.span(), "gil = \"hold\" or gil = \"release\""),
            });
            Ok(())
        } else if meta.path.is_ident("getter") {
            Err(meta.error(
                "#[export]: getter goes on a method inside an #[export] impl: #[export(getter)]",
            ))
        } else {
            Err(meta.error(if method {
                "#[export]: a method takes getter and gil = \"hold\""
            } else {
                "#[export]: takes gil = \"hold\" (or no arguments)"
            }))
        }
    });
    syn::parse::Parser::parse2(parser, tokens)?;
    Ok(opts)
}

fn err<T>(span: Span, msg: impl std::fmt::Display) -> syn::Result<T> {
    Err(syn::Error::new(span, format!("#[export]: {msg}")))
}

fn ident_of(ty: &SynType) -> Option<String> {
    match ty {
        SynType::Path(p) if p.qself.is_none() => p.path.get_ident().map(|i| i.to_string()),
        _ => None,
    }
}

fn scalar(name: &str) -> Option<Scalar> {
    Scalar::ALL.into_iter().find(|s| s.as_str() == name)
}

fn elem(name: &str) -> Option<Elem> {
    Elem::ALL.into_iter().find(|e| e.as_str() == name)
}

/// The type arguments of `Name<...>` (the last path segment named `name`).
fn generic_args(ty: &SynType, name: &str) -> Option<Vec<SynType>> {
    let SynType::Path(p) = ty else { return None };
    let seg = p.path.segments.last()?;
    if seg.ident != name {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &seg.arguments else {
        return None;
    };
    Some(
        args.args
            .iter()
            .filter_map(|a| match a {
                GenericArgument::Type(t) => Some(t.clone()),
                _ => None,
            })
            .collect(),
    )
}

/// `Name<T>` with `T` an element type.
fn elem_arg(ty: &SynType, name: &str) -> Option<Elem> {
    let args = generic_args(ty, name)?;
    match args.as_slice() {
        [t] => ident_of(t).as_deref().and_then(elem),
        _ => None,
    }
}

/// The logical type of a parameter's Rust type.
fn param_type(ty: &SynType) -> syn::Result<Type> {
    if let Some(s) = ident_of(ty).as_deref().and_then(scalar) {
        return Ok(Type::Scalar(s));
    }
    if let Some(e) = elem_arg(ty, "MatrixRef") {
        return Ok(Type::Matrix(e));
    }
    if let SynType::Reference(r) = ty {
        if r.mutability.is_none() && ident_of(&r.elem).as_deref() == Some("str") {
            return Ok(Type::Str);
        }
        if let SynType::Slice(s) = &*r.elem
            && let Some(e) = ident_of(&s.elem).as_deref().and_then(elem)
        {
            return Ok(match (r.mutability.is_some(), e) {
                (false, Elem::U8) => Type::Bytes,
                (false, e) => Type::Buffer(e, Dir::In),
                (true, e) => Type::Buffer(e, Dir::InOut),
            });
        }
    }
    err(
        ty.span(),
        "unsupported parameter type; use i32 u32 i64 u64 f32 f64 bool, &[T] or &mut [T] \
         (T in f64 f32 i64 u32 u8), MatrixRef<T>, or &str",
    )
}

/// The logical return type of a success value; `class` names the type whose `Self` (or own
/// name) is a handle.
fn return_type(ty: &SynType, class: Option<&str>) -> syn::Result<Return> {
    if let SynType::Tuple(t) = ty
        && t.elems.is_empty()
    {
        return Ok(Return::Unit);
    }
    let id = ident_of(ty);
    if let (Some(id), Some(class)) = (id.as_deref(), class)
        && (id == "Self" || id == class)
    {
        return Ok(Return::Handle);
    }
    if let Some(s) = id.as_deref().and_then(scalar) {
        return Ok(Return::Scalar(s));
    }
    if id.as_deref() == Some("String") {
        return Ok(Return::OwnedStr);
    }
    if let Some(e) = elem_arg(ty, "Vec") {
        return Ok(Return::Owned(e));
    }
    if let Some(e) = elem_arg(ty, "Matrix") {
        return Ok(Return::OwnedMatrix(e));
    }
    err(
        ty.span(),
        "unsupported return type; use (), a scalar, Vec<T> (T in f64 f32 i64 u32 u8), String, \
         Matrix<T>, Self (in an impl), or Result<one of those, wasmcore_abi::Error>",
    )
}

/// The success type of a return type and whether it is a `Result`.
fn split_result(output: &ReturnType) -> (Option<SynType>, bool) {
    match output {
        ReturnType::Default => (None, false),
        ReturnType::Type(_, ty) => match generic_args(ty, "Result") {
            Some(a) if !a.is_empty() => (Some(a[0].clone()), true),
            _ => (Some((**ty).clone()), false),
        },
    }
}

fn doc_of(attrs: &[Attribute]) -> String {
    let mut lines = Vec::new();
    for attr in attrs {
        if !attr.path().is_ident("doc") {
            continue;
        }
        if let syn::Meta::NameValue(nv) = &attr.meta
            && let syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }) = &nv.value
        {
            let v = s.value();
            lines.push(v.strip_prefix(' ').unwrap_or(&v).to_owned());
        }
    }
    lines.join("\n").trim().to_owned()
}

/// Removes `#[default(literal)]` from a parameter's attributes; the literal as JSON.
fn take_default(attrs: &mut Vec<Attribute>, ty: Type) -> syn::Result<Option<String>> {
    let Some(pos) = attrs.iter().position(|a| a.path().is_ident("default")) else {
        return Ok(None);
    };
    let attr = attrs.remove(pos);
    let expr: syn::Expr = attr.parse_args()?;
    let text = match &expr {
        syn::Expr::Lit(l) => lit_text(&l.lit),
        syn::Expr::Unary(u) if matches!(u.op, syn::UnOp::Neg(_)) => match &*u.expr {
            syn::Expr::Lit(l) => lit_text(&l.lit).map(|t| format!("-{t}")),
            _ => None,
        },
        _ => None,
    };
    let Some(text) = text else {
        return err(
            expr.span(),
            "#[default(...)] takes a number or bool literal",
        );
    };
    if let Err(e) = wasmcore_schema::check_default(ty, &text) {
        return err(expr.span(), e);
    }
    Ok(Some(text))
}

fn lit_text(lit: &syn::Lit) -> Option<String> {
    match lit {
        syn::Lit::Int(i) => Some(i.base10_digits().to_owned()),
        syn::Lit::Float(f) => Some(f.base10_digits().to_owned()),
        syn::Lit::Bool(b) => Some(b.value.to_string()),
        _ => None,
    }
}

fn c_scalar(s: Scalar) -> TokenStream2 {
    match s {
        Scalar::I32 => quote!(i32),
        Scalar::U32 => quote!(u32),
        Scalar::I64 => quote!(i64),
        Scalar::U64 => quote!(u64),
        Scalar::F32 => quote!(f32),
        Scalar::F64 => quote!(f64),
        // bool crosses as an i32 (0 or not 0): robust against any caller
        Scalar::Bool => quote!(i32),
    }
}

fn c_elem(e: Elem) -> TokenStream2 {
    match e {
        Elem::F64 => quote!(f64),
        Elem::F32 => quote!(f32),
        Elem::I64 => quote!(i64),
        Elem::U32 => quote!(u32),
        Elem::U8 => quote!(u8),
    }
}

fn abi() -> TokenStream2 {
    quote!(::wasmcore_abi)
}

fn private() -> TokenStream2 {
    quote!(::wasmcore_abi::__private)
}

/// The lowered parameters of one export.
#[derive(Default)]
struct Lowered {
    params: Vec<Param>,
    /// lowered C parameters
    c_params: Vec<TokenStream2>,
    /// statements producing each argument as a `Result`
    convert: Vec<TokenStream2>,
    /// the arguments, in order
    args: Vec<syn::Ident>,
}

impl Lowered {
    /// Lowers the typed parameters of `sig` (a receiver must have been handled already),
    /// taking their `#[default]` attributes off.
    fn inputs(&mut self, sig: &mut Signature) -> syn::Result<()> {
        let abi = abi();
        let private = private();
        for input in sig.inputs.iter_mut() {
            let FnArg::Typed(pt) = input else { continue };
            let Pat::Ident(pi) = &*pt.pat else {
                return err(pt.pat.span(), "parameters must be plain identifiers");
            };
            let pname = pi.ident.to_string();
            let pname_lit = pname.trim_start_matches('_').to_owned();
            if pname_lit == "self" {
                return err(pi.span(), "a parameter cannot be named `self`");
            }
            let ty = param_type(&pt.ty)?;
            let default = take_default(&mut pt.attrs, ty)?;
            if let Some(a) = pt.attrs.first() {
                return err(
                    a.span(),
                    "the only attribute allowed on a parameter is #[default]",
                );
            }
            let arg = format_ident!("__arg_{}", pi.ident);
            let (ptr, len) = (format_ident!("{arg}_ptr"), format_ident!("{arg}_len"));
            match ty {
                Type::Scalar(Scalar::Bool) => {
                    self.c_params.push(quote!(#arg: i32));
                    self.convert.push(
                        quote!(let #arg: ::core::result::Result<bool, #abi::Error> = Ok(#arg != 0);),
                    );
                }
                Type::Scalar(s) => {
                    let t = c_scalar(s);
                    self.c_params.push(quote!(#arg: #t));
                    self.convert.push(
                        quote!(let #arg: ::core::result::Result<#t, #abi::Error> = Ok(#arg);),
                    );
                }
                Type::Buffer(e, Dir::InOut) => {
                    let t = c_elem(e);
                    self.c_params.push(quote!(#ptr: *mut #t, #len: usize));
                    self.convert.push(
                        quote!(let #arg = unsafe { #private::slice_mut(#ptr, #len, #pname_lit) };),
                    );
                }
                Type::Buffer(e, Dir::In) => {
                    let t = c_elem(e);
                    self.c_params.push(quote!(#ptr: *const #t, #len: usize));
                    self.convert.push(
                        quote!(let #arg = unsafe { #private::slice(#ptr, #len, #pname_lit) };),
                    );
                }
                Type::Matrix(e) => {
                    let t = c_elem(e);
                    let (rows, cols) = (format_ident!("{arg}_rows"), format_ident!("{arg}_cols"));
                    self.c_params
                        .push(quote!(#ptr: *const #t, #rows: usize, #cols: usize));
                    self.convert.push(quote!(
                        let #arg = unsafe { #private::matrix(#ptr, #rows, #cols, #pname_lit) };
                    ));
                }
                Type::Bytes | Type::Str => {
                    let f = if ty == Type::Str {
                        quote!(str)
                    } else {
                        quote!(slice)
                    };
                    self.c_params.push(quote!(#ptr: *const u8, #len: usize));
                    self.convert
                        .push(quote!(let #arg = unsafe { #private::#f(#ptr, #len, #pname_lit) };));
                }
                Type::Handle => unreachable!("not produced by param_type"),
            }
            self.params.push(Param {
                name: pname_lit,
                ty,
                default,
            });
            self.args.push(arg);
        }
        Ok(())
    }
}

/// The C-ABI wrapper of one export.
///
/// `produce` are statements that leave the success value in `v` (they may use `?` when
/// `fallible`); the wrapper converts the arguments before them and hands `v` to the host as
/// `returns` says.
fn wrapper(
    export: &str,
    lowered: &Lowered,
    lead: Option<TokenStream2>,
    returns: Return,
    fallible: bool,
    produce: TokenStream2,
) -> TokenStream2 {
    let abi = abi();
    let private = private();
    let Lowered {
        c_params,
        convert,
        args,
        ..
    } = lowered;
    let out = format_ident!("__wasmcore_out");
    // Conversions yield Results; fallible exports report them, infallible ones panic
    // (caught natively, a trap in wasm) since they have no way to report.
    let unwrap_args = if fallible {
        quote!(#(let #args = #args?;)*)
    } else {
        quote!(#(let #args = #private::expect(#args);)*)
    };
    // Owned results cross as Vec<elem>; a String as its UTF-8 bytes.
    let owned_elem = match returns {
        Return::Owned(e) | Return::OwnedMatrix(e) => c_elem(e),
        _ => quote!(u8),
    };
    let out_param = match returns {
        Return::Owned(_) | Return::OwnedStr => quote!(#out: *mut [usize; 2]),
        Return::OwnedMatrix(_) => quote!(#out: *mut [usize; 4]),
        Return::Scalar(s) if fallible => {
            let t = c_scalar(s);
            quote!(#out: *mut #t)
        }
        Return::Handle => quote!(#out: *mut u32),
        _ => quote!(),
    };
    // hands `v` over; a Result
    let put = match returns {
        Return::Unit => quote!({
            let () = v;
            Ok(())
        }),
        Return::Scalar(Scalar::Bool) => quote!(unsafe { #private::put(#out, v as i32) }),
        Return::Scalar(_) | Return::Handle => quote!(unsafe { #private::put(#out, v) }),
        Return::Owned(_) | Return::OwnedStr => quote!({
            let v: ::std::vec::Vec<#owned_elem> = v.into();
            unsafe { #private::put_owned(#out, v) }
        }),
        Return::OwnedMatrix(_) => quote!(unsafe { #private::put_matrix(#out, v) }),
    };
    let (ret_c, body) = if fallible {
        (
            quote!(-> i32),
            quote! {
                let r = #private::guard(move || -> ::core::result::Result<(), #abi::Error> {
                    #unwrap_args
                    #produce
                    #put
                });
                match r {
                    Ok(Ok(())) => #abi::schema::STATUS_OK,
                    Ok(Err(e)) => #private::fail(&e),
                    Err(st) => st,
                }
            },
        )
    } else if let Return::Scalar(s) = returns {
        let t = c_scalar(s);
        let conv = if s == Scalar::Bool {
            quote!(as i32)
        } else {
            quote!()
        };
        (
            quote!(-> #t),
            quote! {
                match #private::guard(move || { #unwrap_args #produce v #conv }) {
                    Ok(v) => v,
                    Err(st) => { #private::note_panic(st); Default::default() }
                }
            },
        )
    } else {
        (
            quote!(),
            quote! {
                let r = #private::guard(move || { #unwrap_args #produce #private::expect(#put) });
                if let Err(st) = r { #private::note_panic(st); }
            },
        )
    };
    let export_fn = format_ident!("__wasmcore_export_{}", export);
    quote! {
        #[doc(hidden)]
        #[unsafe(export_name = #export)]
        #[allow(clippy::not_unsafe_ptr_arg_deref, clippy::missing_safety_doc, unused_braces)]
        pub unsafe extern "C" fn #export_fn(#lead #(#c_params,)* #out_param) #ret_c {
            #(#convert)*
            #body
        }
    }
}

/// The descriptor static for one record.
fn descriptor(json: &str) -> TokenStream2 {
    let len = json.len() + 4;
    let section = wasmcore_schema::DESCRIPTOR_SECTION;
    quote! {
        #[cfg_attr(target_family = "wasm", unsafe(link_section = #section))]
        #[used]
        static DESCRIPTOR: [u8; #len] = ::wasmcore_abi::schema::frame::<#len>(#json);
    }
}

fn check_plain(sig: &Signature) -> syn::Result<()> {
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        return err(sig.generics.span(), "generic functions cannot be exported");
    }
    if let Some(a) = &sig.asyncness {
        return err(a.span(), "async functions cannot be exported");
    }
    if let Some(v) = &sig.variadic {
        return err(v.span(), "variadic functions cannot be exported");
    }
    Ok(())
}

fn expand_fn(mut item: ItemFn, hold_gil: bool) -> syn::Result<TokenStream2> {
    check_plain(&item.sig)?;
    if let Some(FnArg::Receiver(r)) = item.sig.inputs.first() {
        return err(
            r.span(),
            "methods are exported with #[export] on their impl block",
        );
    }
    let name = item.sig.ident.to_string();
    if name.starts_with(wasmcore_schema::RESERVED_PREFIX) {
        return err(
            item.sig.ident.span(),
            "names starting with `wasmcore_` are reserved",
        );
    }
    let mut lowered = Lowered::default();
    lowered.inputs(&mut item.sig)?;
    let (ok_ty, fallible) = split_result(&item.sig.output);
    let returns = match &ok_ty {
        None => Return::Unit,
        Some(t) => return_type(t, None)?,
    };
    let desc = FunctionDesc {
        name: name.clone(),
        doc: doc_of(&item.attrs),
        params: lowered.params.clone(),
        returns,
        fallible,
        hold_gil,
    };
    let func = &item.sig.ident;
    let args = &lowered.args;
    let q = if fallible { quote!(?) } else { quote!() };
    let produce = quote!(let v = #func(#(#args),*) #q;);
    let wrapper = wrapper(&name, &lowered, None, returns, fallible, produce);
    let descriptor = descriptor(&desc.to_json(true));
    Ok(quote! {
        #item

        #[allow(unsafe_code)]
        const _: () = {
            #descriptor
            #wrapper
        };
    })
}

/// `RunningStats` -> `running_stats`.
fn snake_case(name: &str) -> String {
    let mut out = String::new();
    let mut prev_lower = false;
    for c in name.chars() {
        if c.is_uppercase() {
            if prev_lower {
                out.push('_');
            }
            out.extend(c.to_lowercase());
            prev_lower = false;
        } else {
            out.push(c);
            prev_lower = c.is_lowercase() || c.is_ascii_digit();
        }
    }
    out
}

/// Removes `#[export(...)]` from a method's attributes: its options (none if it was not there).
fn take_options(attrs: &mut Vec<Attribute>) -> syn::Result<Options> {
    let Some(pos) = attrs.iter().position(|a| a.path().is_ident("export")) else {
        return Ok(Options::default());
    };
    match attrs.remove(pos).meta {
        syn::Meta::List(list) => options(list.tokens, true),
        other => err(
            other.span(),
            "a method takes #[export(getter)] or #[export(gil = \"hold\")]",
        ),
    }
}

fn expand_impl(mut item: ItemImpl, hold_gil: bool) -> syn::Result<TokenStream2> {
    if item.trait_.is_some() {
        return err(
            item.span(),
            "#[export] goes on an inherent impl, not a trait impl",
        );
    }
    if !item.generics.params.is_empty() {
        return err(item.generics.span(), "generic types cannot be exported");
    }
    let Some(class) = ident_of(&item.self_ty) else {
        return err(
            item.self_ty.span(),
            "#[export] impl needs a plain type name",
        );
    };
    let snake = snake_case(&class);
    if snake.starts_with(wasmcore_schema::RESERVED_PREFIX) {
        return err(
            item.self_ty.span(),
            "names starting with `wasmcore_` are reserved",
        );
    }
    let self_ty = &item.self_ty;
    let abi = abi();
    let private = private();
    let objects = quote!(__WASMCORE_OBJECTS);
    let handle = format_ident!("__wasmcore_self");
    let mut methods = Vec::new();
    let mut wrappers = Vec::new();
    for impl_item in item.items.iter_mut() {
        let ImplItem::Fn(f) = impl_item else { continue };
        let opts = take_options(&mut f.attrs)?;
        let getter = opts.getter;
        if !matches!(f.vis, syn::Visibility::Public(_)) {
            if getter {
                return err(f.sig.span(), "an #[export(getter)] method must be pub");
            }
            continue;
        }
        check_plain(&f.sig)?;
        let mname = f.sig.ident.to_string();
        let export = format!("{snake}_{mname}");
        let receiver = match f.sig.inputs.first() {
            Some(FnArg::Receiver(r)) => {
                if r.reference.is_none() {
                    return err(r.span(), "methods take &self or &mut self, not self");
                }
                true
            }
            _ => false,
        };
        let mut lowered = Lowered::default();
        lowered.inputs(&mut f.sig)?;
        let (ok_ty, declared_fallible) = split_result(&f.sig.output);
        let returns = match &ok_ty {
            None => Return::Unit,
            Some(t) => return_type(t, Some(&class))?,
        };
        let role = match (receiver, getter) {
            (false, false) if returns == Return::Handle => Role::Constructor,
            (false, _) => {
                return err(
                    f.sig.span(),
                    "an associated fn without self must return Self (a constructor)",
                );
            }
            (true, true) => Role::Getter,
            (true, false) => Role::Method,
        };
        let method = &f.sig.ident;
        let args = &lowered.args;
        let q = if declared_fallible {
            quote!(?)
        } else {
            quote!()
        };
        let call = if receiver {
            quote!(#objects.with(#handle, #class, |__obj| __obj.#method(#(#args),*))? #q)
        } else {
            quote!(<#self_ty>::#method(#(#args),*) #q)
        };
        let produce = if returns == Return::Handle {
            quote!(let v = #objects.insert(#call, #class)?;)
        } else {
            quote!(let v = #call;)
        };
        let lead = receiver.then(|| quote!(#handle: u32,));
        let mut params = lowered.params.clone();
        if receiver {
            params.insert(0, Param::new("self", Type::Handle));
        }
        methods.push(MethodDesc {
            name: mname,
            role,
            func: FunctionDesc {
                name: export.clone(),
                doc: doc_of(&f.attrs),
                params,
                returns,
                fallible: true,
                hold_gil: opts.hold_gil.unwrap_or(hold_gil),
            },
        });
        wrappers.push(wrapper(&export, &lowered, lead, returns, true, produce));
    }
    let drop_name = format!("{snake}_drop");
    let desc = ClassDesc {
        name: class.clone(),
        doc: doc_of(&item.attrs),
        drop: drop_name.clone(),
        methods,
    };
    if let Err(e) = desc.check() {
        return err(item.self_ty.span(), e);
    }
    let descriptor = descriptor(&desc.to_json(true));
    let drop_fn = format_ident!("__wasmcore_export_{}", drop_name);
    // the impl's own doc attributes stay on it
    Ok(quote! {
        #item

        #[allow(unsafe_code)]
        const _: () = {
            static #objects: #abi::Objects<#self_ty> = #abi::Objects::new();
            #descriptor
            #(#wrappers)*

            #[doc(hidden)]
            #[unsafe(export_name = #drop_name)]
            pub extern "C" fn #drop_fn(#handle: u32) {
                if let Err(st) = #private::guard(move || { #objects.remove(#handle); }) {
                    #private::note_panic(st);
                }
            }
        };
    })
}
