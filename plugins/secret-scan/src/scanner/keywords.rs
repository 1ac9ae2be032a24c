//! The keyword prefilter: an Aho-Corasick automaton compiled to a dense DFA over
//! ASCII-case-folded bytes, searched with interleaved streams (`STREAMS`, three).
//!
//! Why not the `aho-corasick` crate's DFA: a DFA search is bound by the latency of
//! one dependent table load per byte (each step needs the previous state). Splitting
//! a file into three chunks and stepping three independent states in one loop keeps
//! three loads in flight, which roughly doubles or triples throughput natively and in
//! wasm alike, with plain safe code (no SIMD, no threads).
//!
//! Reports every keyword occurrence, overlapping ones included, in order of end
//! position.

/// One keyword occurrence: `[start, end)` and the keyword's index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Hit {
    pub start: usize,
    pub end: usize,
    pub kw: u32,
}

pub(crate) struct KeywordSearcher {
    tables: Box<Tables>,
    stride: usize,
    /// Per match state (index = (state - MATCH) / stride): keywords ending there
    /// (own and by failure links).
    outputs: Vec<Vec<u32>>,
    lens: Vec<usize>,
    max_len: usize,
}

const STREAMS: usize = 3;
/// Positions per iteration of the search loop.
const UNROLL: usize = 8;
/// Entries of the transition table: every u16 state plus every byte class.
const TABLE: usize = (1 << 16) + 256;
/// States with outputs have this bit set; no other state has it, so "is any stream's
/// state a match state" is an OR of the states and one test in the search loop.
const MATCH: u16 = 1 << 15;

/// The two lookup tables in one allocation: the search loop addresses both from one
/// base register (in wasm, Cranelift has few registers to spare).
#[repr(C)]
struct Tables {
    /// Byte → equivalence class (bytes absent from every keyword share class 0;
    /// ASCII letters are folded to lowercase first).
    classes: [u8; 256],
    /// Premultiplied: `trans[state + class]` is the next state (a multiple of the
    /// stride). u16 keeps the used rows small enough for L1 (about 30 KB for the
    /// built-in rules); sized so that any u16 state plus any class is in bounds, which
    /// lets the search loop index it without bounds checks, in safe code.
    trans: [u16; TABLE],
}
/// Below this size one stream is used (setup costs more than it saves).
const MIN_SPLIT: usize = 4096;

impl KeywordSearcher {
    pub fn new(keywords: &[&[u8]]) -> KeywordSearcher {
        let fold = |b: u8| b.to_ascii_lowercase();
        // Byte classes: one per distinct folded byte used by a keyword, 0 for the rest.
        let mut classes = [0u8; 256];
        let mut next_class = 1u16;
        for kw in keywords {
            for &b in *kw {
                let f = fold(b);
                if classes[f as usize] == 0 {
                    assert!(next_class < 256, "too many distinct keyword bytes");
                    classes[f as usize] = next_class as u8;
                    next_class += 1;
                }
            }
        }
        for b in 0..=255u8 {
            classes[b as usize] = classes[fold(b) as usize];
        }
        let stride = usize::from(next_class);

        // Trie (per class).
        let mut goto: Vec<Vec<u32>> = vec![vec![u32::MAX; stride]];
        let mut own: Vec<Vec<u32>> = vec![Vec::new()];
        for (i, kw) in keywords.iter().enumerate() {
            let mut s = 0usize;
            for &b in *kw {
                let c = usize::from(classes[b as usize]);
                if goto[s][c] == u32::MAX {
                    goto.push(vec![u32::MAX; stride]);
                    own.push(Vec::new());
                    goto[s][c] = (goto.len() - 1) as u32;
                }
                s = goto[s][c] as usize;
            }
            own[s].push(i as u32);
        }
        // BFS: failure links, full transitions, output sets.
        let n = goto.len();
        let mut fail = vec![0usize; n];
        let mut delta = vec![vec![0u32; stride]; n];
        let mut outputs = own.clone();
        let mut queue = std::collections::VecDeque::new();
        for c in 0..stride {
            let t = goto[0][c];
            if t == u32::MAX {
                delta[0][c] = 0;
            } else {
                delta[0][c] = t;
                fail[t as usize] = 0;
                queue.push_back(t as usize);
            }
        }
        while let Some(u) = queue.pop_front() {
            let f = fail[u];
            let inherited = outputs[f].clone();
            outputs[u].extend(inherited);
            for c in 0..stride {
                let t = goto[u][c];
                if t == u32::MAX {
                    delta[u][c] = delta[f][c];
                } else {
                    delta[u][c] = t;
                    fail[t as usize] = delta[f][c] as usize;
                    queue.push_back(t as usize);
                }
            }
        }
        // Renumber: states without outputs from 0 (the root stays 0), match states from
        // MATCH up, so every match state, and no other, has the MATCH bit: "is any
        // stream's state a match state" is an OR of the states and one test.
        let non_match: Vec<usize> = (0..n).filter(|&s| outputs[s].is_empty()).collect();
        let matching: Vec<usize> = (0..n).filter(|&s| !outputs[s].is_empty()).collect();
        let match_base = usize::from(MATCH);
        let mut new_id = vec![0usize; n];
        for (i, &old) in non_match.iter().enumerate() {
            new_id[old] = i * stride;
        }
        for (i, &old) in matching.iter().enumerate() {
            new_id[old] = match_base + i * stride;
        }
        // The built-in keyword set needs ~12k premultiplied ids below MATCH and ~3k
        // above; a test guards the limit.
        assert!(
            non_match.len() * stride <= match_base && matching.len() * stride <= match_base,
            "keyword automaton too large for u16 state ids"
        );
        // Sized so that any u16 state plus any class is in bounds: the search loop
        // indexes it without bounds checks, in safe code.
        let mut tables = Box::new(Tables {
            classes,
            trans: [0; TABLE],
        });
        let trans = &mut tables.trans;
        let mut outs = vec![Vec::new(); matching.len()];
        for (old, row) in delta.iter().enumerate() {
            let base = new_id[old];
            for (c, &t) in row.iter().enumerate() {
                trans[base + c] = new_id[t as usize] as u16;
            }
            if base >= match_base {
                outs[(base - match_base) / stride] = std::mem::take(&mut outputs[old]);
            }
        }
        KeywordSearcher {
            tables,
            stride,
            outputs: outs,
            lens: keywords.iter().map(|k| k.len()).collect(),
            max_len: keywords.iter().map(|k| k.len()).max().unwrap_or(1),
        }
    }

    /// All keyword occurrences in `hay`, sorted by end position.
    pub fn find_all(&self, hay: &[u8], out: &mut Vec<Hit>) {
        out.clear();
        if hay.len() < MIN_SPLIT {
            self.scan(hay, 0, 0, out);
            return;
        }
        let chunk = hay.len() / STREAMS;
        let overlap = self.max_len - 1;
        // Stream i scans [starts[i], ends[i]); it reports only matches ending after
        // bounds[i] (earlier ones belong to stream i-1, which saw their whole prefix).
        let bounds: [usize; STREAMS] = std::array::from_fn(|i| i * chunk);
        let starts: [usize; STREAMS] =
            std::array::from_fn(|i| bounds[i].saturating_sub(if i == 0 { 0 } else { overlap }));
        let ends: [usize; STREAMS] = std::array::from_fn(|i| {
            if i + 1 == STREAMS {
                hay.len()
            } else {
                bounds[i + 1]
            }
        });
        let common = (0..STREAMS).map(|i| ends[i] - starts[i]).min().unwrap_or(0);
        // Stream 0's hits go straight to `out` (they come first in end order); the
        // others' buffers are sized for typical text (a keyword per few hundred bytes)
        // so they rarely grow.
        let mut later: [Vec<Hit>; STREAMS - 1] =
            std::array::from_fn(|_| Vec::with_capacity(chunk / 256 + 8));
        out.reserve(chunk / 256 + 8);
        let mut state = [0u16; STREAMS];
        let streams: [&[u8]; STREAMS] =
            std::array::from_fn(|i| &hay[starts[i]..starts[i] + common]);
        let mut k = 0;
        while let Some(at) = step_streams(&self.tables, streams, k, &mut state) {
            for i in 0..STREAMS {
                if state[i] & MATCH != 0 {
                    self.emit(
                        state[i],
                        starts[i] + at + 1,
                        bounds[i],
                        dest(out, &mut later, i),
                    );
                }
            }
            k = at + 1;
        }
        let trans = &self.tables.trans;
        let classes = &self.tables.classes;
        // Tails (stream lengths differ by at most a few bytes plus the overlap).
        for i in 0..STREAMS {
            let mut s = state[i];
            for (k, &b) in hay[starts[i] + common..ends[i]].iter().enumerate() {
                s = trans[s as usize + usize::from(classes[b as usize])];
                if s & MATCH != 0 {
                    self.emit(
                        s,
                        starts[i] + common + k + 1,
                        bounds[i],
                        dest(out, &mut later, i),
                    );
                }
            }
        }
        for h in &mut later {
            out.append(h);
        }
    }

    fn scan(&self, hay: &[u8], offset: usize, min_end: usize, out: &mut Vec<Hit>) {
        let mut s = 0u16;
        let Tables { classes, trans } = &*self.tables;
        for (k, &b) in hay.iter().enumerate() {
            s = trans[s as usize + usize::from(classes[b as usize])];
            if s & MATCH != 0 {
                self.emit(s, offset + k + 1, min_end, out);
            }
        }
    }

    #[inline]
    fn emit(&self, state: u16, end: usize, min_end: usize, out: &mut Vec<Hit>) {
        if end <= min_end {
            return;
        }
        let row = usize::from(state - MATCH) / self.stride;
        for &kw in &self.outputs[row] {
            out.push(Hit {
                start: end - self.lens[kw as usize],
                end,
                kw,
            });
        }
    }
}

/// Where stream `i`'s hits go in `find_all`.
fn dest<'a>(out: &'a mut Vec<Hit>, later: &'a mut [Vec<Hit>], i: usize) -> &'a mut Vec<Hit> {
    match i.checked_sub(1) {
        Some(j) => &mut later[j],
        None => out,
    }
}

/// Steps the streams (equal lengths) from position `from` until one of them enters a
/// match state; returns that position (every stream has consumed it), or `None` at the
/// end. A separate, small function: the loop keeps its dozen values in registers, which
/// matters in wasm, where Cranelift spills heavily inside one large inlined function.
#[inline(never)]
fn step_streams(
    tables: &Tables,
    streams: [&[u8]; STREAMS],
    from: usize,
    state: &mut [u16; STREAMS],
) -> Option<usize> {
    let n = streams[0].len();
    let streams = streams.map(|s| &s[..n]);
    // u32, not u16: in wasm a u16 lives in an i32 and LLVM masks it at every use.
    let mut q = state.map(u32::from);
    // Whole groups of UNROLL positions first, as arrays of one length: no bounds check
    // per position (the old `k + UNROLL <= n` loop had one per byte: in wasm32 LLVM
    // could not rule out the index wrapping). Eight positions per iteration: the loop's
    // fixed costs in wasm (Cranelift's epoch check, and reloading the values it keeps
    // on the stack across it, since the epoch check's slow path is a call that may
    // clobber every caller-saved register) are paid once per eight bytes per stream.
    // Measured: ~8% fewer instructions in the wasm scan than groups of four with
    // per-byte checks (`valgrind --tool=cachegrind`, 200 MB corpus).
    let from = from.min(n);
    let groups = (n - from) / UNROLL;
    let chunks: [&[[u8; UNROLL]]; STREAMS] =
        streams.map(|s| &s[from..].as_chunks::<UNROLL>().0[..groups]);
    let found = 'search: {
        for g in 0..groups {
            for u in 0..UNROLL {
                if advance(tables, chunks.map(|c| c[g][u]), &mut q) {
                    break 'search Some(from + g * UNROLL + u);
                }
            }
        }
        (from + groups * UNROLL..n).find(|&j| advance(tables, streams.map(|s| s[j]), &mut q))
    };
    // Every state came from the u16 table.
    *state = q.map(|q| q as u16);
    found
}

/// One position of every stream (`bytes`, one per stream); true when any of them is
/// now in a match state. Always inlined: as a call (LLVM's choice for a closure used in two places)
/// the states live in memory and every index is bounds-checked, which cost wasm
/// a third of the scan.
#[inline(always)]
fn advance(tables: &Tables, bytes: [u8; STREAMS], q: &mut [u32; STREAMS]) -> bool {
    let step = |q: u32, b: u8| {
        let class = usize::from(tables.classes[usize::from(b)]);
        // The mask is free in wasm (a u16 would be masked anyway) and proves the index
        // in bounds, so no check is compiled in.
        u32::from(tables.trans[(q & 0xffff) as usize + class])
    };
    for (q, b) in q.iter_mut().zip(bytes) {
        *q = step(*q, b);
    }
    q.iter().fold(0, |any, q| any | q) & u32::from(MATCH) != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(kws: &[&[u8]], hay: &[u8]) -> Vec<Hit> {
        let mut v = Vec::new();
        for end in 1..=hay.len() {
            for (i, k) in kws.iter().enumerate() {
                if end >= k.len() && hay[end - k.len()..end].eq_ignore_ascii_case(k) {
                    v.push(Hit {
                        start: end - k.len(),
                        end,
                        kw: i as u32,
                    });
                }
            }
        }
        v
    }

    #[test]
    fn matches_naive_search_across_stream_boundaries() {
        let kws: &[&[u8]] = &[
            b"token",
            b"pass",
            b"password",
            b"://",
            b"AKIA",
            b"sk_live_",
            b"-----BEGIN",
            b"a",
            b"aa",
        ];
        let ks = KeywordSearcher::new(kws);
        let mut seed = 12345u64;
        let alphabet = b"toknepasswrd:/AKIsk_liv-BEGN xyz\n";
        for len in [0usize, 1, 5, 100, 4095, 4096, 4097, 9000, 20011] {
            let hay: Vec<u8> = (0..len)
                .map(|_| {
                    seed = seed
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    alphabet[(seed >> 33) as usize % alphabet.len()]
                })
                .collect();
            let mut got = Vec::new();
            ks.find_all(&hay, &mut got);
            let mut want = naive(kws, &hay);
            got.sort_by_key(|h| (h.end, h.kw));
            want.sort_by_key(|h| (h.end, h.kw));
            assert_eq!(got, want, "len {len}");
        }
        let mut got = Vec::new();
        let hay = format!(
            "{}PassWord = 1; see https://x{}",
            "x".repeat(5000),
            "y".repeat(5000)
        );
        ks.find_all(hay.as_bytes(), &mut got);
        let words: Vec<&[u8]> = got
            .iter()
            .map(|h| &hay.as_bytes()[h.start..h.end])
            .collect();
        assert_eq!(words, vec![&b"a"[..], b"Pass", b"PassWord", b"://"]);
    }
}
