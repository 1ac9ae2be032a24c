//! Host memory a plugin can make the host hold, kept within the stage's memory limit.
//!
//! `limits.memory` caps the guest's linear memory, but a guest can also make the host
//! allocate: every resource it creates (`wasi:http` fields, requests and bodies,
//! streams, descriptors, secret handles) lives in host memory, in as many copies as
//! the resource table admits. 4,000 `wasi:http` fields of 120 KiB each took the host
//! to 585 MiB under a 64 MiB stage limit.
//!
//! The rule: a stage holds at most [`HostBudget::resources`] resources at once, and no
//! resource a plugin can fill holds more than [`HostBudget::per_resource`] bytes, with
//! `resources × per_resource ≤ limits.memory`. So what a plugin can make the host hold
//! through its resources is at most its own memory limit again. The per-resource
//! share is `limits.memory / 4096`, at least 8 KiB (then fewer resources: a 1 MiB
//! stage holds 128) and at most 256 KiB:
//!
//! | `limits.memory` | resources | per resource | fields | path-with-query | body chunk |
//! | --- | --- | --- | --- | --- | --- |
//! | 1 MiB | 128 | 8 KiB | 4 KiB | 2 KiB | 4 KiB |
//! | 64 MiB | 4096 | 16 KiB | 8 KiB | 4 KiB | 8 KiB |
//! | 256 MiB (default) | 4096 | 64 KiB | 32 KiB | 16 KiB | 32 KiB |
//! | ≥ 1 GiB | 4096 | 256 KiB | 128 KiB | 64 KiB | 128 KiB |
//!
//! How each `wasi:http` resource is held to its share (`caps::http` and
//! `runtime::waits` apply these):
//! - a `fields` (headers or trailers the plugin builds): at most half the share, as
//!   wasmtime-wasi-http counts it (names, values and their in-memory headers; the
//!   other half covers the map's own tables). Beyond it the call traps and the stage
//!   fails with a reason naming the limit;
//! - an `outgoing-request`: its headers (a `fields`, moved in), `path-with-query`
//!   (at most a quarter of the share) and `authority` (a quarter): longer values are
//!   refused (`set-*` returns its error) and the stage log says why;
//! - an `outgoing-body`: one chunk of at most half the share written and one
//!   buffered, so a plugin that never sends its request holds at most the share;
//! - responses: headers or trailers larger than the fields limit are refused
//!   (`http-response-header-section-size`, `http-response-trailer-section-size`), and a
//!   stage keeps at most [`MAX_REQUESTS_IN_FLIGHT`] requests (each with its connection
//!   and hyper's read buffer) at once.
//!
//! Other resources hold a fixed, small amount each (a descriptor, a pollable, a
//! secret handle). Transient copies made during one call (a `list<u8>` read from a
//! stream) are bounded by wasmtime's per-call copy limit, not held.
//!
//! Tests: unit tests below (the arithmetic); `tests/e2e/limits.rs` (4,000 fields of
//! 120 KiB under 64 MiB: the stage fails naming the limit and gantry's peak RSS stays
//! bounded).

/// Most resources a stage may hold at once, whatever its memory limit: WASI
/// descriptors are open files of the host, and gantry's own descriptor limit is shared
/// by every stage and the run records.
pub const MAX_RESOURCES: usize = 4096;

/// Requests a stage may have in flight at once (each holds a connection).
pub const MAX_REQUESTS_IN_FLIGHT: usize = 16;

const MIN_SHARE: usize = 8 << 10;
const MAX_SHARE: usize = 256 << 10;

/// Sizes derived from one stage's `limits.memory`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostBudget {
    /// Resource table capacity.
    pub resources: usize,
    /// Bytes any one resource a plugin can fill may hold on the host.
    pub per_resource: usize,
}

impl HostBudget {
    pub fn for_memory(memory: u64) -> HostBudget {
        let memory = usize::try_from(memory).unwrap_or(usize::MAX);
        let per_resource = (memory / MAX_RESOURCES).clamp(MIN_SHARE, MAX_SHARE);
        HostBudget {
            resources: (memory / per_resource).clamp(1, MAX_RESOURCES),
            per_resource,
        }
    }

    /// wasmtime-wasi-http's size limit of one `fields` resource.
    pub fn fields(&self) -> usize {
        self.per_resource / 2
    }

    /// Longest `path-with-query` of an outgoing request.
    pub fn path_with_query(&self) -> usize {
        self.per_resource / 4
    }

    /// Longest `authority` of an outgoing request.
    pub fn authority(&self) -> usize {
        self.per_resource / 4
    }

    /// Largest chunk of an outgoing body (one written, one buffered).
    pub fn body_chunk(&self) -> usize {
        self.per_resource / 2
    }

    /// What all the stage's resources together can hold at most.
    pub fn total(&self) -> usize {
        self.resources * self.per_resource
    }

    /// The smallest `limits.memory` (whole MiB) under which `part` of the budget is at
    /// least `size` bytes, if any memory limit gantry accepts gives that much: what a
    /// refusal suggests.
    pub fn memory_for(size: usize, part: fn(&HostBudget) -> usize) -> Option<u64> {
        let max = crate::manifest::Limits::MEMORY_RANGE.1;
        let mut memory: u64 = 1 << 20;
        while memory <= max {
            if part(&HostBudget::for_memory(memory)) >= size {
                return Some(memory);
            }
            memory += 1 << 20;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    #[test]
    fn the_table_of_the_module_docs() {
        let b = |m: u64| {
            let b = HostBudget::for_memory(m);
            (
                b.resources,
                b.per_resource >> 10,
                b.fields() >> 10,
                b.path_with_query() >> 10,
                b.body_chunk() >> 10,
            )
        };
        assert_eq!(b(MIB), (128, 8, 4, 2, 4));
        assert_eq!(b(64 * MIB), (4096, 16, 8, 4, 8));
        assert_eq!(b(256 * MIB), (4096, 64, 32, 16, 32));
        assert_eq!(b(1024 * MIB), (4096, 256, 128, 64, 128));
        assert_eq!(b(4096 * MIB), (4096, 256, 128, 64, 128));
    }

    #[test]
    fn refusals_name_the_memory_that_would_allow_them() {
        assert_eq!(
            HostBudget::memory_for(8 << 10, HostBudget::fields),
            Some(64 * MIB)
        );
        assert_eq!(
            HostBudget::memory_for(5000, HostBudget::path_with_query),
            Some(79 * MIB)
        );
        assert_eq!(HostBudget::memory_for(100, HostBudget::fields), Some(MIB));
        assert_eq!(HostBudget::memory_for(129 << 10, HostBudget::fields), None);
    }

    #[test]
    fn never_more_than_the_memory_limit() {
        let mut m = MIB;
        while m <= 4096 * MIB {
            let b = HostBudget::for_memory(m);
            assert!(b.total() as u64 <= m, "{m}: {b:?}");
            // A request is its headers, path and authority; a body two chunks.
            assert!(b.fields() + b.path_with_query() + b.authority() <= b.per_resource);
            assert!(2 * b.body_chunk() <= b.per_resource);
            assert!(b.resources >= 128, "{m}: {b:?}");
            m += 7 * MIB + 12345;
        }
    }
}
