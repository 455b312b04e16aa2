//! KServe's `STORAGE_CONFIG` / `STORAGE_OVERRIDE_CONFIG` JSON and the environment it becomes,
//! then the allow/ignore globs against a name.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modelseal_init::config::{apply_storage_config, from_env, Env};
use modelseal_init::glob::fnmatch;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut env = Env::new();
    env.insert("STORAGE_CONFIG".into(), text.to_string());
    if apply_storage_config(&mut env).is_ok() {
        let _ = from_env(env);
    }
    let (pattern, name) = text.split_once('\n').unwrap_or((text, "model.bin"));
    let _ = fnmatch(pattern, name);
});
