using System;
using System.Diagnostics;
using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;
using System.Threading;

namespace ModelGen.Cpu;

/// <summary>
/// A small persistent pool for the CPU kernels. <see cref="TryRun"/> runs <c>body(context, i)</c> for every item i;
/// the caller and the workers claim items from a shared ticket, so when a worker is slow to wake (the machine is
/// busy) the caller simply takes its items too and nothing waits for a thread that has not started. Workers spin
/// for 5 ms after a job (the next GEMM of a training step follows within microseconds), yielding between checks so
/// a waiting thread never takes a core from one that has work, then sleep on a monitor. A run allocates nothing:
/// the body is a function pointer and the context a pointer to the caller's stack, which stays valid because the
/// caller returns only when every item is complete.
/// </summary>
internal static unsafe class WorkerPool
{
    static readonly object s_wake = new();
    static readonly object s_done = new();
    static Thread[] s_workers = Array.Empty<Thread>();
    static Exception? s_error;

    /// <summary>
    /// The state the threads share, one cache line per group of fields written together: the job description (written
    /// once per job, then only read), the ticket (claimed by every thread), the completion count, and the generation
    /// that idle workers poll. Kept apart, a worker polling the generation does not lose its line each time another
    /// thread claims or finishes an item (false sharing).
    /// </summary>
    [StructLayout(LayoutKind.Explicit, Size = 5 * CacheLine)]
    struct Shared
    {
        [FieldOffset(1 * CacheLine)] public delegate*<nint, int, void> Body;
        [FieldOffset(1 * CacheLine + 8)] public nint Context;
        [FieldOffset(1 * CacheLine + 16)] public int Count;
        /// <summary>1 while a job runs: taken by compare-and-swap, not a monitor, which would let the caller's own
        /// body re-enter and overwrite the running job.</summary>
        [FieldOffset(1 * CacheLine + 20)] public int Busy;
        /// <summary>(generation &lt;&lt; 32) | next unclaimed item.</summary>
        [FieldOffset(2 * CacheLine)] public long Ticket;
        [FieldOffset(3 * CacheLine)] public int Completed;
        [FieldOffset(3 * CacheLine + 4)] public int MainSleeping;
        /// <summary>Bumped once per job; workers wake on a change.</summary>
        [FieldOffset(4 * CacheLine)] public int Generation;
        [FieldOffset(4 * CacheLine + 4)] public int Sleepers;
    }

    const int CacheLine = 64;
    static Shared s_shared;

    static readonly long s_spinTicks = Stopwatch.Frequency / 200;   // a worker spins 5 ms after a job before it sleeps

    /// <summary>
    /// Runs <paramref name="body"/> for items 0 .. <paramref name="count"/> − 1 on the caller and up to
    /// <paramref name="threads"/> − 1 workers, and waits for all of them. Returns false without running anything
    /// when the pool is in use, by another thread or by the caller's own body (the caller then does the work itself).
    /// </summary>
    public static bool TryRun(delegate*<nint, int, void> body, nint context, int count, int threads)
    {
        if (count <= 1 || threads <= 1 || Interlocked.CompareExchange(ref s_shared.Busy, 1, 0) != 0)
            return false;
        try
        {
            EnsureWorkers(Math.Min(threads, count) - 1);
            int generation = s_shared.Generation + 1;
            // Close the last job's ticket before anything of the new job is written. A worker that read that ticket
            // (exhausted) may read the new job's count before it claims: against the old ticket a larger count would
            // let its claim succeed, run an item that does not exist (with the old context, or the new body) and
            // count it into the new job, which then never sees its count (a hang, measured 1 run in ~10 of
            // `compare`). Against the closed ticket the claim fails; the new ticket is published after the job.
            Interlocked.Exchange(ref s_shared.Ticket, (long)generation << 32 | int.MaxValue);
            s_shared.Body = body;
            s_shared.Context = context;
            s_shared.Count = count;
            s_error = null;
            Volatile.Write(ref s_shared.Completed, 0);
            Volatile.Write(ref s_shared.Ticket, (long)generation << 32);
            Interlocked.Exchange(ref s_shared.Generation, generation);
            if (Volatile.Read(ref s_shared.Sleepers) > 0)
            {
                lock (s_wake)
                    Monitor.PulseAll(s_wake);
            }

            Work(generation);
            WaitForCompletion(count);
            s_shared.Body = null;
            s_shared.Context = 0;
            if (s_error != null)
                ExceptionDispatchInfo.Capture(s_error).Throw();
            return true;
        }
        finally
        {
            Volatile.Write(ref s_shared.Busy, 0);
        }
    }

    /// <summary>Claims and runs items of job <paramref name="generation"/> until none is left.</summary>
    static void Work(int generation)
    {
        while (true)
        {
            long ticket = Volatile.Read(ref s_shared.Ticket);
            // A ticket of another generation, or an exhausted one, ends this thread's part of the job. A successful
            // claim proves the job is still running, so the body and context read below belong to it.
            if ((int)(ticket >> 32) != generation || (int)ticket >= s_shared.Count)
                return;
            // Claiming compares the whole ticket, generation included: it fails once TryRun has closed this job's
            // ticket, even if the count read above is already the next job's.
            if (Interlocked.CompareExchange(ref s_shared.Ticket, ticket + 1, ticket) != ticket)
                continue;
            try { s_shared.Body(s_shared.Context, (int)ticket); }
            catch (Exception e) { s_error = e; }
            if (Interlocked.Increment(ref s_shared.Completed) == s_shared.Count && Volatile.Read(ref s_shared.MainSleeping) != 0)
            {
                lock (s_done)
                    Monitor.PulseAll(s_done);
            }
        }
    }

    static void EnsureWorkers(int needed)
    {
        if (s_workers.Length >= needed)
            return;
        var workers = new Thread[needed];
        Array.Copy(s_workers, workers, s_workers.Length);
        for (int i = s_workers.Length; i < needed; i++)
        {
            var thread = new Thread(WorkerLoop) { IsBackground = true, Name = $"ModelGen.Cpu worker {i + 1}" };
            thread.Start(new WorkerState(Volatile.Read(ref s_shared.Generation)));
            workers[i] = thread;
        }
        s_workers = workers;
    }

    sealed class WorkerState(int generation)
    {
        public int Seen = generation;
    }


    static void WorkerLoop(object? stateObject)
    {
        var state = (WorkerState)stateObject!;
        while (true)
        {
            state.Seen = WaitForJob(state.Seen);
            Work(state.Seen);
        }
    }

    static int WaitForJob(int seen)
    {
        // Spin, yielding between checks: where the scheduler has put this thread on the same core as the caller, a
        // pure busy-wait would take half of that core from the caller's own work.
        long start = Stopwatch.GetTimestamp();
        while (Stopwatch.GetTimestamp() - start < s_spinTicks)
        {
            for (int i = 0; i < 16; i++)
            {
                int g = Volatile.Read(ref s_shared.Generation);
                if (g != seen)
                    return g;
                Thread.SpinWait(4);
            }
            Thread.Yield();
        }
        // Announce the sleep (a full fence), then re-check under the lock: TryRun bumps the generation before it
        // reads the sleepers, so one of the two always sees the other.
        Interlocked.Increment(ref s_shared.Sleepers);
        lock (s_wake)
        {
            while (Volatile.Read(ref s_shared.Generation) == seen)
                Monitor.Wait(s_wake);
        }
        Interlocked.Decrement(ref s_shared.Sleepers);
        return Volatile.Read(ref s_shared.Generation);
    }

    static void WaitForCompletion(int count)
    {
        // The remaining items run on workers; yield between checks so that a worker sharing this core can run.
        long start = Stopwatch.GetTimestamp();
        while (Stopwatch.GetTimestamp() - start < 4 * s_spinTicks)
        {
            for (int i = 0; i < 16; i++)
            {
                if (Volatile.Read(ref s_shared.Completed) == count)
                    return;
                Thread.SpinWait(4);
            }
            Thread.Yield();
        }
        Interlocked.Exchange(ref s_shared.MainSleeping, 1);
        lock (s_done)
        {
            while (Volatile.Read(ref s_shared.Completed) != count)
                Monitor.Wait(s_done);
        }
        Volatile.Write(ref s_shared.MainSleeping, 0);
    }
}
