//! ARI code generator (in progress).
