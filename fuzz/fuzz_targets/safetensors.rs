//! Safetensors files: as a state dict (`--weights FILE`, `parse_safetensors`), re-encoded as
//! `save_safetensors` writes them and read back; and as a resumable training checkpoint
//! (`--resume`, `Checkpoint::from_bytes`: format tag, checksum, epoch log, tensor names).
#![no_main]

use libfuzzer_sys::fuzz_target;
use shift_nn::{encode_safetensors, parse_safetensors};
use shift_train::checkpoint::Checkpoint;

fuzz_target!(|data: &[u8]| {
    let file = "fuzz.safetensors";
    match parse_safetensors(data, file) {
        Ok(dict) => {
            // What loads must survive a save and load with the same names and shapes.
            if let Ok(blob) = encode_safetensors(&dict, file) {
                let again = parse_safetensors(&blob, file).expect("own encoding parses");
                assert_eq!(
                    dict.tensors.keys().collect::<Vec<_>>(),
                    again.tensors.keys().collect::<Vec<_>>()
                );
                for (name, t) in &dict.tensors {
                    assert_eq!(t.shape(), again.tensors[name].shape(), "{name}");
                }
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
    match Checkpoint::from_bytes(data, file) {
        Ok(c) => assert!(c.records.len() <= data.len()),
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
