//! modelseal-init's single-archive unpacker (tar, tar.gz, zip) on hostile archives: entries
//! that escape, links, reserved names, bombs. Nothing may land outside the target directory.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modelseal_init::archive::{extract, Kind};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let kind = match selector % 3 {
        0 => Kind::Tar,
        1 => Kind::TarGz,
        _ => Kind::Zip,
    };
    let dir = tempfile::tempdir().expect("a temporary directory");
    let archive = dir.path().join("model.archive");
    std::fs::write(&archive, body).expect("write the archive");
    let into = dir.path().join("into");
    std::fs::create_dir(&into).expect("create the target");
    let _ = extract(&archive, kind, &into, 1 << 20);
    // Nothing beside the archive and the target directory.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .expect("list")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names.len(), 2, "an entry escaped the target: {names:?}");
});
