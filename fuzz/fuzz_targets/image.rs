//! One image file of a class folder (JPEG or PNG, by its bytes as the reader decides): the
//! decoding of `ImageFolder`, then both kinds of transform (training random resized crop and
//! evaluation resize + centre crop) on the decoded pixels, as a data loader would. The
//! transforms' outputs are small (8 and 12 pixels, ImageNet's own are 224) so that the time
//! goes into decoding; the code paths are the same at every size.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use rand::SeedableRng;
use shift_data::imagefolder::{decode_rgb, transform_image};
use shift_data::{
    ImageTransform, Normalize, RandomResizedCrop, ResizeCenterCrop, SampleRng, Scratch,
};

fuzz_target!(|data: &[u8]| {
    let path = Path::new("class/image.JPEG");
    let mut pixels = Vec::new();
    let (w, h) = match decode_rgb(path, data, &mut pixels) {
        Ok(size) => size,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    assert_eq!(pixels.len(), w * h * 3, "decoded buffer and size disagree");
    let table = Normalize::imagenet().table();
    let mut scratch = Scratch::default();
    let train = RandomResizedCrop {
        size: 8,
        ..RandomResizedCrop::default()
    };
    let eval = ResizeCenterCrop {
        resize: 12,
        crop: 8,
    };
    for transform in [ImageTransform::Train(train), ImageTransform::Eval(eval)] {
        let side = transform.output_size();
        let mut out = vec![0f32; 3 * side * side];
        let mut rng = SampleRng::seed_from_u64(1);
        transform_image(
            &pixels,
            w,
            h,
            &transform,
            &table,
            &mut rng,
            &mut scratch,
            &mut out,
        );
    }
});
