//! `SHIFT_KERNELS_MAX_LEVEL` caps the detected level (its own test binary: it sets the
//! environment of the process).

use shift_kernels_cpu::{Level, MAX_LEVEL_ENV};

#[test]
fn the_environment_variable_forces_a_lower_level() {
    std::env::set_var(MAX_LEVEL_ENV, "scalar");
    assert_eq!(Level::detect(), Level::Scalar);
    std::env::set_var(MAX_LEVEL_ENV, "avx2");
    let l = Level::detect();
    assert!(l <= Level::Avx2 && l.is_supported(), "{l}");
    if Level::Avx2.is_supported() {
        assert_eq!(l, Level::Avx2);
    }
    std::env::set_var(MAX_LEVEL_ENV, "bogus");
    assert_eq!(Level::detect(), Level::best_up_to(None));
    std::env::remove_var(MAX_LEVEL_ENV);
    assert_eq!(Level::detect(), Level::best_up_to(None));
}
