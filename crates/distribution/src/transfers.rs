//! Layer downloads shared by the pulls that want the same blob at once: the first starts
//! it, the others follow its steps and take its result, so a blob crosses the network once
//! however many pulls ask for it (Docker's transfer manager does the same).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use berth_image::HeldBlob;
use futures_util::future::{BoxFuture, FutureExt, Shared, WeakShared};
use tokio::sync::broadcast;

use crate::error::DistributionError;
use crate::pull::LayerStep;

type Outcome = Result<Arc<HeldBlob>, Arc<DistributionError>>;

/// Steps a follower may fall behind by before it misses some.
const STEPS_BEHIND: usize = 1024;

/// A download under way: its end, and its steps for those who follow it. The end is held
/// weakly: the pulls that follow it hold it, and when the last of them goes (its client
/// and its daemon gone), the download is dropped with it rather than kept, unpolled,
/// holding its connection and its file writer (a daemon could not stop while one was).
struct Transfer {
    /// Which start of this blob's download it is: an ending one forgets only itself.
    generation: u64,
    done: WeakShared<BoxFuture<'static, Outcome>>,
    steps: broadcast::Sender<LayerStep>,
}

/// One pull's hold on a download: its steps from the moment it joined, and its end.
pub struct Following {
    pub done: Shared<BoxFuture<'static, Outcome>>,
    pub steps: broadcast::Receiver<LayerStep>,
}

#[derive(Default)]
pub struct Transfers {
    under_way: Mutex<HashMap<String, Transfer>>,
    started: std::sync::atomic::AtomicU64,
}

impl Transfers {
    /// The download of blob `digest`: the one under way when another pull started it (and
    /// `true`), else a new one, `start` given where to tell its steps. A download is
    /// forgotten when it ends; it runs while anyone waits for it.
    pub fn join(
        self: &Arc<Self>,
        digest: &str,
        start: impl FnOnce(
            broadcast::Sender<LayerStep>,
        ) -> BoxFuture<'static, Result<HeldBlob, DistributionError>>,
    ) -> (Following, bool) {
        let mut under_way = self.under_way.lock().expect("lock");
        if let Some(t) = under_way.get(digest) {
            if let Some(done) = t.done.upgrade() {
                let following = Following {
                    done,
                    steps: t.steps.subscribe(),
                };
                return (following, true);
            }
        }
        let (tell, steps) = broadcast::channel(STEPS_BEHIND);
        let download = start(tell.clone());
        let generation = self
            .started
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (me, key) = (self.clone(), digest.to_string());
        let done = async move {
            let outcome = download.await.map(Arc::new).map_err(Arc::new);
            let mut under_way = me.under_way.lock().expect("lock");
            if under_way.get(&key).map(|t| t.generation) == Some(generation) {
                under_way.remove(&key);
            }
            outcome
        }
        .boxed()
        .shared();
        let weak = done.downgrade().expect("not polled yet");
        under_way.insert(
            digest.to_string(),
            Transfer {
                generation,
                done: weak,
                steps: tell,
            },
        );
        (Following { done, steps }, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A second pull of a blob under way joins it: one download, two results.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_blob_under_way_is_downloaded_once() {
        let transfers = Arc::new(Transfers::default());
        let started = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (release, gate) = tokio::sync::oneshot::channel::<()>();
        let gate = Arc::new(tokio::sync::Mutex::new(Some(gate)));
        let start = |count: Arc<std::sync::atomic::AtomicUsize>| {
            let gate = gate.clone();
            move |tell: broadcast::Sender<LayerStep>| -> BoxFuture<'static, Result<HeldBlob, DistributionError>> {
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                async move {
                    let _ = tell.send(LayerStep::Downloading { current: 1, total: 2 });
                    if let Some(g) = gate.lock().await.take() {
                        let _ = g.await;
                    }
                    Err(DistributionError::Invalid("no registry in this test".into()))
                }
                .boxed()
            }
        };
        let (first, joined_first) = transfers.join("sha256:a", start(started.clone()));
        let (second, joined_second) = transfers.join("sha256:a", start(started.clone()));
        assert!(!joined_first && joined_second);
        release.send(()).unwrap();
        let (a, b) = tokio::join!(first.done, second.done);
        assert_eq!(started.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert_eq!(a.unwrap_err().to_string(), b.unwrap_err().to_string());
        // Ended, it is forgotten: the next pull starts anew.
        let (_, joined) = transfers.join("sha256:a", start(started.clone()));
        assert!(!joined);
    }

    /// A download nobody follows any more is dropped (its connection and writer with it),
    /// and the next pull of the blob starts its own.
    #[tokio::test]
    async fn a_download_left_by_every_pull_is_dropped() {
        let transfers = Arc::new(Transfers::default());
        let (dropped_tx, dropped) = tokio::sync::oneshot::channel::<()>();
        struct OnDrop(Option<tokio::sync::oneshot::Sender<()>>);
        impl Drop for OnDrop {
            fn drop(&mut self) {
                let _ = self.0.take().unwrap().send(());
            }
        }
        let guard = OnDrop(Some(dropped_tx));
        let (following, _) = transfers.join("sha256:b", move |_| {
            async move {
                let _guard = guard;
                std::future::pending::<Result<HeldBlob, DistributionError>>().await
            }
            .boxed()
        });
        drop(following);
        dropped.await.expect("the download was dropped");
        let (_, joined) = transfers.join("sha256:b", |_| {
            async { Err(DistributionError::Invalid("new".into())) }.boxed()
        });
        assert!(!joined);
    }
}
