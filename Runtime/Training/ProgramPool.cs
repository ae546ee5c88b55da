using System;
using System.Threading;

namespace ModelGen;

/// <summary>
/// The inference programs of one model on one device. <c>Predict</c> and <c>Evaluate</c> rent a program for the length
/// of a call, so that calls on several threads never share an activation arena, and give it back; the next call, on
/// any thread, takes a warm one. Renting and returning are one atomic exchange each (no lock). A program grows to the
/// largest batch asked for; up to one idle program per core (at most 16: an arena for 256 samples of a CNN is tens of
/// megabytes) is kept, and more are disposed when they come back.
/// </summary>
internal sealed class ProgramPool : IDisposable
{
    readonly Func<int, CompiledProgram> _create;
    readonly int _outputLength;
    readonly Rented?[] _idle = new Rented?[Math.Clamp(Environment.ProcessorCount, 2, 16)];
    int _capacity = 1;
    volatile bool _disposed;

    /// <summary>A rented program, with an output buffer as large as it (for <c>Evaluate</c>'s metrics).</summary>
    internal sealed class Rented
    {
        public Rented(CompiledProgram program, int outputLength)
        {
            Program = program;
            Output = new float[checked(program.MaxBatch * outputLength)];
        }

        public CompiledProgram Program { get; }

        public float[] Output { get; }
    }

    /// <param name="create">Creates a program for batches of up to the given size.</param>
    /// <param name="outputLength">Floats of one sample's output.</param>
    public ProgramPool(Func<int, CompiledProgram> create, int outputLength)
    {
        _create = create;
        _outputLength = outputLength;
    }

    /// <summary>A program for batches of up to <paramref name="batch"/> samples, the caller's alone until <see cref="Return"/>.</summary>
    public Rented Rent(int batch)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        for (int i = 0; i < _idle.Length; i++)
        {
            if (Volatile.Read(ref _idle[i]) == null) continue;
            var rented = Interlocked.Exchange(ref _idle[i], null);
            if (rented == null) continue;
            if (rented.Program.MaxBatch >= batch) return rented;
            rented.Program.Dispose(); // too small for this call: it is replaced by one of the new capacity
            break;
        }
        int capacity;
        do capacity = Volatile.Read(ref _capacity);
        while (capacity < batch && Interlocked.CompareExchange(ref _capacity, batch, capacity) != capacity);
        return new Rented(_create(Math.Max(capacity, batch)), _outputLength);
    }

    /// <summary>Gives a rented program back: kept for the next call, or disposed when the pool is full, outgrown or disposed.</summary>
    public void Return(Rented rented)
    {
        if (!_disposed && rented.Program.MaxBatch >= Volatile.Read(ref _capacity))
        {
            for (int i = 0; i < _idle.Length; i++)
            {
                if (Interlocked.CompareExchange(ref _idle[i], rented, null) != null) continue;
                if (!_disposed) return;
                // Disposed meanwhile: take it back, unless Dispose's sweep already took (and disposed) it.
                if (Interlocked.CompareExchange(ref _idle[i], null, rented) == rented) rented.Program.Dispose();
                return;
            }
        }
        rented.Program.Dispose();
    }

    /// <summary>Disposes the idle programs; those rented now are disposed when they come back.</summary>
    public void Dispose()
    {
        _disposed = true;
        for (int i = 0; i < _idle.Length; i++) Interlocked.Exchange(ref _idle[i], null)?.Program.Dispose();
    }
}
