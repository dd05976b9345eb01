//! A pool of current-thread runtimes that wake on a fixed tick, for many media sessions.
//!
//! Every 20 ms frame costs a socket read, and on a runtime that wakes on every socket event
//! each read comes with a wake-up of its own: an `epoll_wait`, the scheduler's bookkeeping and
//! often a context switch, for a few hundred bytes. With hundreds of sessions those wake-ups
//! are most of the app's CPU. A [`PacedRuntime`] worker instead sleeps until the next tick
//! boundary whenever it runs out of work; meanwhile frames queue in the sockets, and one
//! wake-up then serves every session that became ready. The cost is latency: a frame waits up
//! to one tick before the app sees it, and timers on the worker fire on the next boundary.

use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle as ThreadHandle;
use std::time::{Duration, Instant};

use tokio::runtime::Handle;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Builds a [`PacedRuntime`]; from [`PacedRuntime::builder`].
#[derive(Clone, Debug)]
#[must_use = "nothing starts until `.build()`"]
pub struct PacedRuntimeBuilder {
    threads: usize,
    tick: Duration,
    name: String,
}

impl PacedRuntimeBuilder {
    /// Worker threads, each a current-thread tokio runtime (default 1). One per core that the
    /// media work may use; a session and the tasks that serve it belong on one worker.
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = threads;
        self
    }

    /// The wake-up period (default 20 ms, one frame). `Duration::ZERO` turns pacing off: the
    /// workers wake on every event, like a plain current-thread runtime.
    pub fn tick(mut self, tick: Duration) -> Self {
        self.tick = tick;
        self
    }

    /// The prefix of the workers' thread names (default `ari-media`; threads are `<name>-0`,
    /// `<name>-1`, ...).
    pub fn thread_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Starts the workers.
    ///
    /// # Errors
    /// `threads` of 0 is refused as [`std::io::ErrorKind::InvalidInput`]; a runtime or thread
    /// that cannot be made returns the operating system's error.
    pub fn build(self) -> std::io::Result<PacedRuntime> {
        if self.threads == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "PacedRuntime: threads must be at least 1",
            ));
        }
        let mut workers = Vec::with_capacity(self.threads);
        for i in 0..self.threads {
            let tick = self.tick;
            let pacer = Arc::new(Pacer::new(Instant::now(), tick));
            let mut builder = tokio::runtime::Builder::new_current_thread();
            builder.enable_all();
            if !tick.is_zero() {
                // The hook runs when the worker has no task left to run, just before it would
                // block in the I/O driver: sleeping here lets readiness pile up, and the driver
                // then returns all of it at once without blocking.
                let (parking, unparked) = (pacer.clone(), pacer.clone());
                builder
                    .on_thread_park(move || {
                        let now = Instant::now();
                        parking.busy_until(now);
                        let until = parking.next(now);
                        if until > now {
                            std::thread::sleep(until - now);
                        }
                    })
                    .on_thread_unpark(move || unparked.busy_from(Instant::now()));
            }
            let runtime = builder.build()?;
            let handle = runtime.handle().clone();
            let (stop, stopped) = oneshot::channel::<()>();
            let thread = std::thread::Builder::new()
                .name(format!("{}-{i}", self.name))
                .spawn(move || {
                    // Until the pool is shut down or dropped; dropping the runtime then cancels
                    // the tasks still on it.
                    runtime.block_on(async {
                        let _ = stopped.await;
                    });
                })?;
            workers.push(Worker {
                handle,
                pacer,
                stop: Mutex::new(Some(stop)),
                thread: Mutex::new(Some(thread)),
            });
        }
        Ok(PacedRuntime {
            inner: Arc::new(Inner {
                workers,
                next: AtomicUsize::new(0),
                tick: self.tick,
            }),
        })
    }
}

/// Current-thread tokio runtimes on threads of their own that wake at most once per tick.
///
/// Every 20 ms frame costs a socket read, and on a runtime that wakes on every socket event
/// each read comes with a wake-up of its own (an `epoll_wait`, the scheduler's bookkeeping,
/// often a context switch) for a few hundred bytes; with hundreds of sessions those wake-ups
/// are most of the app's CPU. A worker here instead sleeps until the next tick boundary
/// whenever it runs out of work: meanwhile frames queue in the sockets, and one wake-up then
/// serves every session that became ready. The price is latency: a frame waits up to one tick
/// before the app sees it, and timers on a worker fire on the first boundary after they are
/// due. docs/BENCHMARKS.md (section 4) has the measured trade-off.
///
/// Sessions must do their socket I/O on a worker to benefit: give the connection a worker's
/// handle with [`WebSocketMedia::runtime`](super::WebSocketMedia::runtime) (or make the
/// connection inside a task spawned on the worker), and spawn the tasks that consume its
/// audio on the same handle, so a frame wakes nothing outside the worker. REST calls and the
/// events WebSocket can stay on the app's main runtime. For connection type `client`, bind the
/// [`Listener`](crate::server::Listener) under the [`MediaListener`](super::MediaListener)
/// with [`connection_runtimes`](crate::server::ListenerBuilder::connection_runtimes)`(pool.handles())`:
/// each session Asterisk opens then lives on a worker, and
/// [`MediaSession::runtime`](super::MediaSession::runtime) says which.
///
/// Cloning shares the pool. When the last clone is dropped the workers stop and their tasks
/// are cancelled; [`PacedRuntime::shutdown`] does that at once and waits for the threads.
#[derive(Clone, Debug)]
pub struct PacedRuntime {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    workers: Vec<Worker>,
    next: AtomicUsize,
    tick: Duration,
}

#[derive(Debug)]
struct Worker {
    handle: Handle,
    pacer: Arc<Pacer>,
    stop: Mutex<Option<oneshot::Sender<()>>>,
    thread: Mutex<Option<ThreadHandle<()>>>,
}

impl PacedRuntime {
    /// A builder: one worker, a 20 ms tick.
    pub fn builder() -> PacedRuntimeBuilder {
        PacedRuntimeBuilder {
            threads: 1,
            tick: Duration::from_millis(20),
            name: "ari-media".to_owned(),
        }
    }

    /// The next worker's handle, round-robin: for a new session and the tasks that serve it.
    pub fn handle(&self) -> Handle {
        let i = self.inner.next.fetch_add(1, Ordering::Relaxed) % self.inner.workers.len();
        self.inner.workers[i].handle.clone()
    }

    /// Every worker's handle, in order.
    pub fn handles(&self) -> Vec<Handle> {
        self.inner
            .workers
            .iter()
            .map(|w| w.handle.clone())
            .collect()
    }

    /// Spawns `future` on the next worker (round-robin).
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle().spawn(future)
    }

    /// Worker threads.
    pub fn threads(&self) -> usize {
        self.inner.workers.len()
    }

    /// The wake-up period.
    pub fn tick(&self) -> Duration {
        self.inner.tick
    }

    /// Tick boundaries that passed while a worker was still busy, summed over the workers
    /// since the pool started. Each one is a tick in which the sessions on that worker were
    /// served late: more work than a tick holds. A count that keeps growing says to add
    /// threads or lengthen the tick.
    pub fn missed_ticks(&self) -> u64 {
        self.inner
            .workers
            .iter()
            .map(|w| w.pacer.missed.load(Ordering::Relaxed))
            .sum()
    }

    /// Stops the workers, cancelling their tasks, and waits for their threads to end (not
    /// for the calling thread's own, when called on a worker). Every clone sees the pool
    /// stopped: tasks spawned afterwards end as cancelled. A second call does nothing.
    ///
    /// Blocks the calling thread for up to about one tick; from async code, call it through
    /// `tokio::task::spawn_blocking`.
    pub fn shutdown(&self) {
        self.inner.signal_stop();
        let me = std::thread::current().id();
        for w in &self.inner.workers {
            let thread = w.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(t) = thread.filter(|t| t.thread().id() != me) {
                let _ = t.join();
            }
        }
    }
}

impl Inner {
    fn signal_stop(&self) {
        for w in &self.workers {
            if let Some(stop) = w.stop.lock().unwrap_or_else(|e| e.into_inner()).take() {
                let _ = stop.send(());
            }
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Signal only: joining here could block an async caller for a tick.
        self.signal_stop();
    }
}

/// The tick boundaries of one worker, `start + k * tick`, and the ones it missed.
#[derive(Debug)]
struct Pacer {
    start: Instant,
    tick: Duration,
    /// The boundary index when the worker last woke (`u64::MAX`: parked). A new worker is
    /// awake from `start` (index 0) until it first parks: a task spawned before its thread
    /// got going runs before any park.
    woke_at: AtomicU64,
    missed: AtomicU64,
}

impl Pacer {
    fn new(start: Instant, tick: Duration) -> Pacer {
        Pacer {
            start,
            tick,
            woke_at: AtomicU64::new(0),
            missed: AtomicU64::new(0),
        }
    }

    /// The index of the last boundary at or before `now`.
    fn index(&self, now: Instant) -> u64 {
        let since = now.saturating_duration_since(self.start).as_nanos();
        u64::try_from(since / self.tick.as_nanos().max(1)).unwrap_or(u64::MAX)
    }

    /// The worker woke at `now` (it may have been idle in the driver for many ticks: those do
    /// not count as missed).
    fn busy_from(&self, now: Instant) {
        self.woke_at.store(self.index(now), Ordering::Relaxed);
    }

    /// The worker runs out of work at `now`: the boundaries it crossed since it woke were
    /// missed.
    fn busy_until(&self, now: Instant) {
        let woke = self.woke_at.swap(u64::MAX, Ordering::Relaxed);
        if woke != u64::MAX {
            let crossed = self.index(now).saturating_sub(woke);
            self.missed.fetch_add(crossed, Ordering::Relaxed);
        }
    }

    /// The first boundary after `now`. Boundaries stay on one grid however long the work
    /// between them took, so a late wake-up does not shift the ones after it.
    fn next(&self, now: Instant) -> Instant {
        if self.tick.is_zero() {
            return now;
        }
        let tick = u64::try_from(self.tick.as_nanos()).unwrap_or(u64::MAX);
        // Saturating: only a run of centuries would reach the limit.
        let k = self.index(now).saturating_add(1);
        self.start + Duration::from_nanos(k.saturating_mul(tick))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundaries_stay_on_the_grid() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let p = Pacer::new(t0, ms(20));
        assert_eq!(p.next(t0), t0 + ms(20));
        assert_eq!(p.next(t0 + ms(5)), t0 + ms(20));
        // Exactly on a boundary: the next one, so the worker never spins on a boundary.
        assert_eq!(p.next(t0 + ms(20)), t0 + ms(40));
        // Work that overran two ticks: the next boundary on the same grid, not now + tick.
        assert_eq!(p.next(t0 + ms(67)), t0 + ms(80));
        let off = Pacer::new(t0, Duration::ZERO);
        assert_eq!(off.next(t0 + ms(3)), t0 + ms(3));
    }

    #[test]
    fn missed_boundaries_count_busy_time_only() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let p = Pacer::new(t0, ms(20));
        // The first park, inside the first tick: nothing to count.
        p.busy_until(t0 + ms(5));
        // Woke at 20 ms and ran to 95 ms: boundaries 40, 60 and 80 passed while busy.
        p.busy_from(t0 + ms(20));
        p.busy_until(t0 + ms(95));
        assert_eq!(p.missed.load(Ordering::Relaxed), 3);
        // Idle in the driver from 95 ms until woken at 500 ms: not missed; a short run then
        // crosses no boundary.
        p.busy_from(t0 + ms(500));
        p.busy_until(t0 + ms(510));
        assert_eq!(p.missed.load(Ordering::Relaxed), 3);
    }

    #[test]
    fn no_threads_is_refused() {
        let err = PacedRuntime::builder().threads(0).build().unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
        assert!(err.to_string().contains("threads"), "{err}");
    }

    #[test]
    fn tasks_run_on_the_workers_round_robin() {
        let pool = PacedRuntime::builder()
            .threads(2)
            .tick(Duration::from_millis(5))
            .thread_name("paced-test")
            .build()
            .expect("pool");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("rt");
        let names = rt.block_on(async {
            let mut names = Vec::new();
            for _ in 0..4 {
                let name = pool
                    .spawn(async {
                        // A timer and a socket on the worker: both drivers are enabled.
                        tokio::time::sleep(Duration::from_millis(1)).await;
                        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                        let addr = l.local_addr().unwrap();
                        let (_c, _s) =
                            tokio::join!(tokio::net::TcpStream::connect(addr), l.accept());
                        std::thread::current().name().unwrap().to_owned()
                    })
                    .await
                    .expect("task");
                names.push(name);
            }
            names
        });
        assert_eq!(
            names,
            [
                "paced-test-0",
                "paced-test-1",
                "paced-test-0",
                "paced-test-1"
            ]
        );
        pool.shutdown();
    }

    #[test]
    fn a_worker_blocked_past_its_ticks_reports_them() {
        let pool = PacedRuntime::builder()
            .tick(Duration::from_millis(10))
            .build()
            .expect("pool");
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("rt");
        // A task that holds the worker for at least 35 ms crosses at least three boundaries
        // after the wake-up that started it (thread::sleep never returns early).
        rt.block_on(pool.spawn(async { std::thread::sleep(Duration::from_millis(35)) }))
            .expect("task");
        // The count is taken when the worker parks after the task. A second task that waits
        // on a timer cannot finish before the worker has parked (the timer needs the driver),
        // so once it has, the count includes the first task's time.
        rt.block_on(pool.spawn(async { tokio::time::sleep(Duration::from_millis(1)).await }))
            .expect("task");
        assert!(pool.missed_ticks() >= 3, "{}", pool.missed_ticks());
        pool.shutdown();
    }

    #[test]
    fn shutdown_cancels_what_is_left() {
        let pool = PacedRuntime::builder().build().expect("pool");
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let task = pool.spawn(async move {
            // Holds `tx` until cancelled.
            let _tx = tx;
            std::future::pending::<()>().await;
        });
        pool.shutdown();
        // The task was dropped with its runtime: the channel's only sender is gone.
        assert!(rx.recv().is_err());
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("rt");
        assert!(rt.block_on(task).unwrap_err().is_cancelled());
    }
}
