//! ARI spec types (in progress).
