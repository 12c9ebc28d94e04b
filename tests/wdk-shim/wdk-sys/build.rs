//! As wdk-sys 0.5.2's build script does (`generate_call_unsafe_wdf_function_binding_macro`):
//! writes the `call_unsafe_wdf_function_binding!` macro that forwards to the wdk-macros
//! proc-macro with the absolute path of the file holding the generated types, here the
//! shim's own `src/types.rs`.

use std::io::Write;

fn main() {
    let types = std::path::Path::new(&std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"))
        .join("src")
        .join("types.rs");
    println!("cargo::rerun-if-changed=src/types.rs");
    let out = std::path::Path::new(&std::env::var("OUT_DIR").expect("cargo sets it"))
        .join("call_unsafe_wdf_function_binding.rs");
    let mut file = std::fs::File::create(out).expect("OUT_DIR is writable");
    write!(
        file,
        r#"/// Calls a WDF function by name through the function table (wdk-sys 0.5.2's macro).
#[macro_export]
macro_rules! call_unsafe_wdf_function_binding {{
    ( $($tt:tt)* ) => {{
        $crate::__proc_macros::call_unsafe_wdf_function_binding! (
            r"{}",
            $($tt)*
        )
    }}
}}
"#,
        types.display()
    )
    .expect("write the macro");
}
