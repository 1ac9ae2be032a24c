//! Writing a run's records: the reports at the end (in parallel, each atomically),
//! `run.json` on its own thread at every transition, newest state wins.

#[allow(unused_imports)]
use super::*;

pub(super) fn write_reports(
    dir: &Path,
    pipeline: &str,
    run_id: &str,
    records: &[StageRecord],
    workspace: &Path,
    exit_code: i32,
    resumed: Option<&serde_json::Value>,
    inputs: &BTreeMap<String, String>,
) -> anyhow::Result<()> {
    use crate::report::{junit, sarif, summary};
    let mut summary = summary::summary_json(pipeline, run_id, records, exit_code);
    summary["inputs"] = serde_json::json!(inputs);
    if let Some(r) = resumed {
        summary["resumed"] = r.clone();
    }
    let sarif = sarif::sarif_log(records, workspace, env!("CARGO_PKG_VERSION"));
    let files = [
        ("summary.json", serde_json::to_vec_pretty(&summary)?),
        ("report.sarif", serde_json::to_vec_pretty(&sarif)?),
        (
            "junit.xml",
            junit::junit_xml(pipeline, records).into_bytes(),
        ),
    ];
    // Three fsyncs in parallel cost about one: the filesystem commits them together.
    std::thread::scope(|scope| {
        let writes: Vec<_> = files
            .iter()
            .map(|(name, data)| scope.spawn(move || write_atomic(&dir.join(name), data)))
            .collect();
        writes.into_iter().try_for_each(|w| {
            w.join()
                .unwrap_or_else(|_| Err(std::io::Error::other("writer panicked")))
        })
    })?;
    Ok(())
}

/// Keeps `run.json` current without making the scheduler wait for the disk: states
/// are handed to a writer thread that writes, fsyncs and renames the newest one it
/// has (states submitted while it was busy collapse into the latest). `finish`
/// writes the final state and waits until it is durable.
///
/// What a crash can cost: the state on disk may lag the scheduler by the one write
/// in flight — a stage that just finished may still read `running`. The effect
/// journal, not `run.json`, is the record of what was done.
pub(super) struct StateWriter {
    pub(super) path: PathBuf,
    pub(super) tx: Option<std::sync::mpsc::Sender<Vec<u8>>>,
    pub(super) thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

impl StateWriter {
    pub(super) fn start(path: PathBuf) -> StateWriter {
        let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
        let file = path.clone();
        let thread = std::thread::Builder::new()
            .name("gantry-run-state".into())
            .spawn(move || {
                let mut result = Ok(());
                while let Ok(mut doc) = rx.recv() {
                    while let Ok(newer) = rx.try_recv() {
                        doc = newer;
                    }
                    if let Err(e) = write_atomic(&file, &doc) {
                        tracing::error!("cannot write {}: {e}", file.display());
                        result = Err(e);
                    }
                }
                result
            })
            .ok();
        StateWriter {
            path,
            tx: Some(tx),
            thread,
        }
    }

    pub(super) fn submit(&self, doc: Vec<u8>) {
        match (&self.tx, &self.thread) {
            (Some(tx), Some(_)) => {
                let _ = tx.send(doc);
            }
            _ => {
                if let Err(e) = write_atomic(&self.path, &doc) {
                    tracing::error!("cannot write {}: {e}", self.path.display());
                }
            }
        }
    }

    /// Hands over the final state; [`StateWritten::wait`] returns once it is durable.
    pub(super) fn finish(mut self, doc: Vec<u8>) -> StateWritten {
        let Some(thread) = self.thread.take() else {
            // No writer thread (it could not be spawned): write synchronously.
            return StateWritten(Err(write_atomic(&self.path, &doc)));
        };
        if let Some(tx) = self.tx.take() {
            let _ = tx.send(doc);
        }
        StateWritten(Ok(thread))
    }
}

pub(super) struct StateWritten(
    pub(super) Result<std::thread::JoinHandle<std::io::Result<()>>, std::io::Result<()>>,
);

impl StateWritten {
    pub(super) fn wait(self) -> std::io::Result<()> {
        match self.0 {
            Ok(thread) => thread
                .join()
                .unwrap_or_else(|_| Err(std::io::Error::other("run.json writer panicked"))),
            Err(done) => done,
        }
    }
}

pub use crate::run::atomic::write as write_atomic;
