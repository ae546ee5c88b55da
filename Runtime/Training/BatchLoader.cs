using System;

namespace ModelGen;

/// <summary>
/// Cuts a <see cref="Dataset"/> into batches for training: a seeded Fisher–Yates permutation per epoch (a function of
/// the seed and the epoch number only, so a run resumed at epoch k sees the same order), and each batch copied into
/// one preallocated input buffer and one label (or target) buffer. The last batch holds the remainder; no sample is
/// dropped. After construction nothing is allocated.
/// </summary>
public sealed class BatchLoader
{
    readonly Dataset _data;
    readonly int[] _order;
    readonly float[] _input;
    readonly int[] _labels;
    readonly float[] _targets;
    readonly int _seed;
    readonly bool _shuffle;
    int _current;

    /// <summary>Creates a loader for batches of up to <paramref name="batchSize"/> samples.</summary>
    /// <param name="data">The samples.</param>
    /// <param name="batchSize">The batch size (at least 1); the last batch may be smaller.</param>
    /// <param name="shuffle">Whether to shuffle each epoch; otherwise batches follow the dataset order.</param>
    /// <param name="seed">The shuffling seed.</param>
    public BatchLoader(Dataset data, int batchSize, bool shuffle = true, int seed = 0)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), $"The batch size must be at least 1, not {batchSize}.");
        _data = data;
        _shuffle = shuffle;
        _seed = seed;
        BatchSize = Math.Max(1, Math.Min(batchSize, data.Count));
        BatchCount = (data.Count + BatchSize - 1) / BatchSize;
        _order = new int[data.Count];
        for (int i = 0; i < _order.Length; i++) _order[i] = i;
        _input = new float[checked(BatchSize * data.SampleLength)];
        _labels = data.Labels != null ? new int[BatchSize] : Array.Empty<int>();
        _targets = data.Targets != null ? new float[checked(BatchSize * data.TargetLength)] : Array.Empty<float>();
    }

    /// <summary>The largest batch (the requested size, or the dataset size when smaller).</summary>
    public int BatchSize { get; }

    /// <summary>Batches per epoch: ceil(count / batch size).</summary>
    public int BatchCount { get; }

    /// <summary>The number of samples in the current batch.</summary>
    public int Current => _current;

    /// <summary>The inputs of the current batch.</summary>
    public ReadOnlySpan<float> Input => _input.AsSpan(0, _current * _data.SampleLength);

    /// <summary>The labels of the current batch (empty for a regression set).</summary>
    public ReadOnlySpan<int> Labels => _labels.Length == 0 ? default : _labels.AsSpan(0, _current);

    /// <summary>The targets of the current batch (empty for a classification set).</summary>
    public ReadOnlySpan<float> Targets => _targets.Length == 0 ? default : _targets.AsSpan(0, _current * _data.TargetLength);

    /// <summary>The sample order of the current epoch.</summary>
    public ReadOnlySpan<int> Order => _order;

    /// <summary>Starts epoch <paramref name="epoch"/> (from 0): recomputes the order from the seed and the epoch.</summary>
    public void StartEpoch(int epoch)
    {
        for (int i = 0; i < _order.Length; i++) _order[i] = i;
        if (_shuffle) Shuffle(_order, _seed, epoch);
    }

    /// <summary>
    /// Copies batch <paramref name="index"/> of the epoch into the buffers and returns its size. The rows are scattered
    /// over the data set (a random 3 KB row of a 188 MB array per Fashion-MNIST sample), so the copy waits on memory,
    /// not on arithmetic: large batches are gathered by all the CPU threads (<see cref="Cpu.WorkerPool"/>), each with
    /// its own misses in flight, and each thread asks for the rows a little ahead of the one it copies. Measured in
    /// the training loop of <c>Benchmarks compare</c> (MLP, batch 64, 2 cores): 36–46 µs per batch on one thread with
    /// the next batch prefetched, 22–26 µs on two. (Prefetching the next batch during the step did not pay: issuing
    /// 3,000 prefetches takes ~20 µs on a thread, they are partly dropped, and the step evicts what they fetch.)
    /// </summary>
    public unsafe int Load(int index)
    {
        if ((uint)index >= (uint)BatchCount)
            throw new ArgumentOutOfRangeException(nameof(index), $"Batch {index} is outside 0..{BatchCount - 1}.");
        int start = index * BatchSize;
        int n = Math.Min(BatchSize, _order.Length - start);
        fixed (float* features = _data.Features)
        fixed (int* labels = _data.Labels)
        fixed (float* targets = _data.Targets)
        fixed (int* order = _order)
        fixed (float* input = _input)
        fixed (int* labelsOut = _labels)
        fixed (float* targetsOut = _targets)
        {
            var gather = new Gather
            {
                Features = features, Labels = _data.Labels != null ? labels : null, Targets = _data.Targets != null ? targets : null,
                Order = order + start, Input = input, LabelsOut = labelsOut, TargetsOut = targetsOut,
                Rows = n, SampleLength = _data.SampleLength, TargetLength = _data.TargetLength,
            };
            int threads = Cpu.CpuFeatures.Threads;
            int chunks = (n + RowsPerChunk - 1) / RowsPerChunk;
            if ((long)n * _data.SampleLength < ParallelFloats || threads == 1 || !Cpu.WorkerPool.TryRun(&GatherChunk, (nint)(&gather), chunks, threads))
                CopyRows(&gather, 0, n);
        }
        _current = n;
        return n;
    }

    /// <summary>Batches of at least this many floats (64 KB) are gathered on the worker pool.</summary>
    const int ParallelFloats = 1 << 14;

    /// <summary>Rows per work item: 4 items for a batch of 64, so that a thread the machine delays holds up few rows.</summary>
    const int RowsPerChunk = 16;

    /// <summary>How many rows ahead of the one being copied a thread asks for (a few misses in flight per thread).</summary>
    const int RowsAhead = 2;

    unsafe struct Gather
    {
        public float* Features, Targets, Input, TargetsOut;
        public int* Labels, Order, LabelsOut;
        public int Rows, SampleLength, TargetLength;
    }

    static unsafe void GatherChunk(nint context, int chunk)
    {
        var g = (Gather*)context;
        int first = chunk * RowsPerChunk;
        CopyRows(g, first, Math.Min(g->Rows, first + RowsPerChunk));
    }

    /// <summary>Copies rows <paramref name="first"/> .. <paramref name="end"/> − 1 of the batch (sample, label, target).</summary>
    static unsafe void CopyRows(Gather* g, int first, int end)
    {
        int sampleLength = g->SampleLength, targetLength = g->TargetLength;
        bool prefetch = System.Runtime.Intrinsics.X86.Sse.IsSupported;
        if (prefetch)
            for (int r = first; r < Math.Min(end, first + RowsAhead); r++)
                PrefetchRow(g->Features + (long)g->Order[r] * sampleLength, sampleLength);
        for (int r = first; r < end; r++)
        {
            if (prefetch && r + RowsAhead < end)
                PrefetchRow(g->Features + (long)g->Order[r + RowsAhead] * sampleLength, sampleLength);
            long s = g->Order[r];
            Buffer.MemoryCopy(g->Features + s * sampleLength, g->Input + (long)r * sampleLength,
                (long)sampleLength * sizeof(float), (long)sampleLength * sizeof(float));
            if (g->Labels != null) g->LabelsOut[r] = g->Labels[s];
            if (g->Targets != null)
                Buffer.MemoryCopy(g->Targets + s * targetLength, g->TargetsOut + (long)r * targetLength,
                    (long)targetLength * sizeof(float), (long)targetLength * sizeof(float));
        }
    }

    /// <summary>Asks the CPU to fetch one row into its caches; changes nothing the program can observe.</summary>
    static unsafe void PrefetchRow(float* row, int length)
    {
        for (int i = 0; i < length; i += 16)
            System.Runtime.Intrinsics.X86.Sse.Prefetch0(row + i);
    }

    /// <summary>
    /// Fisher–Yates shuffle of <paramref name="order"/> driven by SplitMix64 seeded from (<paramref name="seed"/>,
    /// <paramref name="epoch"/>): the same on every machine and .NET version.
    /// </summary>
    public static void Shuffle(Span<int> order, int seed, int epoch)
    {
        ulong state = ((ulong)(uint)seed << 32 | (uint)epoch) ^ 0x9E3779B97F4A7C15UL;
        for (int i = order.Length - 1; i > 0; i--)
        {
            // Multiply-shift maps 32 random bits onto 0..i (bias below 2^-32 · i, irrelevant for shuffling).
            int j = (int)(((NextUInt64(ref state) >> 32) * (ulong)(i + 1)) >> 32);
            (order[i], order[j]) = (order[j], order[i]);
        }
    }

    static ulong NextUInt64(ref ulong state)
    {
        ulong z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
