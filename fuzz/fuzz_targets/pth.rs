//! PyTorch files (`--weights FILE.pth`, `.pth.tar`, `.pt`): the zip format and the legacy
//! pickle format through `shift_nn::pth::read_pth`, and the restricted pickle machine alone
//! (`pickle::unpickle`). What reads must write back (`encode_pth`, torch.save's zip format)
//! and read again with the same names and shapes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shift_nn::pth::{encode_pth, pickle, read_pth};

fuzz_target!(|data: &[u8]| {
    let origin = "fuzz.pth";
    match read_pth(data, origin) {
        Ok(w) => {
            if let Ok(blob) = encode_pth(&w.state_dict, origin) {
                let again = read_pth(&blob, origin).expect("own encoding reads");
                let names = |d: &shift_nn::StateDict| {
                    d.tensors
                        .iter()
                        .map(|(n, t)| (n.clone(), t.shape().to_vec()))
                        .collect::<Vec<_>>()
                };
                assert_eq!(names(&w.state_dict), names(&again.state_dict));
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
    // The pickle machine alone: any stream, not only a zip member or a legacy file's.
    if let Err(pickle::PickleError(message)) = pickle::unpickle(data) {
        assert!(!message.is_empty(), "an error without a message");
    }
});
