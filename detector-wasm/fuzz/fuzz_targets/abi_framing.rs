//! Arbitrary request bytes at the ABI's batch entry points, as a buggy or hostile host could send them: the kernel
//! answers with an error code or a readable answer, never a panic.
#![no_main]

use detector_wasm::abi;
use detector_wasm::wire;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&header, request)) = data.split_first() else { return };
    let mut kernel = abi::Kernel::new();
    // An unconfigured kernel must refuse, not fall over.
    let count = u32::from(header & 0x3f);
    let detect = header & 0x40 != 0;
    if header & 0x80 != 0 {
        kernel.input_reserve(2)[..2].copy_from_slice(b"{}");
        assert_eq!(kernel.configure(2), 0);
    }
    kernel.input_reserve(request.len())[..request.len()].copy_from_slice(request);
    let rc = if detect { kernel.detect_batch(count, request.len()) } else { kernel.parse_batch(count, request.len()) };
    if rc >= 0 {
        assert_eq!(rc as u32, count);
        let out = kernel.output().to_vec();
        if detect {
            wire::read_batch(&out, count as usize, wire::read_detected).expect("detect answer must be readable");
        } else {
            wire::read_batch(&out, count as usize, wire::read_parsed).expect("parse answer must be readable");
        }
    } else {
        assert!(!kernel.output().is_empty(), "an error code comes with a message");
    }
    // Asking for more than was reserved is a framing error, not an out-of-bounds read.
    assert!(kernel.parse_batch(1, usize::MAX) < 0);
});
