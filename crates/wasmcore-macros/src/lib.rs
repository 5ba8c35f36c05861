use proc_macro::TokenStream; #[proc_macro_attribute] pub fn export(_a: TokenStream, i: TokenStream) -> TokenStream { i }
