using System;
using System.Diagnostics;
using System.Runtime.ExceptionServices;
using System.Threading;

namespace ModelGen.Cpu;

/// <summary>
/// A small persistent pool for the CPU kernels: <see cref="TryRun"/> runs <c>body(context, i)</c> for every chunk,
/// chunk 0 on the calling thread and chunk i on worker i. Workers spin briefly after each job (the next GEMM of a
/// training step usually follows within microseconds), then sleep on a monitor. A run allocates nothing: the body
/// is a function pointer and the context a pointer to the caller's stack, which stays alive because the caller
/// waits for every worker before returning.
/// </summary>
internal static unsafe class WorkerPool
{
    static readonly object s_dispatch = new();
    static readonly object s_wake = new();
    static readonly object s_done = new();
    static Thread[] s_workers = Array.Empty<Thread>();

    static int s_generation;
    static int s_sleepers;
    static int s_remaining;
    static int s_mainSleeping;
    static delegate*<nint, int, void> s_body;
    static nint s_context;
    static int s_count;
    static Exception? s_error;

    static readonly long s_workerSpinTicks = Stopwatch.Frequency / 5000;   // 200 µs
    static readonly long s_mainSpinTicks = Stopwatch.Frequency / 500;      // 2 ms

    /// <summary>
    /// Runs <paramref name="body"/> for chunks 0 .. <paramref name="count"/> − 1 in parallel and waits for all of
    /// them. Returns false without running anything when another thread is using the pool (the caller then runs
    /// its chunks itself); nested use from inside a body is not allowed.
    /// </summary>
    public static bool TryRun(delegate*<nint, int, void> body, nint context, int count)
    {
        if (count <= 1 || !Monitor.TryEnter(s_dispatch))
            return false;
        try
        {
            EnsureWorkers(count - 1);
            s_body = body;
            s_context = context;
            s_count = count;
            s_error = null;
            Volatile.Write(ref s_remaining, s_workers.Length);
            Interlocked.Increment(ref s_generation);
            if (Volatile.Read(ref s_sleepers) > 0)
            {
                lock (s_wake)
                    Monitor.PulseAll(s_wake);
            }

            Exception? mine = null;
            try { body(context, 0); }
            catch (Exception e) { mine = e; }
            WaitForWorkers();
            s_body = null;
            s_context = 0;

            if (mine != null)
                ExceptionDispatchInfo.Capture(mine).Throw();
            if (s_error != null)
                ExceptionDispatchInfo.Capture(s_error).Throw();
            return true;
        }
        finally
        {
            Monitor.Exit(s_dispatch);
        }
    }

    static void EnsureWorkers(int needed)
    {
        if (s_workers.Length >= needed)
            return;
        var workers = new Thread[needed];
        Array.Copy(s_workers, workers, s_workers.Length);
        int generation = Volatile.Read(ref s_generation);
        for (int i = s_workers.Length; i < needed; i++)
        {
            var state = new WorkerState(i + 1, generation);
            var thread = new Thread(WorkerLoop) { IsBackground = true, Name = $"ModelGen.Cpu worker {i + 1}" };
            thread.Start(state);
            workers[i] = thread;
        }
        s_workers = workers;
    }

    sealed class WorkerState(int index, int generation)
    {
        public readonly int Index = index;
        public int Seen = generation;
    }

    static void WorkerLoop(object? stateObject)
    {
        var state = (WorkerState)stateObject!;
        while (true)
        {
            WaitForJob(state);
            if (state.Index < s_count)
            {
                try { s_body(s_context, state.Index); }
                catch (Exception e) { s_error = e; }
            }
            if (Interlocked.Decrement(ref s_remaining) == 0 && Volatile.Read(ref s_mainSleeping) != 0)
            {
                lock (s_done)
                    Monitor.PulseAll(s_done);
            }
        }
    }

    static void WaitForJob(WorkerState state)
    {
        long start = Stopwatch.GetTimestamp();
        while (Volatile.Read(ref s_generation) == state.Seen)
        {
            if (Stopwatch.GetTimestamp() - start > s_workerSpinTicks)
            {
                // Dekker-style handshake with TryRun: announce the sleep (full fence), then re-check under the lock.
                Interlocked.Increment(ref s_sleepers);
                lock (s_wake)
                {
                    while (Volatile.Read(ref s_generation) == state.Seen)
                        Monitor.Wait(s_wake);
                }
                Interlocked.Decrement(ref s_sleepers);
                break;
            }
            Thread.SpinWait(16);
        }
        state.Seen = Volatile.Read(ref s_generation);
    }

    static void WaitForWorkers()
    {
        long start = Stopwatch.GetTimestamp();
        while (Volatile.Read(ref s_remaining) != 0)
        {
            if (Stopwatch.GetTimestamp() - start > s_mainSpinTicks)
            {
                Interlocked.Exchange(ref s_mainSleeping, 1);
                lock (s_done)
                {
                    while (Volatile.Read(ref s_remaining) != 0)
                        Monitor.Wait(s_done);
                }
                Volatile.Write(ref s_mainSleeping, 0);
                return;
            }
            Thread.SpinWait(16);
        }
    }
}
