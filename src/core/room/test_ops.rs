//! Changes for the room's unit tests.

use std::sync::Arc;

use crate::core::model::operation::{OpId, OpKind, Operation};

/// A change `client:seq` to `key`, based on version `base`, stamped with `clock`.
pub(super) fn op(
    client: &str,
    seq: u64,
    key: &str,
    kind: OpKind,
    base: u64,
    clock: u64,
) -> Operation {
    let mut op = Operation {
        id: OpId {
            client: Arc::from(client),
            seq,
        },
        key: key.into(),
        fields: Vec::new(),
        kind,
        base_version: base,
        timestamp: 0.0,
        batch: None,
        conflict: Default::default(),
    };
    op.conflict.clock = clock;
    op
}
