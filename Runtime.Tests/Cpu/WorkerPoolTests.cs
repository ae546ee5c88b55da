using System;
using System.Threading;
using System.Threading.Tasks;
using ModelGen.Cpu;
using Xunit;

namespace ModelGen.Runtime.Tests.Cpu;

/// <summary>
/// <see cref="WorkerPool"/>: every item runs exactly once; an exception in an item
/// reaches the caller; a second user (another thread, or a body that uses the pool) is refused and runs the work
/// itself; many short jobs in a row, and jobs from several threads at once, all complete.
/// </summary>
[Collection(CpuSettingsCollection.Name)]
public sealed class WorkerPoolTests
{
    unsafe struct Counts
    {
        public int* Hits;
        public int Throw;
        public int Nested;
    }

    static unsafe void Count(nint context, int item)
    {
        var c = (Counts*)context;
        Interlocked.Increment(ref c->Hits[item]);
        if (item == c->Throw)
            throw new InvalidOperationException("item " + item);
        if (c->Nested != 0)
        {
            // The pool is busy with this job: a nested run is refused, and the body must do its work itself.
            Assert.False(WorkerPool.TryRun(&Count, 0, 4, 4));
        }
    }

    static unsafe int[] Run(int count, int threads, int throwAt = -1, bool nested = false)
    {
        var hits = new int[count];
        fixed (int* p = hits)
        {
            var c = new Counts { Hits = p, Throw = throwAt, Nested = nested ? 1 : 0 };
            Assert.True(WorkerPool.TryRun(&Count, (nint)(&c), count, threads));
        }
        return hits;
    }

    [Theory]
    [InlineData(2, 2)]
    [InlineData(7, 2)]
    [InlineData(64, 3)]
    [InlineData(1000, 4)]
    public void Every_item_runs_exactly_once(int count, int threads)
    {
        for (int rep = 0; rep < 200; rep++)
            Assert.All(Run(count, threads), h => Assert.Equal(1, h));
    }

    /// <summary>
    /// Regression: a worker that had read the exhausted ticket of a 2-item job, then the 22-item count of the next
    /// job before that job's ticket was published, could claim a third item of the finished job, run it, and count
    /// it into the next job, which then waited forever (GEMM's shared-panel path alternates such jobs: pack, then
    /// blocks). Here such jobs alternate many times; a hang fails the test after a minute instead of stalling the run.
    /// </summary>
    [Fact]
    public async Task Jobs_of_alternating_sizes_never_run_an_item_of_a_finished_job()
    {
        var run = Task.Run(() =>
        {
            for (int rep = 0; rep < 30000; rep++)
            {
                int count = rep % 2 == 0 ? 2 : 22;
                int[] hits = Run(count, 2);
                for (int i = 0; i < count; i++)
                    if (hits[i] != 1)
                        return $"job {rep} ({count} items): item {i} ran {hits[i]} times";
            }
            return null;
        });
        var first = await Task.WhenAny(run, Task.Delay(TimeSpan.FromSeconds(60)));
        Assert.True(first == run, "A job never saw all of its items complete (the pool hung).");
        Assert.Null(await run);
    }

    [Fact]
    public void An_exception_in_an_item_reaches_the_caller_and_the_pool_stays_usable()
    {
        for (int at = 0; at < 8; at++)
        {
            var e = Assert.Throws<InvalidOperationException>(() => Run(8, 2, throwAt: at));
            Assert.Equal("item " + at, e.Message);
        }
        Assert.All(Run(8, 2), h => Assert.Equal(1, h));
    }

    [Fact]
    public void A_body_that_uses_the_pool_is_refused()
    {
        Assert.All(Run(6, 2, nested: true), h => Assert.Equal(1, h));
    }

    [Fact]
    public unsafe void Trivial_jobs_are_refused()
    {
        Assert.False(WorkerPool.TryRun(&Count, 0, 1, 4));
        Assert.False(WorkerPool.TryRun(&Count, 0, 8, 1));
    }

    [Fact]
    public async Task Jobs_from_several_threads_at_once_all_complete()
    {
        // Threads that find the pool busy do their items themselves; none is lost or run twice.
        var tasks = new Task[4];
        for (int t = 0; t < tasks.Length; t++)
            tasks[t] = Task.Run(() =>
            {
                for (int rep = 0; rep < 500; rep++)
                {
                    var hits = RunOrDoItself(13, 3);
                    Assert.All(hits, h => Assert.Equal(1, h));
                }
            });
        await Task.WhenAll(tasks);
    }

    static unsafe int[] RunOrDoItself(int count, int threads)
    {
        var hits = new int[count];
        fixed (int* p = hits)
        {
            var c = new Counts { Hits = p, Throw = -1 };
            if (!WorkerPool.TryRun(&Count, (nint)(&c), count, threads))
                for (int i = 0; i < count; i++) Count((nint)(&c), i);
        }
        return hits;
    }

    [Fact]
    public void A_job_after_the_workers_went_to_sleep_completes()
    {
        Assert.All(Run(4, 2), h => Assert.Equal(1, h));
        Thread.Sleep(50);   // past the workers' spin: they wait on the monitor now
        Assert.All(Run(4, 2), h => Assert.Equal(1, h));
    }
}
