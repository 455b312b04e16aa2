//! Grouping a listing into signed models: each object belongs to the innermost prefix holding a
//! `model.sig`, or is a single-file model with `KEY.sig` beside it, or is unsigned.

use std::collections::{BTreeMap, BTreeSet};

use modelseal_fetch::SIGNATURE_NAME;
use modelseal_s3::Object;

/// A signed model found in the listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Group {
    /// `prefix` (empty, or ending in `/`) holds `model.sig`; `objects` are the ones it owns.
    Dir {
        prefix: String,
        objects: Vec<Object>,
    },
    /// An object with `KEY.sig` beside it.
    File { object: Object },
}

/// Groups a listing: each object belongs to the innermost prefix holding a `model.sig`; an
/// object outside every such prefix is a single-file model when `KEY.sig` exists, that
/// signature belongs to it, and anything else is unsigned.
pub fn group(listing: &[Object]) -> (Vec<Group>, Vec<Object>) {
    let keys: BTreeSet<&str> = listing.iter().map(|o| o.key.as_str()).collect();
    let dirs: BTreeSet<&str> = listing
        .iter()
        .filter_map(|o| o.key.strip_suffix(SIGNATURE_NAME))
        .filter(|p| p.is_empty() || p.ends_with('/'))
        .collect();
    let owner = |key: &str| -> Option<&str> {
        dirs.iter()
            .filter(|p| key.starts_with(**p))
            .max_by_key(|p| p.len())
            .copied()
    };
    let mut owned: BTreeMap<&str, Vec<Object>> = dirs.iter().map(|p| (*p, Vec::new())).collect();
    let mut files = Vec::new();
    let mut unsigned = Vec::new();
    for o in listing {
        if let Some(p) = owner(&o.key) {
            owned.entry(p).or_default().push(o.clone());
            continue;
        }
        let is_signature_of_file = o
            .key
            .strip_suffix(".sig")
            .is_some_and(|k| keys.contains(k) && owner(k).is_none());
        if is_signature_of_file {
            continue;
        }
        if keys.contains(format!("{}.sig", o.key).as_str()) {
            files.push(Group::File { object: o.clone() });
        } else {
            unsigned.push(o.clone());
        }
    }
    let mut groups: Vec<Group> = owned
        .into_iter()
        .map(|(p, objects)| Group::Dir {
            prefix: p.to_string(),
            objects,
        })
        .collect();
    groups.extend(files);
    (groups, unsigned)
}
