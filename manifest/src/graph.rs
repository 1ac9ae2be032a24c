//! The `needs` graph: topological order, transitive dependencies, cycles.
//! Nodes are stage indices in file order; ties are always broken by file order so
//! every listing is deterministic.

use std::collections::VecDeque;

pub(crate) struct Graph {
    /// `deps[i]`: indices stage `i` needs, in written order, without self-edges or duplicates.
    pub deps: Vec<Vec<usize>>,
}

impl Graph {
    /// Kahn's algorithm, always taking the ready stage that comes first in the file.
    /// Stages on or behind a cycle are left out.
    pub fn topo(&self) -> Vec<usize> {
        let n = self.deps.len();
        let mut done = vec![false; n];
        let mut order = Vec::with_capacity(n);
        loop {
            let next = (0..n).find(|&i| !done[i] && self.deps[i].iter().all(|&d| done[d]));
            match next {
                Some(i) => {
                    done[i] = true;
                    order.push(i);
                }
                None => return order,
            }
        }
    }

    /// `reach[j]` is true when stage `i` needs `j`, directly or transitively.
    pub fn ancestors(&self, i: usize) -> Vec<bool> {
        let mut seen = vec![false; self.deps.len()];
        let mut stack: Vec<usize> = self.deps[i].clone();
        while let Some(j) = stack.pop() {
            if !seen[j] {
                seen[j] = true;
                stack.extend(&self.deps[j]);
            }
        }
        seen
    }

    /// One shortest cycle per group of stages that need each other, each as
    /// `[a, b, …, a]` starting from the stage that comes first in the file.
    pub fn cycles(&self) -> Vec<Vec<usize>> {
        let n = self.deps.len();
        let mut covered = vec![false; n];
        let mut out = Vec::new();
        for start in 0..n {
            if covered[start] {
                continue;
            }
            // BFS from `start` back to `start`.
            let mut prev: Vec<Option<usize>> = vec![None; n];
            let mut queue = VecDeque::new();
            let mut found = None;
            for &d in &self.deps[start] {
                if d == start {
                    continue;
                }
                if prev[d].is_none() {
                    prev[d] = Some(start);
                    queue.push_back(d);
                }
            }
            'bfs: while let Some(u) = queue.pop_front() {
                for &d in &self.deps[u] {
                    if d == start {
                        found = Some(u);
                        break 'bfs;
                    }
                    if prev[d].is_none() {
                        prev[d] = Some(u);
                        queue.push_back(d);
                    }
                }
            }
            if let Some(last) = found {
                let mut path = vec![last];
                let mut cur = last;
                while let Some(p) = prev[cur] {
                    if p == start {
                        break;
                    }
                    path.push(p);
                    cur = p;
                }
                path.push(start);
                path.reverse();
                path.push(start);
                for &i in &path {
                    covered[i] = true;
                }
                out.push(path);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topo_ties_by_file_order() {
        // 0 needs 2; 1 needs nothing; 2 needs nothing; 3 needs 0 and 1.
        let g = Graph {
            deps: vec![vec![2], vec![], vec![], vec![0, 1]],
        };
        assert_eq!(g.topo(), vec![1, 2, 0, 3]);
        assert_eq!(g.ancestors(3), vec![true, true, true, false]);
    }

    #[test]
    fn cycles_reported_once() {
        // 0 -> 1 -> 2 -> 0, 3 -> 3 ignored (self-edges are filtered by callers), 4 -> 0.
        let g = Graph {
            deps: vec![vec![1], vec![2], vec![0], vec![], vec![0]],
        };
        assert_eq!(g.cycles(), vec![vec![0, 1, 2, 0]]);
        assert_eq!(g.topo(), vec![3]);
        let g = Graph {
            deps: vec![vec![1], vec![0], vec![3], vec![2]],
        };
        assert_eq!(g.cycles(), vec![vec![0, 1, 0], vec![2, 3, 2]]);
    }
}
