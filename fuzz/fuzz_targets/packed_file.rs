//! The deployment file of `deepshift export --packed` as `--weights` reads it back
//! (shift-cli/src/export.rs `parse_packed`): safetensors whose metadata describes each packed
//! layer, the packed bytes themselves, and the unpacking into PyTorch's tensor names.
#![no_main]
#![allow(dead_code, unused_imports)]

include!("cli_modules.rs");

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match export::parse_packed(data, "fuzz.safetensors") {
        Ok(Some(dict)) => {
            for t in dict.tensors.values() {
                assert_eq!(t.len(), t.shape().iter().product::<usize>());
            }
        }
        Ok(None) => {}
        Err(e) => {
            let _ = format!("{e:#}");
        }
    }
});
