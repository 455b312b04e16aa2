//! The Sigstore trust material the CLI uses when a command names none: the trusted root and
//! signing config `modelseal trust update` last verified through TUF and cached, else the
//! copies carried in the binary (public-good production). modelseal-init never reads the cache.

use modelseal_kernel::services::PRODUCTION_SIGNING_CONFIG;
use modelseal_kernel::trusted_root::PRODUCTION;

/// Where the default trust material comes from, for `trust show`.
pub enum Source {
    Cache(std::path::PathBuf),
    Carried,
}

pub fn source() -> Source {
    match modelseal_online::tuf::cached() {
        Some((_, _, dir)) => Source::Cache(dir),
        None => Source::Carried,
    }
}

pub fn default_root() -> Vec<u8> {
    modelseal_online::tuf::cached().map_or_else(|| PRODUCTION.to_vec(), |(root, _, _)| root)
}

pub fn default_signing_config() -> Vec<u8> {
    match modelseal_online::tuf::cached() {
        Some((_, Some(config), _)) => config,
        _ => PRODUCTION_SIGNING_CONFIG.to_vec(),
    }
}
