using System;
using System.Diagnostics;
using System.Runtime.ExceptionServices;
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
    static readonly object s_dispatch = new();
    static readonly object s_wake = new();
    static readonly object s_done = new();
    static Thread[] s_workers = Array.Empty<Thread>();

    static int s_generation;        // bumped once per job; workers wake on a change
    static long s_ticket;           // (generation << 32) | next unclaimed item
    static int s_completed;         // items finished in the current job
    static int s_sleepers;
    static int s_mainSleeping;
    static delegate*<nint, int, void> s_body;
    static nint s_context;
    static int s_count;
    static Exception? s_error;

    static readonly long s_spinTicks = Stopwatch.Frequency / 200;   // a worker spins 5 ms after a job before it sleeps

    /// <summary>
    /// Runs <paramref name="body"/> for items 0 .. <paramref name="count"/> − 1 on the caller and up to
    /// <paramref name="threads"/> − 1 workers, and waits for all of them. Returns false without running anything
    /// when another thread is using the pool (the caller then does the work itself); a body must not use the pool.
    /// </summary>
    public static bool TryRun(delegate*<nint, int, void> body, nint context, int count, int threads)
    {
        if (count <= 1 || threads <= 1 || !Monitor.TryEnter(s_dispatch))
            return false;
        try
        {
            EnsureWorkers(Math.Min(threads, count) - 1);
            int generation = s_generation + 1;
            s_body = body;
            s_context = context;
            s_count = count;
            s_error = null;
            Volatile.Write(ref s_completed, 0);
            Volatile.Write(ref s_ticket, (long)generation << 32);
            Interlocked.Exchange(ref s_generation, generation);
            if (Volatile.Read(ref s_sleepers) > 0)
            {
                lock (s_wake)
                    Monitor.PulseAll(s_wake);
            }

            Work(generation);
            WaitForCompletion(count);
            s_body = null;
            s_context = 0;
            if (s_error != null)
                ExceptionDispatchInfo.Capture(s_error).Throw();
            return true;
        }
        finally
        {
            Monitor.Exit(s_dispatch);
        }
    }

    /// <summary>Claims and runs items of job <paramref name="generation"/> until none is left.</summary>
    static void Work(int generation)
    {
        while (true)
        {
            long ticket = Volatile.Read(ref s_ticket);
            // A ticket of another generation, or an exhausted one, ends this thread's part of the job. A successful
            // claim proves the job is still running, so the body and context read below belong to it.
            if ((int)(ticket >> 32) != generation || (int)ticket >= s_count)
                return;
            if (Interlocked.CompareExchange(ref s_ticket, ticket + 1, ticket) != ticket)
                continue;
            try { s_body(s_context, (int)ticket); }
            catch (Exception e) { s_error = e; }
            if (Interlocked.Increment(ref s_completed) == s_count && Volatile.Read(ref s_mainSleeping) != 0)
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
            thread.Start(new WorkerState(Volatile.Read(ref s_generation)));
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
                int g = Volatile.Read(ref s_generation);
                if (g != seen)
                    return g;
                Thread.SpinWait(4);
            }
            Thread.Yield();
        }
        // Announce the sleep (a full fence), then re-check under the lock: TryRun bumps the generation before it
        // reads s_sleepers, so one of the two always sees the other.
        Interlocked.Increment(ref s_sleepers);
        lock (s_wake)
        {
            while (Volatile.Read(ref s_generation) == seen)
                Monitor.Wait(s_wake);
        }
        Interlocked.Decrement(ref s_sleepers);
        return Volatile.Read(ref s_generation);
    }

    static void WaitForCompletion(int count)
    {
        // The remaining items run on workers; yield between checks so that a worker sharing this core can run.
        long start = Stopwatch.GetTimestamp();
        while (Stopwatch.GetTimestamp() - start < 4 * s_spinTicks)
        {
            for (int i = 0; i < 16; i++)
            {
                if (Volatile.Read(ref s_completed) == count)
                    return;
                Thread.SpinWait(4);
            }
            Thread.Yield();
        }
        Interlocked.Exchange(ref s_mainSleeping, 1);
        lock (s_done)
        {
            while (Volatile.Read(ref s_completed) != count)
                Monitor.Wait(s_done);
        }
        Volatile.Write(ref s_mainSleeping, 0);
    }
}
