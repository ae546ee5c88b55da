using System;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;
using ModelGen.Cpu;

namespace ModelGen.Gpu;

// Embedding and multi-head attention on the GPU: the twins of the kernels of Runtime/Cpu/Kernels.Sequence.cs.
//
// Sequences are (batch, time, dim) row-major; head h owns features [h·dh, (h+1)·dh). The attention kernels run one
// group per (batch, head, row): the forward computes a row of scores q_i·k_jᵀ (one key per thread), the softmax of the
// row (max and sum reduced in shared memory) into the probabilities buffer (batch × heads × time × time, the CPU's
// layout, zero above the diagonal when causal) and then y_i = Σ_j p_ij·v_j with the threads laid out as
// (lane, column): adjacent threads read adjacent columns of v (coalesced) and the lanes are summed in shared memory.
// The backward products (dQ = dS·K, dK = dSᵀ·Q, dV = Pᵀ·dY) use the same row-times-matrix kernel. Every reduction is a
// deterministic tree; the embedding gradient scatters with atomic adds (its order of addition may vary).
public static partial class GpuKernels
{
    // ---------------------------------------------------------------- embedding

    /// <summary>
    /// y[r, :] = weight[ids[r], :]; ids are token ids stored as floats (the twin of <see cref="Kernels.Embedding"/>). The
    /// CPU throws on an id that is not an integer in [0, count); a kernel cannot, so such a row of y is NaN.
    /// </summary>
    /// <param name="device">The device whose stream runs the kernel.</param>
    /// <param name="ids">The token ids, one per output row.</param>
    /// <param name="weight">The table, count × dim.</param>
    /// <param name="y">The output, ids.Length × dim.</param>
    /// <param name="count">Rows of the table.</param>
    /// <param name="dim">Columns of the table.</param>
    public static void Embedding(GpuDevice device, ArrayView<float> ids, ArrayView<float> weight, ArrayView<float> y, int count, int dim)
    {
        CheckEmbedding(ids.Length, weight.Length, count, dim);
        CheckViewLength(y.Length, ids.Length * dim, nameof(y));
        long total = ids.Length * dim;
        if (total == 0) return;
        var k = device.Kernels(a => new AttentionKernels(a));
        k.Embedding(device.Stream, CheckedCount(total, nameof(y)), ids, weight, y, count, dim);
    }

    /// <summary>
    /// dWeight = Σ over rows of dy scattered into their ids' rows, overwritten: all of dWeight is cleared first, as on the
    /// CPU (the twin of <see cref="Kernels.EmbeddingBackward"/>). Rows whose id is not an integer in [0, count) are skipped
    /// (the CPU throws). The scatter uses atomic adds, so rows sharing an id add in any order.
    /// </summary>
    /// <param name="device">The device whose stream runs the kernels.</param>
    /// <param name="ids">The token ids.</param>
    /// <param name="dy">The output gradient, ids.Length × dim.</param>
    /// <param name="dWeight">The table's gradient, count × dim.</param>
    /// <param name="count">Rows of the table.</param>
    /// <param name="dim">Columns of the table.</param>
    public static void EmbeddingBackward(GpuDevice device, ArrayView<float> ids, ArrayView<float> dy, ArrayView<float> dWeight, int count, int dim)
    {
        CheckEmbedding(ids.Length, dWeight.Length, count, dim);
        CheckViewLength(dy.Length, ids.Length * dim, nameof(dy));
        if (dWeight.Length > 0) dWeight.MemSetToZero(device.Stream);
        long total = ids.Length * dim;
        if (total == 0) return;
        var k = device.Kernels(a => new AttentionKernels(a));
        k.EmbeddingBackward(device.Stream, CheckedCount(total, nameof(dy)), ids, dy, dWeight, count, dim);
    }

    // ---------------------------------------------------------------- multi-head attention

    /// <summary>
    /// Scaled dot-product attention per (batch, head) (the twin of <see cref="Kernels.Attention"/>): q, k, v, y are
    /// batch × time × dim, head h owns features [h·dh, (h+1)·dh); probabilities (batch × heads × time × time) receives
    /// softmax(q·kᵀ/√dh) (each row's maximum subtracted before the scale, as the CPU), zero above the diagonal when causal.
    /// </summary>
    /// <param name="device">The device whose stream runs the kernel.</param>
    /// <param name="q">Queries.</param>
    /// <param name="k">Keys.</param>
    /// <param name="v">Values.</param>
    /// <param name="y">The output.</param>
    /// <param name="probabilities">The attention weights, kept for the backward pass.</param>
    /// <param name="batch">The batch size.</param>
    /// <param name="time">The sequence length.</param>
    /// <param name="dim">The model width (a multiple of heads).</param>
    /// <param name="heads">The number of heads.</param>
    /// <param name="causal">Whether position i attends only to positions ≤ i.</param>
    public static void Attention(GpuDevice device, ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> y,
        ArrayView<float> probabilities, int batch, int time, int dim, int heads, bool causal)
    {
        CheckAttention(batch, time, dim, heads);
        long seq = (long)batch * time * dim;
        CheckViewLength(q.Length, seq, nameof(q));
        CheckViewLength(k.Length, seq, nameof(k));
        CheckViewLength(v.Length, seq, nameof(v));
        CheckViewLength(y.Length, seq, nameof(y));
        CheckViewLength(probabilities.Length, ModelGen.Cpu.Kernels.Elements(batch, heads, time, time), nameof(probabilities));
        if (batch == 0 || time == 0) return;
        var kernels = device.Kernels(a => new AttentionKernels(a));
        var shape = AttentionShape(device, batch, time, dim, heads, causal ? 1 : 0);
        kernels.Forward(device.Stream, shape.Config, new AttentionArgs(q, k, v, y, probabilities, shape));
    }

    /// <summary>
    /// The gradient of the attention scores (before the softmax, including the 1/√dh scale), per (batch, head):
    /// dS = P ⊙ (dY·Vᵀ − rowsum(P ⊙ dY·Vᵀ))/√dh (the twin of <see cref="Kernels.AttentionBackwardScores"/>).
    /// </summary>
    /// <param name="device">The device whose stream runs the kernel.</param>
    /// <param name="probabilities">The forward's attention weights.</param>
    /// <param name="v">The forward's values.</param>
    /// <param name="dy">The output gradient.</param>
    /// <param name="dScores">Receives dS, batch × heads × time × time.</param>
    /// <param name="batch">The batch size.</param>
    /// <param name="time">The sequence length.</param>
    /// <param name="dim">The model width.</param>
    /// <param name="heads">The number of heads.</param>
    public static void AttentionBackwardScores(GpuDevice device, ArrayView<float> probabilities, ArrayView<float> v, ArrayView<float> dy,
        ArrayView<float> dScores, int batch, int time, int dim, int heads)
    {
        CheckAttention(batch, time, dim, heads);
        long seq = (long)batch * time * dim, scores = (long)batch * heads * time * time;
        CheckViewLength(probabilities.Length, scores, nameof(probabilities));
        CheckViewLength(v.Length, seq, nameof(v));
        CheckViewLength(dy.Length, seq, nameof(dy));
        CheckViewLength(dScores.Length, scores, nameof(dScores));
        if (batch == 0 || time == 0) return;
        var kernels = device.Kernels(a => new AttentionKernels(a));
        var shape = AttentionShape(device, batch, time, dim, heads, 0);
        // A = dy (the row's query side), B = v, C = probabilities, D = dScores.
        kernels.BackwardScores(device.Stream, shape.Config, new AttentionArgs(dy, v, probabilities, dScores, default, shape));
    }

    /// <summary>dQ = dS·K per (batch, head), overwritten (the twin of <see cref="Kernels.AttentionBackwardQuery"/>).</summary>
    /// <param name="device">The device whose stream runs the kernel.</param>
    /// <param name="dScores">From <see cref="AttentionBackwardScores"/>.</param>
    /// <param name="k">The forward's keys.</param>
    /// <param name="dq">The query gradient, batch × time × dim.</param>
    /// <param name="batch">The batch size.</param>
    /// <param name="time">The sequence length.</param>
    /// <param name="dim">The model width.</param>
    /// <param name="heads">The number of heads.</param>
    public static void AttentionBackwardQuery(GpuDevice device, ArrayView<float> dScores, ArrayView<float> k, ArrayView<float> dq, int batch, int time, int dim, int heads) =>
        ScoresTimesSequence(device, dScores, k, dq, batch, time, dim, heads, false, nameof(dScores), nameof(k), nameof(dq));

    /// <summary>dK = dSᵀ·Q per (batch, head), overwritten (the twin of <see cref="Kernels.AttentionBackwardKey"/>).</summary>
    /// <param name="device">The device whose stream runs the kernel.</param>
    /// <param name="dScores">From <see cref="AttentionBackwardScores"/>.</param>
    /// <param name="q">The forward's queries.</param>
    /// <param name="dk">The key gradient, batch × time × dim.</param>
    /// <param name="batch">The batch size.</param>
    /// <param name="time">The sequence length.</param>
    /// <param name="dim">The model width.</param>
    /// <param name="heads">The number of heads.</param>
    public static void AttentionBackwardKey(GpuDevice device, ArrayView<float> dScores, ArrayView<float> q, ArrayView<float> dk, int batch, int time, int dim, int heads) =>
        ScoresTimesSequence(device, dScores, q, dk, batch, time, dim, heads, true, nameof(dScores), nameof(q), nameof(dk));

    /// <summary>dV = Pᵀ·dY per (batch, head), overwritten (the twin of <see cref="Kernels.AttentionBackwardValue"/>).</summary>
    /// <param name="device">The device whose stream runs the kernel.</param>
    /// <param name="probabilities">The forward's attention weights.</param>
    /// <param name="dy">The output gradient.</param>
    /// <param name="dv">The value gradient, batch × time × dim.</param>
    /// <param name="batch">The batch size.</param>
    /// <param name="time">The sequence length.</param>
    /// <param name="dim">The model width.</param>
    /// <param name="heads">The number of heads.</param>
    public static void AttentionBackwardValue(GpuDevice device, ArrayView<float> probabilities, ArrayView<float> dy, ArrayView<float> dv, int batch, int time, int dim, int heads) =>
        ScoresTimesSequence(device, probabilities, dy, dv, batch, time, dim, heads, true, nameof(probabilities), nameof(dy), nameof(dv));

    /// <summary>out = S·B (or Sᵀ·B when <paramref name="transpose"/>) per (batch, head), S a time × time matrix of <paramref name="scores"/>.</summary>
    static void ScoresTimesSequence(GpuDevice device, ArrayView<float> scores, ArrayView<float> b, ArrayView<float> output,
        int batch, int time, int dim, int heads, bool transpose, string scoresName, string bName, string outputName)
    {
        CheckAttention(batch, time, dim, heads);
        long seq = (long)batch * time * dim;
        CheckViewLength(scores.Length, ModelGen.Cpu.Kernels.Elements(batch, heads, time, time), scoresName);
        CheckViewLength(b.Length, seq, bName);
        CheckViewLength(output.Length, seq, outputName);
        if (batch == 0 || time == 0) return;
        var kernels = device.Kernels(a => new AttentionKernels(a));
        var shape = AttentionShape(device, batch, time, dim, heads, transpose ? 1 : 0);
        // A = scores, B = the sequence multiplied, D = the output.
        kernels.ScoresTimes(device.Stream, shape.Config, new AttentionArgs(scores, b, default, output, default, shape));
    }

    /// <summary>The launch of a row kernel of attention: one group per (batch, head, row).</summary>
    static AttentionShape AttentionShape(GpuDevice device, int batch, int time, int dim, int heads, int flag)
    {
        int dh = dim / heads;
        int threads = RowGroupSize(device, Math.Max(time, dh));
        int width = Math.Min(Math.Min(32, NextPowerOfTwo(dh)), threads);
        long groups = (long)batch * heads * time;
        if (groups > int.MaxValue) throw new ArgumentException($"batch·heads·time = {groups} is more than {int.MaxValue} groups.");
        return new AttentionShape(new KernelConfig((int)groups, threads), time, dim, heads, dh, width, flag, 1f / MathF.Sqrt(dh));
    }

    static void CheckAttention(int batch, int time, int dim, int heads)
    {
        if (batch < 0 || time < 0 || heads <= 0 || dim <= 0 || dim % heads != 0)
            throw new ArgumentException($"Need batch >= 0, time >= 0, heads > 0 and dim a positive multiple of heads (batch={batch}, time={time}, dim={dim}, heads={heads}).");
        if (ModelGen.Cpu.Kernels.Elements(batch, heads, time, time) > int.MaxValue || ModelGen.Cpu.Kernels.Elements(batch, time, dim) > int.MaxValue)
            throw new ArgumentException($"Attention of batch={batch}, time={time}, dim={dim}, heads={heads} has more than {int.MaxValue} values in a buffer.");
    }

    static void CheckEmbedding(long ids, long table, int count, int dim)
    {
        if (count <= 0 || dim <= 0) throw new ArgumentException($"Need count > 0 and dim > 0 (count={count}, dim={dim}).");
        CheckViewLength(table, (long)count * dim, "weight");
        if (ids * dim > int.MaxValue) throw new ArgumentException($"ids·dim = {ids * dim} is more than {int.MaxValue} values.");
    }
}

/// <summary>The launch and scalars of an attention row kernel (Flag: causal for the forward, transposed scores for the products).</summary>
internal readonly struct AttentionShape
{
    public readonly KernelConfig Config;
    public readonly int Time, Dim, Heads, Dh, Width, Flag;
    public readonly float Scale;

    public AttentionShape(KernelConfig config, int time, int dim, int heads, int dh, int width, int flag, float scale)
    {
        Config = config; Time = time; Dim = dim; Heads = heads; Dh = dh; Width = width; Flag = flag; Scale = scale;
    }
}

/// <summary>The arguments of an attention row kernel (A, B, C, D, E as each kernel's summary names them).</summary>
internal readonly struct AttentionArgs
{
    public readonly ArrayView<float> A, B, C, D, E;
    public readonly int Time, Dim, Heads, Dh, Width, Flag;
    public readonly float Scale;

    public AttentionArgs(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, ArrayView<float> d, ArrayView<float> e, AttentionShape shape)
    {
        A = a; B = b; C = c; D = d; E = e;
        Time = shape.Time; Dim = shape.Dim; Heads = shape.Heads; Dh = shape.Dh; Width = shape.Width; Flag = shape.Flag; Scale = shape.Scale;
    }
}

/// <summary>The embedding and attention kernels, compiled once per device.</summary>
internal sealed class AttentionKernels
{
    public readonly Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int> Embedding;
    public readonly Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int> EmbeddingBackward;
    public readonly Action<AcceleratorStream, KernelConfig, AttentionArgs> Forward;
    public readonly Action<AcceleratorStream, KernelConfig, AttentionArgs> BackwardScores;
    public readonly Action<AcceleratorStream, KernelConfig, AttentionArgs> ScoresTimes;

    public AttentionKernels(Accelerator a)
    {
        Embedding = a.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int>(EmbeddingKernel);
        EmbeddingBackward = a.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int>(EmbeddingBackwardKernel);
        Forward = a.LoadKernel<AttentionArgs>(ForwardKernel);
        BackwardScores = a.LoadKernel<AttentionArgs>(BackwardScoresKernel);
        ScoresTimes = a.LoadKernel<AttentionArgs>(ScoresTimesKernel);
    }

    /// <summary>The id of a row as an index into the table, or −1 when it is not an integer in [0, count).</summary>
    static int Id(float value, int count) => value >= 0f && value < count && value == XMath.Floor(value) ? (int)value : -1;

    static void EmbeddingKernel(Index1D i, ArrayView<float> ids, ArrayView<float> weight, ArrayView<float> y, int count, int dim)
    {
        int r = i / dim, id = Id(ids[r], count);
        y[i] = id >= 0 ? weight[(long)id * dim + (i - r * dim)] : float.NaN;
    }

    static void EmbeddingBackwardKernel(Index1D i, ArrayView<float> ids, ArrayView<float> dy, ArrayView<float> dWeight, int count, int dim)
    {
        int r = i / dim, id = Id(ids[r], count);
        if (id >= 0) Atomic.Add(ref dWeight[(long)id * dim + (i - r * dim)], dy[i]);
    }

    /// <summary>(batch, head, row) of this group.</summary>
    static void Row(AttentionArgs a, out int b, out int h, out int i)
    {
        int g = Grid.IdxX;
        i = g % a.Time;
        int bh = g / a.Time;
        h = bh % a.Heads;
        b = bh / a.Heads;
    }

    /// <summary>
    /// One group per (batch, head, query row i): A = q, B = k, C = v, D = y, E = probabilities; Flag = causal.
    /// </summary>
    static void ForwardKernel(AttentionArgs a)
    {
        var shared = SharedMemory.Allocate<float>(GpuKernels.GroupSize);
        Row(a, out int b, out int h, out int i);
        int t = Group.IdxX, threads = Group.DimX, time = a.Time, dim = a.Dim, dh = a.Dh;
        long off = (long)b * time * dim + h * dh;
        long qi = off + (long)i * dim;
        long prow = ((long)(b * a.Heads + h) * time + i) * time;
        int last = a.Flag != 0 ? i : time - 1;

        // raw scores q_i·k_j and their maximum
        float max = float.NegativeInfinity;
        for (int j = t; j <= last; j += threads)
        {
            long kj = off + (long)j * dim;
            float dot = 0f;
            for (int d = 0; d < dh; d++) dot += a.A[qi + d] * a.B[kj + d];
            a.E[prow + j] = dot;
            max = XMath.Max(max, dot);
        }
        max = GroupReduce.LaneMax(shared, max, t, 1, threads);

        // exp((s − max)·scale) and the sum
        float sum = 0f;
        for (int j = t; j <= last; j += threads)
        {
            float e = XMath.Exp((a.E[prow + j] - max) * a.Scale);
            a.E[prow + j] = e;
            sum += e;
        }
        sum = GroupReduce.LaneSum(shared, sum, t, 1, threads);
        float inv = 1f / sum;
        for (int j = t; j < time; j += threads) a.E[prow + j] = j <= last ? a.E[prow + j] * inv : 0f;
        Group.Barrier();

        // y_i = Σ_{j ≤ last} p_ij·v_j
        RowTimesMatrix(shared, a.E, prow, 1, a.C, off, dim, dh, last + 1, a.Width, a.D, qi);
    }

    /// <summary>One group per (batch, head, row i): A = dy, B = v, C = probabilities, D = dScores.</summary>
    static void BackwardScoresKernel(AttentionArgs a)
    {
        var shared = SharedMemory.Allocate<float>(GpuKernels.GroupSize);
        Row(a, out int b, out int h, out int i);
        int t = Group.IdxX, threads = Group.DimX, time = a.Time, dim = a.Dim, dh = a.Dh;
        long off = (long)b * time * dim + h * dh;
        long yi = off + (long)i * dim;
        long prow = ((long)(b * a.Heads + h) * time + i) * time;

        // g_j = dy_i·v_j (only where p_ij ≠ 0: elsewhere dS is p·(…) = 0) and Σ_j g_j·p_ij
        float dot = 0f;
        for (int j = t; j < time; j += threads)
        {
            float p = a.C[prow + j], g = 0f;
            if (p != 0f)
            {
                long vj = off + (long)j * dim;
                for (int d = 0; d < dh; d++) g += a.A[yi + d] * a.B[vj + d];
            }
            a.D[prow + j] = g;
            dot += g * p;
        }
        dot = GroupReduce.LaneSum(shared, dot, t, 1, threads);
        for (int j = t; j < time; j += threads) a.D[prow + j] = a.C[prow + j] * (a.D[prow + j] - dot) * a.Scale;
    }

    /// <summary>
    /// One group per (batch, head, row r): D[r, head] = Σ_m S(r, m)·B[m, head] with S = A's (batch, head) matrix, or its
    /// transpose when Flag is 1.
    /// </summary>
    static void ScoresTimesKernel(AttentionArgs a)
    {
        var shared = SharedMemory.Allocate<float>(GpuKernels.GroupSize);
        Row(a, out int b, out int h, out int r);
        int time = a.Time, dim = a.Dim;
        long off = (long)b * time * dim + h * a.Dh;
        long matrix = (long)(b * a.Heads + h) * time * time;
        long row = a.Flag != 0 ? matrix + r : matrix + (long)r * time;
        int stride = a.Flag != 0 ? time : 1;
        RowTimesMatrix(shared, a.A, row, stride, a.B, off, dim, a.Dh, time, a.Width, a.D, off + (long)r * dim);
    }

    /// <summary>
    /// output[at + c] = Σ_{m &lt; count} s[row + m·stride]·matrix[off + m·ld + c] for c &lt; cols, by the whole group: threads
    /// are (lane, column) with <paramref name="width"/> columns, adjacent threads read adjacent columns; the lanes are
    /// summed in shared memory. Zero entries of s are skipped (causal rows and columns).
    /// </summary>
    static void RowTimesMatrix(ArrayView<float> shared, ArrayView<float> s, long row, int stride, ArrayView<float> matrix, long off, int ld, int cols, int count,
        int width, ArrayView<float> output, long at)
    {
        int t = Group.IdxX, lanes = Group.DimX / width;
        int col = t % width, lane = t / width;
        for (int c0 = 0; c0 < cols; c0 += width)
        {
            int c = c0 + col;
            float acc = 0f;
            if (c < cols)
            {
                for (int m = lane; m < count; m += lanes)
                {
                    float w = s[row + (long)m * stride];
                    if (w != 0f) acc += w * matrix[off + (long)m * ld + c];
                }
            }
            acc = GroupReduce.LaneSum(shared, acc, t, width, lanes);
            if (c < cols && lane == 0) output[at + c] = acc;
        }
    }
}
