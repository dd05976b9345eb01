//! Typed ARI client (in progress).
