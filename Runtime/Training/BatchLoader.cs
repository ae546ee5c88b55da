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

    /// <summary>Copies batch <paramref name="index"/> of the epoch into the buffers and returns its size.</summary>
    public int Load(int index)
    {
        if ((uint)index >= (uint)BatchCount)
            throw new ArgumentOutOfRangeException(nameof(index), $"Batch {index} is outside 0..{BatchCount - 1}.");
        int start = index * BatchSize;
        int n = Math.Min(BatchSize, _order.Length - start);
        int sampleLength = _data.SampleLength, targetLength = _data.TargetLength;
        float[] features = _data.Features;
        int[]? labels = _data.Labels;
        float[]? targets = _data.Targets;
        for (int r = 0; r < n; r++)
        {
            int s = _order[start + r];
            Array.Copy(features, (long)s * sampleLength, _input, (long)r * sampleLength, sampleLength);
            if (labels != null) _labels[r] = labels[s];
            if (targets != null) Array.Copy(targets, (long)s * targetLength, _targets, (long)r * targetLength, targetLength);
        }
        _current = n;
        if (index + 1 < BatchCount && System.Runtime.Intrinsics.X86.Sse.IsSupported)
            Prefetch(index + 1);
        return n;
    }

    /// <summary>
    /// Asks the CPU to fetch batch <paramref name="index"/>'s feature rows (scattered over the data set, so each one a
    /// cache miss) into its caches while the step on the current batch runs; changes nothing the program can observe.
    /// </summary>
    unsafe void Prefetch(int index)
    {
        int start = index * BatchSize, n = Math.Min(BatchSize, _order.Length - start), sampleLength = _data.SampleLength;
        fixed (float* features = _data.Features)
            for (int r = 0; r < n; r++)
            {
                float* row = features + (long)_order[start + r] * sampleLength;
                for (int i = 0; i < sampleLength; i += 16)
                    System.Runtime.Intrinsics.X86.Sse.Prefetch1(row + i);
            }
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
