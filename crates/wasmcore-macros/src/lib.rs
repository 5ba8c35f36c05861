//! The `#[export]` attribute (use it through `wasmcore_abi::export`).
//!
//! On `fn name(params) -> R` it keeps the function as written and adds, in an anonymous
//! `const` block:
//!
//! * a C-ABI function exported under `name`, which lowers each parameter as the schema says
//!   (scalars as themselves, slices / bytes / `&str` as pointer + length), calls the function,
//!   and catches unwinding (native build) so nothing panics across the boundary;
//! * a descriptor record (`wasmcore_schema::frame` of the function's JSON description) in
//!   the custom section `wasmcore.abi.desc`, which `cargo xtask dist` checks against the
//!   real export and turns into the module's manifest.
//!
//! Supported parameter types: `i32 u32 i64 u64 f32 f64 bool`, `&[T]` / `&mut [T]` for
//! `T` in `f64 f32 i64 u32 u8` (`&[u8]` is `bytes`), `&str`. Return types: nothing, a scalar,
//! `Vec<T>` / `String` (an owned buffer), and `Result<T, wasmcore_abi::Error>` of those
//! (a fallible export).

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{format_ident, quote};
use syn::spanned::Spanned;
use syn::{FnArg, GenericArgument, ItemFn, Pat, PathArguments, ReturnType, Type as SynType};
use wasmcore_schema::{Dir, Elem, FunctionDesc, Return, Scalar, Type};

/// Exports a function through the wasmcore ABI. See the crate docs.
#[proc_macro_attribute]
pub fn export(attr: TokenStream, item: TokenStream) -> TokenStream {
    let item = syn::parse_macro_input!(item as ItemFn);
    if !attr.is_empty() {
        let attr = TokenStream2::from(attr);
        return syn::Error::new(attr.span(), "#[export] takes no arguments")
            .to_compile_error()
            .into();
    }
    match expand(item) {
        Ok(ts) => ts.into(),
        Err(e) => e.to_compile_error().into(),
    }
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

/// The logical type of a parameter's Rust type.
fn param_type(ty: &SynType) -> syn::Result<Type> {
    if let Some(s) = ident_of(ty).as_deref().and_then(scalar) {
        return Ok(Type::Scalar(s));
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
         (T in f64 f32 i64 u32 u8), or &str",
    )
}

/// The single generic argument of `Name<T>` / `Name<T, E>`.
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

/// The logical return type and the Rust type of the success value.
fn return_type(ty: &SynType) -> syn::Result<Return> {
    if let SynType::Tuple(t) = ty
        && t.elems.is_empty()
    {
        return Ok(Return::Unit);
    }
    if let Some(s) = ident_of(ty).as_deref().and_then(scalar) {
        return Ok(Return::Scalar(s));
    }
    if ident_of(ty).as_deref() == Some("String") {
        return Ok(Return::OwnedStr);
    }
    if let Some(args) = generic_args(ty, "Vec")
        && let [t] = args.as_slice()
        && let Some(e) = ident_of(t).as_deref().and_then(elem)
    {
        return Ok(Return::Owned(e));
    }
    err(
        ty.span(),
        "unsupported return type; use (), a scalar, Vec<T> (T in f64 f32 i64 u32 u8), String, \
         or Result<one of those, wasmcore_abi::Error>",
    )
}

fn doc_of(item: &ItemFn) -> String {
    let mut lines = Vec::new();
    for attr in &item.attrs {
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

fn expand(item: ItemFn) -> syn::Result<TokenStream2> {
    let sig = &item.sig;
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        return err(sig.generics.span(), "generic functions cannot be exported");
    }
    if let Some(a) = &sig.asyncness {
        return err(a.span(), "async functions cannot be exported");
    }
    if let Some(v) = &sig.variadic {
        return err(v.span(), "variadic functions cannot be exported");
    }
    let name = sig.ident.to_string();
    if name.starts_with(wasmcore_schema::RESERVED_PREFIX) {
        return err(
            sig.ident.span(),
            "names starting with `wasmcore_` are reserved",
        );
    }

    let abi = quote!(::wasmcore_abi);
    let private = quote!(#abi::__private);
    let mut params = Vec::new(); // (name, logical type)
    let mut c_params = Vec::new(); // lowered C parameters
    let mut convert = Vec::new(); // statements producing each argument as a Result
    let mut args = Vec::new();
    for input in &sig.inputs {
        let FnArg::Typed(pt) = input else {
            return err(input.span(), "methods cannot be exported");
        };
        let Pat::Ident(pi) = &*pt.pat else {
            return err(pt.pat.span(), "parameters must be plain identifiers");
        };
        let pname = pi.ident.to_string();
        let pname_lit = pname.trim_start_matches('_');
        let ty = param_type(&pt.ty)?;
        let arg = format_ident!("__arg_{}", pi.ident);
        match ty {
            Type::Scalar(Scalar::Bool) => {
                c_params.push(quote!(#arg: i32));
                convert.push(
                    quote!(let #arg: ::core::result::Result<bool, #abi::Error> = Ok(#arg != 0);),
                );
            }
            Type::Scalar(s) => {
                let t = c_scalar(s);
                c_params.push(quote!(#arg: #t));
                convert.push(quote!(let #arg: ::core::result::Result<#t, #abi::Error> = Ok(#arg);));
            }
            Type::Buffer(e, dir) => {
                let t = c_elem(e);
                let (ptr, len) = (format_ident!("{arg}_ptr"), format_ident!("{arg}_len"));
                if dir == Dir::InOut {
                    c_params.push(quote!(#ptr: *mut #t, #len: usize));
                    convert.push(
                        quote!(let #arg = unsafe { #private::slice_mut(#ptr, #len, #pname_lit) };),
                    );
                } else {
                    c_params.push(quote!(#ptr: *const #t, #len: usize));
                    convert.push(
                        quote!(let #arg = unsafe { #private::slice(#ptr, #len, #pname_lit) };),
                    );
                }
            }
            Type::Bytes | Type::Str => {
                let (ptr, len) = (format_ident!("{arg}_ptr"), format_ident!("{arg}_len"));
                let f = if ty == Type::Str {
                    quote!(str)
                } else {
                    quote!(slice)
                };
                c_params.push(quote!(#ptr: *const u8, #len: usize));
                convert.push(quote!(let #arg = unsafe { #private::#f(#ptr, #len, #pname_lit) };));
            }
            Type::Handle => unreachable!("not produced by param_type"),
        }
        params.push((pname_lit.to_owned(), ty));
        args.push(arg);
    }

    let (fallible, ok_ty) = match &sig.output {
        ReturnType::Default => (false, None),
        ReturnType::Type(_, ty) => match generic_args(ty, "Result") {
            Some(a) if !a.is_empty() => (true, Some(a[0].clone())),
            _ => (false, Some((**ty).clone())),
        },
    };
    let returns = match &ok_ty {
        None => Return::Unit,
        Some(t) => return_type(t)?,
    };

    let desc = FunctionDesc {
        name: name.clone(),
        doc: doc_of(&item),
        params,
        returns,
        fallible,
    };
    let json = desc.to_json(true);
    let len = json.len() + 4;
    let section = wasmcore_schema::DESCRIPTOR_SECTION;

    let func = &sig.ident;
    let out = format_ident!("__wasmcore_out");
    let call = quote!(#func(#(#args),*));
    // Conversions yield Results; fallible exports report them, infallible ones panic
    // (caught natively, a trap in wasm) since they have no way to report.
    let unwrap_args = if fallible {
        quote!(#(let #args = #args?;)*)
    } else {
        quote!(#(let #args = #private::expect(#args);)*)
    };

    // Owned results cross as Vec<elem>; a String as its UTF-8 bytes.
    let owned = |r: Return| match r {
        Return::Owned(e) => c_elem(e),
        _ => quote!(u8),
    };
    let (ret_c, out_param, body) = match (returns, fallible) {
        (Return::Unit, false) => (
            quote!(),
            quote!(),
            quote! {
                if let Err(st) = #private::guard(move || { #unwrap_args #call }) {
                    #private::note_panic(st);
                }
            },
        ),
        (Return::Scalar(s), false) => {
            let t = c_scalar(s);
            let conv = if s == Scalar::Bool {
                quote!(as i32)
            } else {
                quote!()
            };
            (
                quote!(-> #t),
                quote!(),
                quote! {
                    match #private::guard(move || { #unwrap_args #call }) {
                        Ok(v) => v #conv,
                        Err(st) => { #private::note_panic(st); Default::default() }
                    }
                },
            )
        }
        (Return::Owned(_) | Return::OwnedStr, false) => {
            let t = owned(returns);
            (
                quote!(),
                quote!(, #out: *mut [usize; 2]),
                quote! {
                    let r = #private::guard(move || {
                        #unwrap_args
                        let v: ::std::vec::Vec<#t> = (#call).into();
                        #private::expect(unsafe { #private::put_owned(#out, v) })
                    });
                    if let Err(st) = r { #private::note_panic(st); }
                },
            )
        }
        (r, true) => {
            let (out_param, put) = match r {
                Return::Unit => (quote!(), quote!(v;)),
                Return::Scalar(Scalar::Bool) => (
                    quote!(, #out: *mut i32),
                    quote!(unsafe { #private::put(#out, v as i32) }?;),
                ),
                Return::Scalar(s) => {
                    let t = c_scalar(s);
                    (
                        quote!(, #out: *mut #t),
                        quote!(unsafe { #private::put(#out, v) }?;),
                    )
                }
                Return::Owned(_) | Return::OwnedStr => {
                    let t = owned(r);
                    (
                        quote!(, #out: *mut [usize; 2]),
                        quote!(let v: ::std::vec::Vec<#t> = v.into(); unsafe { #private::put_owned(#out, v) }?;),
                    )
                }
                Return::Handle => unreachable!("not produced by return_type"),
            };
            (
                quote!(-> i32),
                out_param,
                quote! {
                    let r = #private::guard(move || -> ::core::result::Result<(), #abi::Error> {
                        #unwrap_args
                        let v = #call?;
                        #put
                        Ok(())
                    });
                    match r {
                        Ok(Ok(())) => #abi::schema::STATUS_OK,
                        Ok(Err(e)) => #private::fail(&e),
                        Err(st) => st,
                    }
                },
            )
        }
        (Return::Handle, false) => unreachable!("not produced by return_type"),
    };

    let export_fn = format_ident!("__wasmcore_export_{}", func);
    Ok(quote! {
        #item

        #[allow(unsafe_code)]
        const _: () = {
            #[cfg_attr(target_family = "wasm", unsafe(link_section = #section))]
            #[used]
            static DESCRIPTOR: [u8; #len] = #abi::schema::frame::<#len>(#json);

            #[doc(hidden)]
            #[unsafe(export_name = #name)]
            #[allow(clippy::not_unsafe_ptr_arg_deref, clippy::missing_safety_doc)]
            pub unsafe extern "C" fn #export_fn(#(#c_params),* #out_param) #ret_c {
                #(#convert)*
                #body
            }
        };
    })
}
