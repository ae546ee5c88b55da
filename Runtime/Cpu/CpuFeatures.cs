using System;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using System.Threading;

namespace ModelGen.Cpu;

/// <summary>
/// Run-time dispatch for the CPU kernels: the best instruction set this machine supports, the one the kernels use
/// now (tests force a lower one to exercise every path), and the number of threads GEMM may use.
/// </summary>
public static class CpuFeatures
{
    static readonly SimdLevel s_level = Detect();
    static int s_forced = (int)SimdLevel.Avx512;
    static volatile int s_threads = Math.Max(1, Environment.ProcessorCount);

    static SimdLevel Detect()
    {
        // Vector512.IsHardwareAccelerated is false where the runtime judges 512-bit code slower (or it is disabled
        // by configuration); the 256-bit path is used there.
        if (Vector512.IsHardwareAccelerated && Avx512F.IsSupported)
            return SimdLevel.Avx512;
        if (Vector256.IsHardwareAccelerated && Avx2.IsSupported && Fma.IsSupported)
            return SimdLevel.Avx2;
        return SimdLevel.Scalar;
    }

    /// <summary>The best path this machine and runtime support.</summary>
    public static SimdLevel Level => s_level;

    /// <summary>The path the kernels take now: the lower of <see cref="Level"/> and the level forced by <see cref="Force"/>.</summary>
    public static SimdLevel Active
    {
        get
        {
            SimdLevel forced = (SimdLevel)Volatile.Read(ref s_forced);
            return forced < s_level ? forced : s_level;
        }
    }

    /// <summary>
    /// Makes the kernels use at most <paramref name="level"/> (a level above <see cref="Level"/> is clamped to it)
    /// until the returned object is disposed, which restores the previous setting. The setting is process-wide:
    /// tests that force a level should not run in parallel with each other.
    /// </summary>
    /// <param name="level">The highest path the kernels may take.</param>
    /// <returns>An object whose <see cref="IDisposable.Dispose"/> restores the previous setting.</returns>
    public static IDisposable Force(SimdLevel level)
    {
        if (level < SimdLevel.Scalar || level > SimdLevel.Avx512)
            throw new ArgumentOutOfRangeException(nameof(level), level, "Unknown SIMD level.");
        int previous = Interlocked.Exchange(ref s_forced, (int)level);
        return new Restore(previous);
    }

    /// <summary>
    /// How many threads GEMM and other parallel kernels may use (at least 1). Defaults to
    /// <see cref="Environment.ProcessorCount"/>.
    /// </summary>
    public static int Threads
    {
        get => s_threads;
        set
        {
            if (value < 1)
                throw new ArgumentOutOfRangeException(nameof(value), value, "At least one thread is needed.");
            s_threads = value;
        }
    }

    sealed class Restore(int previous) : IDisposable
    {
        int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
                Volatile.Write(ref s_forced, previous);
        }
    }
}
