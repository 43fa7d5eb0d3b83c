//! ConfigSpace JSON search spaces (`deepshift hpo --space FILE`, `ConfigSpace::from_json`):
//! what reads must write back to an equal space, and its default configuration and a few
//! prior samples must be valid configurations of it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rand::SeedableRng;
use shift_automl::space::ConfigSpace;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let space = match ConfigSpace::from_json(text) {
        Ok(s) => s,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let again = ConfigSpace::from_json(&space.to_json()).expect("own JSON reads back");
    assert_eq!(space, again, "JSON round trip changed the space");
    let default = space.default_configuration();
    if let Err(e) = space.validate(&default) {
        panic!("default configuration is invalid: {e}");
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    for _ in 0..3 {
        if let Ok(c) = space.try_sample(&mut rng) {
            space.validate(&c).expect("a sample is valid");
        }
    }
});
